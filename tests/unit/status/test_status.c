/* test_status.c: the metrics and status listener's pure parts: the request parser on valid and
 * malformed heads (whole and byte by byte), Prometheus text validity and label escaping, HTML and
 * JSON escaping of names from the config, PoP classes, counter sums and stable PoP slots. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "metrics.h"
#include "status_http.h"

static status_http_result_t parse(const char *s, status_http_request_t *req)
{
    return status_http_parse(s, strlen(s), req);
}

/* Fed one byte more at a time, every prefix is INCOMPLETE or the final verdict. */
static status_http_result_t parse_bytewise(const char *s)
{
    status_http_request_t req;
    size_t n = strlen(s);
    for (size_t i = 1; i <= n; i++) {
        status_http_result_t r = status_http_parse(s, i, &req);
        if (r != STATUS_HTTP_INCOMPLETE)
            return r;
    }
    return STATUS_HTTP_INCOMPLETE;
}

static void test_parse_valid(void)
{
    status_http_request_t req;
    const char *r1 = "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n";
    CHECK(parse(r1, &req) == STATUS_HTTP_DONE, "simple GET");
    CHECK(!strcmp(req.method, "GET") && !strcmp(req.path, "/metrics") && req.minor == 1,
          "method %s path %s", req.method, req.path);
    CHECK(req.head_len == strlen(r1), "head_len %zu", req.head_len);
    CHECK(parse("HEAD /status.json?x=1#f HTTP/1.0\n\n", &req) == STATUS_HTTP_DONE, "bare LF");
    CHECK(!strcmp(req.path, "/status.json") && req.minor == 0, "query cut: %s", req.path);
    CHECK(parse("GET / HTTP/1.1\r\n\r\nGARBAGE", &req) == STATUS_HTTP_DONE, "trailing bytes");
    CHECK(parse("GET / HTTP/1.1\r\nX: \t v\xc3\xa9\r\n\r\n", &req) == STATUS_HTTP_DONE,
          "tab and obs-text in a value");
    CHECK(parse_bytewise(r1) == STATUS_HTTP_DONE, "byte by byte");
    CHECK(parse("GET / HTTP/1.1\r\nHost: x\r\n", &req) == STATUS_HTTP_INCOMPLETE, "no blank");
    CHECK(parse("", &req) == STATUS_HTTP_INCOMPLETE, "empty");
    CHECK(parse("GE", &req) == STATUS_HTTP_INCOMPLETE, "partial method");
}

static void test_parse_malformed(void)
{
    static const char *const bad[] = {
        "\r\n\r\n",                                     /* no request line */
        "get / HTTP/1.1\r\n\r\n",                       /* lower-case method */
        "GETTINGS / HTTP/1.1\r\n\r\n",                  /* method too long */
        "GET metrics HTTP/1.1\r\n\r\n",                 /* not origin-form */
        "GET  / HTTP/1.1\r\n\r\n",                      /* two spaces */
        "GET / HTTP/2.0\r\n\r\n",                       /* version */
        "GET / HTTP/1.2\r\n\r\n",                       /* minor */
        "GET / HTTP/1.1 \r\n\r\n",                      /* trailing space */
        "GET /\r\n\r\n",                                /* HTTP/0.9 */
        "GET / HTTP/1.1\r\nNoColon\r\n\r\n",            /* header without colon */
        "GET / HTTP/1.1\r\n: empty\r\n\r\n",            /* empty header name */
        "GET / HTTP/1.1\r\nA B: c\r\n\r\n",             /* space in name */
        "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",    /* obs-fold */
        "GET / HTTP/1.1\r\nA: b\x01\r\n\r\n",           /* control character */
        "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",            /* lone CR */
        "GET /\x7f HTTP/1.1\r\n\r\n",                   /* DEL in the target */
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", /* a TLS hello */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        status_http_request_t req;
        CHECK(parse(bad[i], &req) == STATUS_HTTP_BAD, "bad[%zu] refused", i);
        CHECK(parse_bytewise(bad[i]) == STATUS_HTTP_BAD, "bad[%zu] refused byte by byte", i);
    }
    status_http_request_t req;
    CHECK(status_http_parse("GET / HTTP/1.1\r\nA: \0\r\n\r\n", 22, &req) == STATUS_HTTP_BAD,
          "NUL in a value");
    /* A slow-loris prefix that never ends: bounded, then refused. */
    char *big = malloc(STATUS_HTTP_HEAD_MAX + 100);
    strcpy(big, "GET / HTTP/1.1\r\n");
    size_t n = strlen(big);
    while (n + 12 < STATUS_HTTP_HEAD_MAX + 100) {
        memcpy(big + n, "X-Pad: 1234\n", 12);
        n += 12;
    }
    CHECK(status_http_parse(big, n, &req) == STATUS_HTTP_TOO_LARGE, "too many headers");
    memset(big, 'a', STATUS_HTTP_HEAD_MAX + 100);
    memcpy(big, "GET /", 5);
    CHECK(status_http_parse(big, STATUS_HTTP_HEAD_MAX + 100, &req) == STATUS_HTTP_URI_TOO_LONG,
          "a request line past the head's limit");
    /* More header lines than allowed inside the size limit: 431, as a head too large. */
    n = (size_t)sprintf(big, "GET / HTTP/1.1\r\n");
    for (int i = 0; i <= STATUS_HTTP_HEADERS_MAX; i++)
        n += (size_t)sprintf(big + n, "X-A%d: b\r\n", i);
    CHECK(n < STATUS_HTTP_HEAD_MAX && status_http_parse(big, n, &req) == STATUS_HTTP_TOO_LARGE,
          "%d header lines in %zu bytes: too large", STATUS_HTTP_HEADERS_MAX + 1, n);
    char path[STATUS_HTTP_PATH_MAX + 40];
    memset(path, 'p', sizeof(path));
    memcpy(path, "GET /", 5);
    strcpy(path + STATUS_HTTP_PATH_MAX + 10, " HTTP/1.1\r\n\r\n");
    CHECK(parse(path, &req) == STATUS_HTTP_URI_TOO_LONG, "a path past the limit");
    free(big);
}

/* A PoP file of three PoPs, one with a hostile name (the parser would refuse it; the renderers
 * must not trust that). */
static pops_t *make_pops(void)
{
    pops_t *p = calloc(1, sizeof(*p));
    p->npops = 3;
    p->pop = calloc(3, sizeof(pops_pop_t));
    strcpy(p->pop[0].name, "fra");
    p->pop[0].lat = 50.11;
    p->pop[0].lon = 8.68;
    p->pop[0].capacity = 1000;
    strcpy(p->pop[1].name, "<b>\"x\\y'&");
    p->pop[1].lat = -23.5;
    p->pop[1].lon = -46.6;
    strcpy(p->pop[2].name, "sin");
    p->pop[2].lat = 1.35;
    p->pop[2].lon = 103.8;
    p->pop[2].capacity = 1000;
    return p;
}

static void make_report(health_report_t *r)
{
    memset(r, 0, sizeof(*r));
    r->nfiles = 2;
    strcpy(r->vantage[0], "ams");
    strcpy(r->vantage[1], "sin\"v");
    r->file_time[0] = r->file_time[1] = 1700000000;
    r->mode = "probes";
    for (int i = 0; i < 3; i++) {
        r->pop[i].state = HEALTH_UP;
        r->pop[i].keep = 1;
        r->pop[i].vantage_state[0] = HEALTH_UP;
        r->pop[i].vantage_fresh[0] = r->pop[i].vantage_fresh[1] = true;
        snprintf(r->pop[i].why, sizeof(r->pop[i].why), "up <ok>");
    }
    r->pop[0].state = HEALTH_DOWN;
    r->pop[0].vantage_state[1] = HEALTH_DOWN;
    r->pop[2].has_load = true;
    r->pop[2].ratio = 0.9;
    r->pop[2].load = 900;
    r->pop[2].keep = 0.5;
}

/* Every line is a comment (# HELP / # TYPE) or name{labels} value with a valid metric name. */
static bool prom_valid(const char *text, char *why, size_t whylen)
{
    const char *line = text;
    while (*line) {
        const char *nl = strchr(line, '\n');
        if (!nl)
            return snprintf(why, whylen, "no final newline"), false;
        if (line[0] == '#') {
            if (strncmp(line, "# HELP geodnsd_", 15) && strncmp(line, "# TYPE geodnsd_", 15))
                return snprintf(why, whylen, "comment: %.60s", line), false;
        } else {
            const char *p = line;
            if (!isalpha((unsigned char)*p) && *p != '_')
                return snprintf(why, whylen, "name: %.60s", line), false;
            while (isalnum((unsigned char)*p) || *p == '_' || *p == ':')
                p++;
            if (*p == '{') {
                bool in_str = false;
                for (p++; p < nl && (in_str || *p != '}'); p++) {
                    if (*p == '\\' && in_str)
                        p++;
                    else if (*p == '"')
                        in_str = !in_str;
                }
                if (p >= nl)
                    return snprintf(why, whylen, "labels: %.60s", line), false;
                p++;
            }
            if (*p != ' ' || !(isdigit((unsigned char)p[1]) || p[1] == '-'))
                return snprintf(why, whylen, "value: %.60s", line), false;
        }
        line = nl + 1;
    }
    return true;
}

static void test_render(void)
{
    pops_t *pops = make_pops();
    static health_report_t rep;
    make_report(&rep);
    static metrics_counters_t one, sum;
    metrics_slots_t *slots = metrics_slots_new();
    uint16_t slot[3];
    metrics_slots_map(slots, pops, slot);
    CHECK(slot[0] == 1 && slot[1] == 2 && slot[2] == 3, "slots %u %u %u", slot[0], slot[1],
          slot[2]);
    metrics_inc(&one.queries[METRICS_UDP][metrics_qtype_index(1)][metrics_rcode_index(0)]);
    metrics_inc(&one.queries[METRICS_TCP][metrics_qtype_index(9999)][metrics_rcode_index(16)]);
    metrics_inc(&one.pop_answers[slot[2]]);
    metrics_counters_add(&sum, &one);
    metrics_counters_add(&sum, &one);
    metrics_facts_t f = {.version = "1<2",
                         .start_time = 1,
                         .now = 1700000001,
                         .pops = pops,
                         .report = &rep,
                         .pop_slot = slot,
                         .slots = slots,
                         .counters = &sum,
                         .config_generation = 3,
                         .reloads_ok = 2,
                         .reloads_failed = 1,
                         .last_reload_ok = 1700000000,
                         .health_generation = 4};
    metrics_buf_t b;
    metrics_buf_init(&b, 1 << 20);
    metrics_prom_render(&b, &f);
    char why[128] = "";
    CHECK(!b.overflow && prom_valid(b.data, why, sizeof(why)), "prometheus text: %s", why);
    CHECK(strstr(b.data,
                 "geodnsd_queries_total{transport=\"udp\",qtype=\"A\",rcode=\"NOERROR\"} 2\n"),
          "udp A NOERROR summed twice");
    CHECK(strstr(b.data,
                 "geodnsd_queries_total{transport=\"tcp\",qtype=\"other\",rcode=\"BADVERS\"} 2\n"),
          "other type, BADVERS");
    CHECK(strstr(b.data, "geodnsd_pop_answers_total{pop=\"sin\"} 2\n"), "answers per PoP");
    CHECK(strstr(b.data, "pop=\"<b>\\\"x\\\\y'&\""), "label escaping");
    CHECK(strstr(b.data, "geodnsd_pop_vantage_up{pop=\"fra\",vantage=\"sin\\\"v\"} 0\n"),
          "fra down per vantage sin");
    CHECK(strstr(b.data, "geodnsd_pop_up{pop=\"fra\"} 0\n"), "fra down");
    CHECK(strstr(b.data, "geodnsd_pop_load_ratio{pop=\"sin\"} 0.9\n"), "load ratio");
    CHECK(!strstr(b.data, "geodnsd_pop_load_ratio{pop=\"fra\"}"), "no load, no ratio");
    CHECK(strstr(b.data, "geodnsd_config_last_reload_success_timestamp_seconds 1700000000\n"),
          "last reload");
    CHECK(strstr(b.data, "geodnsd_config_reloads_total{result=\"failed\"} 1\n"), "failed reloads");
    metrics_buf_deinit(&b);

    metrics_buf_init(&b, 1 << 20);
    status_html_render(&b, &f);
    CHECK(!b.overflow && !strncmp(b.data, "<!DOCTYPE html>", 15), "html document");
    CHECK(strstr(b.data, "&lt;b&gt;&quot;x\\y&#39;&amp;") && !strstr(b.data, "<b>\""),
          "names are HTML-escaped");
    CHECK(strstr(b.data, "data-pop=\"fra\" data-state=\"down\"") && strstr(b.data, "#d63031"),
          "fra drawn down, red");
    CHECK(strstr(b.data, "data-pop=\"sin\" data-state=\"shedding\""), "sin shedding");
    CHECK(!strstr(b.data, "<script"), "no script");
    CHECK(!strstr(b.data, "src="), "no external resources");
    CHECK(strstr(b.data, "up &lt;ok&gt;"), "why escaped");
    metrics_buf_deinit(&b);

    metrics_buf_init(&b, 1 << 20);
    status_json_render(&b, &f);
    CHECK(!b.overflow && strstr(b.data, "\"name\": \"<b>\\\"x\\\\y'&\""), "json escaping");
    CHECK(strstr(b.data, "\"state\": \"down\""), "json state");
    metrics_buf_deinit(&b);

    /* The bound: a tiny buffer overflows and says so. */
    metrics_buf_init(&b, 256);
    status_html_render(&b, &f);
    CHECK(b.overflow && b.len < 256, "bounded: overflow at %zu", b.len);
    metrics_buf_deinit(&b);

    /* Slots are stable across "reloads" that reorder and add PoPs. */
    strcpy(pops->pop[0].name, "new");
    uint16_t slot2[3];
    metrics_slots_map(slots, pops, slot2);
    CHECK(slot2[0] == 4 && slot2[1] == slot[1] && slot2[2] == slot[2], "stable slots");
    metrics_slots_free(slots);
    free(pops->pop);
    free(pops);
}

static void test_classes(void)
{
    health_pop_report_t r = {.state = HEALTH_UP, .keep = 1};
    CHECK(status_pop_classify(&r) == STATUS_POP_UP, "up");
    r.keep = 0.5;
    CHECK(status_pop_classify(&r) == STATUS_POP_SHEDDING, "shedding");
    r.state = HEALTH_DOWN;
    CHECK(status_pop_classify(&r) == STATUS_POP_DOWN, "down");
    health_override_t o = {.force = HEALTH_FORCE_DRAIN};
    r.override = &o;
    CHECK(status_pop_classify(&r) == STATUS_POP_OVERRIDDEN, "drained");
    CHECK(!strcmp(status_pop_class_color(STATUS_POP_DOWN), "#d63031"), "red");
}

int main(void)
{
    test_parse_valid();
    test_parse_malformed();
    test_render();
    test_classes();
    return check_report();
}
