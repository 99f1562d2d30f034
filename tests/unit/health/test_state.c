/* test_state.c: the probe state file (round trip, save, malformed input with positions) and the
 * anti-flap state machine, also across runs that write and read the file back. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "health.h"

#define ERRLEN 512

static const char *const base_doc =
    "{\"format\": \"geodns-health\", \"version\": 1, \"vantage\": \"ams\", \"time\": 1764470000,"
    " \"round_ms\": 412, \"pops\": {\"fra\": {\"state\": \"up\", \"load\": 512.5,"
    " \"load_reason\": \"\", \"addresses\": {\"127.0.1.1\": {\"state\": \"up\","
    " \"reason\": \"http 200\", \"rtt_ms\": 0.8, \"history\": \"11101\", \"ok_streak\": 3,"
    " \"probes\": 40, \"failures\": 1, \"since\": 1764469000}}}}}";

/* True when err reads "name:line:col: something". */
static bool positioned(const char *err, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(err, name, n) || err[n] != ':')
        return false;
    const char *s = err + n + 1;
    for (int field = 0; field < 2; field++) {
        if (*s < '0' || *s > '9')
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
        if (*s++ != ':')
            return false;
    }
    return *s == ' ' && s[1] != '\0';
}

static int parse_str(const char *doc, health_file_t **hf, char *err)
{
    return health_file_parse("t.json", doc, strlen(doc), hf, err, ERRLEN);
}

static char *write_mem(const health_file_t *hf, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    CHECK(f != NULL, "open_memstream");
    CHECK(health_file_write(f, hf) == 0, "write");
    fclose(f);
    return buf;
}

static health_addr_t make_addr(int family, const char *text)
{
    health_addr_t a;
    memset(&a, 0, sizeof(a));
    a.family = family;
    inet_pton(family, text, a.addr);
    a.rtt_ms = -1;
    return a;
}

static health_file_t *make_file(void)
{
    health_file_t *hf = health_file_new(2, 2);
    strcpy(hf->vantage, "ams-1.eu_west");
    hf->time = 1764470000;
    hf->round_ms = 412;
    health_pop_t *p = health_file_add_pop(hf, "fra", 2);
    p->state = HEALTH_UP;
    p->has_load = true;
    p->load = 512.5;
    p->naddrs = 2;
    p->addrs[0] = make_addr(AF_INET, "127.0.1.1");
    p->addrs[0].state = HEALTH_UP;
    strcpy(p->addrs[0].reason, "http 200");
    p->addrs[0].rtt_ms = 0.812;
    p->addrs[0].history = 0x1d; /* newest first: 10111 */
    p->addrs[0].nhistory = 5;
    p->addrs[0].ok_streak = 12;
    p->addrs[0].probes = 40;
    p->addrs[0].failures = 1;
    p->addrs[0].since = 1764469000;
    p->addrs[1] = make_addr(AF_INET6, "fd00:c0d:1::1");
    p->addrs[1].state = HEALTH_DOWN;
    /* Quotes, backslash, controls, UTF-8 and a byte that is not UTF-8. */
    strcpy(p->addrs[1].reason,
           "bad \"x\" \\ \n\t\x01 caf\xc3\xa9 \xff \xe2\x80\xa8\xef\xbb\xbf end");
    p->addrs[1].history = 0;
    p->addrs[1].nhistory = 32;
    p->addrs[1].probes = UINT64_MAX / 2;
    p->addrs[1].failures = UINT64_MAX / 2;
    p = health_file_add_pop(hf, "nyc_2-b", 0);
    p->state = HEALTH_UNKNOWN;
    p->has_load = false;
    strcpy(p->load_reason, "not JSON: /status:1:1: YAML syntax: x");
    return hf;
}

static void test_round_trip(void)
{
    health_file_t *hf = make_file(), *back = NULL;
    char err[ERRLEN] = "";
    size_t len;
    char *buf = write_mem(hf, &len);
    int rc = health_file_parse("mem.json", buf, len, &back, err, sizeof(err));
    CHECK(rc == 0, "round trip parses: %s\n%s", err, buf);
    if (rc) {
        free(buf);
        health_file_free(hf);
        return;
    }
    CHECK(back->version == HEALTH_VERSION, "version");
    CHECK(!strcmp(back->vantage, hf->vantage), "vantage %s", back->vantage);
    CHECK(back->time == hf->time && back->round_ms == hf->round_ms, "time, round_ms");
    CHECK(back->npops == 2, "npops %zu", back->npops);
    const health_pop_t *p = health_file_pop(back, "fra");
    CHECK(p && p->state == HEALTH_UP && p->has_load && p->load == 512.5, "fra state and load");
    CHECK(p && p->naddrs == 2, "fra addresses");
    if (p && p->naddrs == 2) {
        const health_addr_t *a = &p->addrs[0], *b = &p->addrs[1];
        CHECK(a->family == AF_INET && a->state == HEALTH_UP && a->history == 0x1d &&
                  a->nhistory == 5 && a->ok_streak == 12 && a->probes == 40 && a->failures == 1 &&
                  a->since == 1764469000 && !strcmp(a->reason, "http 200"),
              "v4 fields");
        CHECK(a->rtt_ms > 0.8115 && a->rtt_ms < 0.8125, "rtt %f", a->rtt_ms);
        CHECK(b->family == AF_INET6 && b->state == HEALTH_DOWN && b->nhistory == 32 &&
                  b->history == 0 && b->probes == UINT64_MAX / 2 && b->rtt_ms == -1,
              "v6 fields");
        CHECK(
            !strcmp(b->reason, "bad \"x\" \\ \n\t\x01 caf\xc3\xa9 ? \xe2\x80\xa8\xef\xbb\xbf end"),
            "escaped reason reads back (invalid byte as '?', one for one): '%s'", b->reason);
        char text[HEALTH_ADDR_STRLEN];
        CHECK(!strcmp(health_addr_format(b, text), "fd00:c0d:1::1"), "v6 text %s", text);
    }
    p = health_file_pop(back, "nyc_2-b");
    CHECK(p && p->state == HEALTH_UNKNOWN && !p->has_load && p->naddrs == 0, "nyc");
    CHECK(p && !strcmp(p->load_reason, hf->pops[1].load_reason), "load_reason");
    CHECK(health_file_pop(back, "sin") == NULL, "absent PoP");

    /* Writing what was read gives the same bytes. */
    size_t len2;
    char *buf2 = write_mem(back, &len2);
    CHECK(len == len2 && !memcmp(buf, buf2, len), "second write identical");
    free(buf2);

    /* Every prefix that cuts the closing brace is refused with a position. */
    size_t last = len;
    while (last > 0 && buf[last - 1] != '}')
        last--;
    int bad = 0;
    for (size_t cut = 0; cut + 1 < last; cut++) {
        health_file_t *t = NULL;
        err[0] = '\0';
        rc = health_file_parse("cut.json", buf, cut, &t, err, sizeof(err));
        if (rc != -EINVAL || t || !positioned(err, "cut.json")) {
            bad++;
            if (bad < 4)
                CHECK(0, "prefix %zu: rc %d err '%s'", cut, rc, err);
        }
        health_file_free(t);
    }
    CHECK(bad == 0, "%d truncated documents accepted", bad);
    free(buf);
    health_file_free(back);
    health_file_free(hf);
}

/* A writer whose stream failed as on a full disk. */
static int full_disk_writer(FILE *f, const void *ctx)
{
    (void)ctx;
    fputs("{", f);
    errno = ENOSPC;
    return -EIO;
}

static void test_save_load(const char *tmpdir)
{
    char dir[512], path[600], err[ERRLEN] = "";
    snprintf(dir, sizeof(dir), "%s/state-XXXXXX", tmpdir);
    CHECK(mkdtemp(dir) != NULL, "mkdtemp %s", dir);
    snprintf(path, sizeof(path), "%s/ams.json", dir);
    health_file_t *hf = make_file(), *back = NULL;
    CHECK(health_file_save(path, hf, err, sizeof(err)) == 0, "save: %s", err);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644, "mode 0644");
    CHECK(health_file_load(path, &back, err, sizeof(err)) == 0, "load: %s", err);
    CHECK(back && back->npops == 2, "loaded");
    health_file_free(back);
    /* Saving again replaces the file and leaves nothing else in the directory. */
    hf->time++;
    CHECK(health_file_save(path, hf, err, sizeof(err)) == 0, "save again: %s", err);
    DIR *d = opendir(dir);
    int entries = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        entries += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    if (d)
        closedir(d);
    CHECK(entries == 1, "only the state file in the directory (%d entries)", entries);
    unlink(path);
    back = NULL;
    CHECK(health_file_load(path, &back, err, sizeof(err)) == -ENOENT && !back, "missing file");
    CHECK(strstr(err, "ams.json") != NULL, "missing file named: %s", err);
    /* A write that fails (a full disk: stdio's error flag, errno ENOSPC) says why, and leaves
     * neither the file nor its temporary. */
    CHECK(health_file_replace(path, full_disk_writer, NULL, err, sizeof(err)) == -ENOSPC,
          "a full disk: -ENOSPC");
    CHECK(strstr(err, strerror(ENOSPC)) != NULL, "a full disk is named: %s", err);
    CHECK(access(path, F_OK) != 0, "nothing written on a full disk");
    snprintf(path, sizeof(path), "%s/none/ams.json", dir);
    CHECK(health_file_save(path, hf, err, sizeof(err)) == -ENOENT, "save into missing dir");
    CHECK(strstr(err, "ams.json") != NULL, "save error names the file: %s", err);
    /* A file over the limit is refused before it is parsed. */
    snprintf(path, sizeof(path), "%s/big.json", dir);
    FILE *f = fopen(path, "w");
    CHECK(f && ftruncate(fileno(f), (off_t)HEALTH_FILE_MAX + 1) == 0, "big file");
    if (f)
        fclose(f);
    CHECK(health_file_load(path, &back, err, sizeof(err)) == -EINVAL && !back, "big refused");
    CHECK(positioned(err, path) && strstr(err, "larger"), "big: %s", err);
    unlink(path);
    rmdir(dir);
    health_file_free(hf);
}

/* Replace the first occurrence of from in base_doc by to. */
static char *edit(const char *from, const char *to)
{
    const char *at = strstr(base_doc, from);
    if (!at)
        return NULL;
    size_t n = strlen(base_doc) - strlen(from) + strlen(to) + 1;
    char *s = malloc(n);
    snprintf(s, n, "%.*s%s%s", (int)(at - base_doc), base_doc, to, at + strlen(from));
    return s;
}

static void expect_bad(const char *what, const char *doc, const char *needle)
{
    health_file_t *hf = NULL;
    char err[ERRLEN] = "";
    int rc = parse_str(doc, &hf, err);
    CHECK(rc == -EINVAL && hf == NULL, "%s: rc %d (doc %s)", what, rc, doc);
    CHECK(positioned(err, "t.json"), "%s: error not positioned: '%s'", what, err);
    if (needle)
        CHECK(strstr(err, needle) != NULL, "%s: '%s' lacks '%s'", what, err, needle);
    health_file_free(hf);
}

/* A state file within HEALTH_FILE_MAX bytes whose values are more than HEALTH_FILE_NODES_MAX
 * (tiny ones under a key the reader skips) is refused before its tree grows to hundreds of MB. */
static void test_too_many_values(void)
{
    size_t n = HEALTH_FILE_NODES_MAX + 10, cap = 3 * n + 256, off = 0;
    char *doc = malloc(cap);
    CHECK(doc != NULL);
    if (!doc)
        return;
    off += (size_t)snprintf(doc, cap,
                            "{\"format\": \"geodns-health\", \"version\": 1, \"vantage\": \"v\", "
                            "\"time\": 5, \"pops\": {}, \"extra\": [");
    for (size_t i = 0; i < n; i++) {
        memcpy(doc + off, "0,", 2);
        off += 2;
    }
    memcpy(doc + off, "0]}", 4);
    off += 3;
    CHECK(off < HEALTH_FILE_MAX, "the file is within the byte bound (%zu)", off);
    health_file_t *hf = NULL;
    char err[ERRLEN] = "";
    CHECK(health_file_parse("t.json", doc, off, &hf, err, sizeof(err)) == -EINVAL && !hf,
          "refused");
    CHECK(strstr(err, "values: too large a document") != NULL && positioned(err, "t.json"),
          "said why, where: '%s'", err);
    health_file_free(hf);
    free(doc);
}

static void expect_bad_edit(const char *what, const char *from, const char *to, const char *needle)
{
    char *doc = edit(from, to);
    CHECK(doc != NULL, "%s: '%s' not in the base document", what, from);
    if (doc)
        expect_bad(what, doc, needle);
    free(doc);
}

static void test_malformed(void)
{
    health_file_t *hf = NULL;
    char err[ERRLEN];
    CHECK(parse_str(base_doc, &hf, err) == 0, "base document parses: %s", err);
    health_file_free(hf);

    expect_bad("empty", "", NULL);
    expect_bad("spaces", "   \n", NULL);
    expect_bad("open brace", "{", NULL);
    expect_bad("list", "[]", "object");
    expect_bad("number", "42", "object");
    expect_bad("null", "null", "object");
    expect_bad("garbage", "\x01\x02\x03", NULL);
    expect_bad("not UTF-8", "{\"format\": \"\xff\xfe\"}", NULL);
    expect_bad("missing format", "{\"version\": 1}", "format");
    expect_bad_edit("wrong format", "\"geodns-health\"", "\"geodns-zone\"", "format");
    expect_bad_edit("format as number", "\"geodns-health\"", "7", "format");
    expect_bad_edit("newer version", "\"version\": 1", "\"version\": 2", "newer");
    expect_bad_edit("version 0", "\"version\": 1", "\"version\": 0", "version");
    expect_bad_edit("version quoted", "\"version\": 1", "\"version\": \"1\"", "version");
    expect_bad_edit("version fraction", "\"version\": 1", "\"version\": 1.5", "version");
    expect_bad_edit("version negative", "\"version\": 1", "\"version\": -1", "version");
    expect_bad_edit("version huge", "\"version\": 1", "\"version\": 99999999999999999999",
                    "version");
    expect_bad_edit("missing version", "\"version\": 1,", "", "version");
    expect_bad_edit("empty vantage", "\"ams\"", "\"\"", "vantage");
    expect_bad_edit("vantage with space", "\"ams\"", "\"a b\"", "vantage");
    expect_bad_edit("vantage with slash", "\"ams\"", "\"../etc\"", "vantage");
    expect_bad_edit("vantage too long", "\"ams\"",
                    "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
                    "vantage");
    expect_bad_edit("vantage as number", "\"ams\"", "5", "vantage");
    expect_bad_edit("vantage as list", "\"ams\"", "[\"ams\"]", "vantage");
    expect_bad_edit("negative time", "1764470000", "-1", "time");
    expect_bad_edit("time quoted", "1764470000", "\"1764470000\"", "time");
    expect_bad_edit("time fraction", "1764470000", "1764470000.5", "time");
    expect_bad_edit("time huge", "1764470000", "1e300", "time");
    expect_bad_edit("time overflow", "1764470000", "99999999999999999999999", "time");
    expect_bad_edit("time NaN", "1764470000", "NaN", "time");
    expect_bad_edit("time .nan", "1764470000", ".nan", "time");
    expect_bad_edit("time inf", "1764470000", "Infinity", "time");
    expect_bad_edit("time hex", "1764470000", "0x10", "time");
    expect_bad_edit("time plus", "1764470000", "+5", "time");
    expect_bad_edit("time null", "1764470000", "null", "time");
    expect_bad_edit("round_ms negative", "412", "-412", "round_ms");
    expect_bad_edit("round_ms huge", "412", "4294967296", "round_ms");
    expect_bad_edit("missing pops", ", \"pops\": {\"fra\"", ", \"x\": {\"fra\"", "pops");
    expect_bad("pops as list",
               "{\"format\": \"geodns-health\", \"version\": 1, \"vantage\": \"a\", \"time\": 1,"
               " \"pops\": []}",
               "pops");
    expect_bad_edit("bad PoP name", "\"fra\"", "\"fr a\"", "PoP name");
    expect_bad_edit("long PoP name", "\"fra\"", "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
                    "PoP name");
    expect_bad_edit("PoP as list", "{\"state\": \"up\", \"load\"", "[], \"x\": {\"load\"", NULL);
    expect_bad_edit("PoP state missing", "\"state\": \"up\", \"load\"", "\"load\"", "state");
    expect_bad_edit("PoP state bad", "\"state\": \"up\", \"load\"",
                    "\"state\": \"sideways\", \"load\"", "state");
    expect_bad_edit("PoP state number", "\"state\": \"up\", \"load\"", "\"state\": 1, \"load\"",
                    "state");
    expect_bad_edit("load negative", "512.5", "-1", "load");
    expect_bad_edit("load quoted", "512.5", "\"512.5\"", "load");
    expect_bad_edit("load NaN", "512.5", "nan", "load");
    expect_bad_edit("load overflow", "512.5", "1e400", "load");
    expect_bad_edit("load too large", "512.5", "1e20", "load");
    expect_bad_edit(
        "load_reason too long", "\"load_reason\": \"\"",
        "\"load_reason\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"",
        "load_reason");
    expect_bad("addresses as list",
               "{\"format\": \"geodns-health\", \"version\": 1, \"vantage\": \"a\", \"time\": 1,"
               " \"pops\": {\"fra\": {\"state\": \"up\", \"addresses\": [\"127.0.1.1\"]}}}",
               "addresses");
    expect_bad_edit("bad address", "\"127.0.1.1\"", "\"127.0.1.256\"", "address");
    expect_bad_edit("name as address", "\"127.0.1.1\"", "\"fra.example\"", "address");
    expect_bad_edit("prefix as address", "\"127.0.1.1\"", "\"127.0.1.1/32\"",
                    "'127.0.1.1/32' is not an IPv4 or IPv6 address");
    expect_bad_edit("three-part address", "\"127.0.1.1\"", "\"127.0.1\"",
                    "'127.0.1' is not an IPv4 or IPv6 address");
    expect_bad_edit("address with a blank", "\"127.0.1.1\"", "\" 127.0.1.1\"",
                    "' 127.0.1.1' is not an IPv4 or IPv6 address");
    expect_bad_edit("empty address", "\"127.0.1.1\"", "\"\"", "'' is not an IPv4 or IPv6 address");
    expect_bad_edit("duplicate address (two spellings)", "\"127.0.1.1\": {",
                    "\"::1\": {\"state\": \"up\"}, \"0:0::1\": {", "twice");
    /* An IPv4-mapped address is IPv6, not a second spelling of the IPv4 one. */
    char *mdoc =
        edit("\"127.0.1.1\": {", "\"::ffff:127.0.1.1\": {\"state\": \"up\"}, \"127.0.1.1\": {");
    health_file_t *mapped = NULL;
    CHECK(mdoc && parse_str(mdoc, &mapped, err) == 0, "mapped and IPv4 side by side: %s", err);
    const health_pop_t *mp = mapped ? health_file_pop(mapped, "fra") : NULL;
    CHECK(mp && mp->naddrs == 2 && mp->addrs[0].family == AF_INET6 &&
              mp->addrs[0].addr[10] == 0xff && mp->addrs[1].family == AF_INET &&
              mp->addrs[1].addr[0] == 127 && mp->addrs[1].addr[4] == 0,
          "mapped address kept as IPv6");
    health_file_free(mapped);
    free(mdoc);
    expect_bad_edit("address entry not a mapping", "\"127.0.1.1\": {\"state\": \"up\",",
                    "\"127.0.1.1\": 5, \"x\": {", "mapping");
    expect_bad_edit("address state missing", "\"state\": \"up\", \"reason\"", "\"reason\"",
                    "state");
    expect_bad_edit("reason as number", "\"http 200\"", "200", "reason");
    expect_bad_edit("reason as map", "\"http 200\"", "{}", "reason");
    expect_bad_edit("rtt negative", "0.8", "-2", "rtt_ms");
    expect_bad_edit("rtt small negative", "0.8", "-0.5", "rtt_ms");
    expect_bad_edit("rtt string", "0.8", "\"fast\"", "rtt_ms");
    expect_bad_edit("history with 2", "\"11101\"", "\"11201\"", "history");
    expect_bad_edit("history as number", "\"11101\"", "11101", "history");
    expect_bad_edit("history too long", "\"11101\"", "\"111111111111111111111111111111111\"",
                    "history");
    expect_bad_edit("ok_streak negative", "\"ok_streak\": 3", "\"ok_streak\": -1", "ok_streak");
    expect_bad_edit("ok_streak huge", "\"ok_streak\": 3", "\"ok_streak\": 4294967296", "ok_streak");
    expect_bad_edit("probes fraction", "\"probes\": 40", "\"probes\": 1.5", "probes");
    expect_bad_edit("probes overflow", "\"probes\": 40", "\"probes\": 18446744073709551616",
                    "probes");
    expect_bad_edit("failures exceed probes", "\"failures\": 1", "\"failures\": 41", "failures");
    expect_bad_edit("negative since", "1764469000", "-5", "since");
    expect_bad_edit("duplicate PoP", "\"pops\": {\"fra\": {",
                    "\"pops\": {\"fra\": {\"state\": \"up\"}, \"fra\": {", "duplicate");
    expect_bad_edit("duplicate key", "\"version\": 1,", "\"version\": 1, \"version\": 1,",
                    "duplicate");
    expect_bad_edit("NUL escape", "\"http 200\"", "\"http\\u0000\"", NULL);
    expect_bad_edit("unterminated string", "\"http 200\"", "\"http 200", NULL);

    /* Deep nesting under an unknown key still hits the reader's depth bound. */
    char deep[512];
    size_t o = (size_t)snprintf(deep, sizeof(deep), "{\"x\": ");
    for (int i = 0; i < 100; i++)
        deep[o++] = '[';
    for (int i = 0; i < 100; i++)
        deep[o++] = ']';
    snprintf(deep + o, sizeof(deep) - o, "}");
    expect_bad("deep nesting", deep, "nesting");

    /* An embedded NUL byte, and a buffer over the size limit. */
    char nul[] = "{\"format\": \"geodns-health\"\0, \"version\": 1}";
    err[0] = '\0';
    hf = NULL;
    CHECK(health_file_parse("t.json", nul, sizeof(nul) - 1, &hf, err, ERRLEN) == -EINVAL && !hf,
          "NUL byte refused");
    CHECK(positioned(err, "t.json"), "NUL byte: '%s'", err);
    size_t big = (size_t)HEALTH_FILE_MAX + 1;
    char *huge = malloc(big);
    memset(huge, ' ', big);
    CHECK(health_file_parse("t.json", huge, big, &hf, err, ERRLEN) == -EINVAL && !hf,
          "over HEALTH_FILE_MAX refused");
    CHECK(positioned(err, "t.json") && strstr(err, "larger"), "size: '%s'", err);
    free(huge);

    /* More than HEALTH_ADDRS_MAX addresses, and more than POPS_MAX PoPs. */
    size_t cap = 1 << 16;
    char *doc = malloc(cap);
    o = (size_t)snprintf(doc, cap,
                         "{\"format\": \"geodns-health\", \"version\": 1, \"vantage\": \"a\","
                         " \"time\": 1, \"pops\": {\"fra\": {\"state\": \"up\", \"addresses\": {");
    for (int i = 0; i <= HEALTH_ADDRS_MAX; i++)
        o += (size_t)snprintf(doc + o, cap - o, "%s\"127.0.1.%d\": {\"state\": \"up\"}",
                              i ? ", " : "", i + 1);
    snprintf(doc + o, cap - o, "}}}}");
    expect_bad("too many addresses", doc, "addresses");
    o = (size_t)snprintf(doc, cap,
                         "{\"format\": \"geodns-health\", \"version\": 1, \"vantage\": \"a\","
                         " \"time\": 1, \"pops\": {");
    for (int i = 0; i <= POPS_MAX; i++)
        o += (size_t)snprintf(doc + o, cap - o, "%s\"p%d\": {\"state\": \"up\"}", i ? ", " : "", i);
    snprintf(doc + o, cap - o, "}}");
    expect_bad("too many PoPs", doc, "PoPs");
    free(doc);
}

static void test_lenient(void)
{
    health_file_t *hf = NULL;
    char err[ERRLEN] = "";
    /* Unknown keys at every level are ignored (newer writers); compact JSON reads too. */
    const char *doc =
        "{\"format\":\"geodns-health\",\"version\":1,\"vantage\":\"a\",\"time\":0,"
        "\"future\":{\"x\":[1,2,{\"y\":null}]},\"pops\":{\"fra\":{\"state\":\"down\","
        "\"load\":null,\"extra\":true,\"addresses\":{\"::1\":{\"state\":\"down\",\"new\":1}}},"
        "\"nyc\":{\"state\":\"unknown\"}}}";
    int rc = parse_str(doc, &hf, err);
    CHECK(rc == 0, "lenient document: %s", err);
    if (rc == 0) {
        const health_pop_t *p = health_file_pop(hf, "fra");
        CHECK(p && p->state == HEALTH_DOWN && !p->has_load && p->naddrs == 1, "fra");
        CHECK(p && p->addrs[0].family == AF_INET6 && p->addrs[0].rtt_ms == -1 &&
                  p->addrs[0].nhistory == 0,
              "defaults of an address");
        CHECK(hf->round_ms == 0 && hf->time == 0, "round_ms default");
    }
    health_file_free(hf);
}

static void test_names(void)
{
    CHECK(!strcmp(health_state_name(HEALTH_UP), "up"), "up");
    CHECK(!strcmp(health_state_name(HEALTH_DOWN), "down"), "down");
    CHECK(!strcmp(health_state_name(HEALTH_UNKNOWN), "unknown"), "unknown");
    CHECK(health_vantage_valid("ams") && health_vantage_valid("eu-west.1_b"), "valid vantages");
    CHECK(!health_vantage_valid("") && !health_vantage_valid("a/b") &&
              !health_vantage_valid("a b") && !health_vantage_valid("é") &&
              !health_vantage_valid(".ams") && !health_vantage_valid("..") &&
              !health_vantage_valid("."),
          "invalid vantages");
    char v[HEALTH_VANTAGE_MAX + 1];
    memset(v, 'a', sizeof(v));
    v[HEALTH_VANTAGE_MAX - 1] = '\0';
    CHECK(health_vantage_valid(v), "63 characters");
    v[HEALTH_VANTAGE_MAX - 1] = 'a';
    v[HEALTH_VANTAGE_MAX] = '\0';
    CHECK(!health_vantage_valid(v), "64 characters");
}

/* A file of POPS_MAX PoPs: health_file_pop finds each one by name (healthcheck looks up every PoP
 * of its PoP file in its previous state file: hashed, where it used to scan the file per PoP),
 * and no other; a duplicate PoP is refused with its position; a file built in memory (no index)
 * is scanned. */
static void test_pop_lookup(void)
{
    size_t cap = (size_t)POPS_MAX * 64 + 256, len = 0;
    char *doc = malloc(cap), err[ERRLEN] = "";
    if (!doc)
        return;
    len += (size_t)snprintf(doc + len, cap - len,
                            "{\"format\": \"geodns-health\", \"version\": 1, \"vantage\": \"a\", "
                            "\"time\": 1764470000, \"pops\": {");
    for (int i = 0; i < POPS_MAX; i++)
        len += (size_t)snprintf(doc + len, cap - len, "%s\n\"pop-%d\": {\"state\": \"%s\"}",
                                i ? "," : "", i, i % 3 ? "up" : "down");
    snprintf(doc + len, cap - len, "}}");
    health_file_t *hf = NULL;
    CHECK(parse_str(doc, &hf, err) == 0 && hf && hf->npops == POPS_MAX, "%d PoPs: %s", POPS_MAX,
          err);
    size_t found = 0;
    for (int i = 0; hf && i < POPS_MAX; i++) {
        char name[POPS_NAME_MAX];
        snprintf(name, sizeof(name), "pop-%d", i);
        const health_pop_t *p = health_file_pop(hf, name);
        found += p == &hf->pops[i] && p->state == (i % 3 ? HEALTH_UP : HEALTH_DOWN);
    }
    CHECK(found == POPS_MAX, "found %zu of %d PoPs by name", found, POPS_MAX);
    CHECK(hf && !health_file_pop(hf, "pop-1024") && !health_file_pop(hf, "pop") &&
              !health_file_pop(hf, "POP-1"),
          "absent names");
    health_file_free(hf);
    hf = make_file();
    CHECK(hf && !hf->name_index && health_file_pop(hf, hf->pops[0].name) == &hf->pops[0],
          "a file built in memory is scanned");
    health_file_free(hf);
    free(doc);
    hf = NULL;
    CHECK(parse_str("{\"format\": \"geodns-health\", \"version\": 1, \"vantage\": \"a\", "
                    "\"time\": 1,\n\"pops\": {\"fra\": {\"state\": \"up\"},\n"
                    "\"fra\": {\"state\": \"down\"}}}",
                    &hf, err) == -EINVAL &&
              !hf && strstr(err, "t.json:3:1: ") && strstr(err, "fra"),
          "a PoP listed twice: %s", err);
}

/* Each PoP's addresses are its own slice of the file's pool, as many as it lists: a PoP with 32
 * next to PoPs with none and one, all read back in order; the builder refuses past its room. */
static void test_addr_pool(void)
{
    char doc[8192], err[ERRLEN] = "";
    size_t len = (size_t)snprintf(doc, sizeof(doc),
                                  "{\"format\": \"geodns-health\", \"version\": 1, \"vantage\": "
                                  "\"a\", \"time\": 1764470000, \"pops\": {\"none\": {\"state\": "
                                  "\"up\"}, \"one\": {\"state\": \"up\", \"addresses\": "
                                  "{\"127.0.9.1\": {\"state\": \"down\"}}}, \"full\": {\"state\": "
                                  "\"up\", \"addresses\": {");
    for (int i = 0; i < HEALTH_ADDRS_MAX; i++)
        len += (size_t)snprintf(doc + len, sizeof(doc) - len,
                                "%s\"127.0.8.%d\": {\"state\": \"up\"}", i ? ", " : "", i + 1);
    snprintf(doc + len, sizeof(doc) - len, "}}}}");
    health_file_t *hf = NULL;
    CHECK(parse_str(doc, &hf, err) == 0 && hf, "pool: parses: %s", err);
    const health_pop_t *none = hf ? health_file_pop(hf, "none") : NULL,
                       *one = hf ? health_file_pop(hf, "one") : NULL,
                       *full = hf ? health_file_pop(hf, "full") : NULL;
    CHECK(none && one && full && none->naddrs == 0 && one->naddrs == 1 &&
              full->naddrs == HEALTH_ADDRS_MAX,
          "pool: 0, 1 and %d addresses", HEALTH_ADDRS_MAX);
    CHECK(hf && hf->addrs_room == 1 + HEALTH_ADDRS_MAX && hf->addrs_used == hf->addrs_room,
          "pool: room for exactly the addresses listed (%zu)", hf ? hf->addrs_room : 0);
    bool ordered = full != NULL;
    for (int i = 0; full && i < HEALTH_ADDRS_MAX; i++)
        ordered &= full->addrs[i].addr[3] == i + 1 && full->addrs[i].state == HEALTH_UP;
    CHECK(ordered && one && one->addrs[0].state == HEALTH_DOWN && one->addrs + 1 == full->addrs,
          "pool: each PoP's slice holds its own addresses, in order, next to the others");
    health_file_free(hf);

    hf = health_file_new(2, 3);
    health_pop_t *a = hf ? health_file_add_pop(hf, "a", 2) : NULL;
    CHECK(a && a->naddrs == 0 && !strcmp(a->name, "a"), "builder: a PoP with room for 2");
    CHECK(hf && !health_file_add_pop(hf, "b", 2),
          "builder: 2 more addresses than the room refused");
    health_pop_t *b = hf ? health_file_add_pop(hf, "b", 1) : NULL;
    CHECK(b && a && b->addrs == a->addrs + 2, "builder: the next PoP's slice follows");
    CHECK(hf && !health_file_add_pop(hf, "c", 0) && hf->npops == 2, "builder: a third PoP refused");
    health_file_free(hf);
    hf = health_file_new(1, 2 * HEALTH_ADDRS_MAX);
    CHECK(hf && !health_file_add_pop(hf, "d", HEALTH_ADDRS_MAX + 1) &&
              health_file_add_pop(hf, "d", HEALTH_ADDRS_MAX),
          "builder: more than %d addresses for one PoP refused", HEALTH_ADDRS_MAX);
    health_file_free(hf);
}

static pops_probe_t probe(unsigned down_after, unsigned window, unsigned up_after)
{
    pops_probe_t pr;
    memset(&pr, 0, sizeof(pr));
    pr.kind = POPS_PROBE_HTTP;
    pr.down_after = down_after;
    pr.window = window;
    pr.up_after = up_after;
    return pr;
}

/* Feed results ("1" success, "0" failure) and return the states after each as "u"/"d". */
static void run(health_addr_t *a, const pops_probe_t *pr, const char *results, char *states,
                int64_t *now)
{
    size_t i = 0;
    for (; results[i]; i++) {
        bool ok = results[i] == '1';
        health_addr_record(a, pr, ok, ok ? "http 200" : "http 503", ok ? 1.5 : 99, ++*now);
        states[i] = a->state == HEALTH_UP ? 'u' : a->state == HEALTH_DOWN ? 'd' : '?';
    }
    states[i] = '\0';
}

static void test_antiflap(void)
{
    pops_probe_t pr = probe(3, 5, 2);
    health_addr_t a = make_addr(AF_INET, "127.0.1.1");
    int64_t now = 1000;
    char st[64];

    /* A first probe decides at once, both ways. */
    CHECK(health_addr_record(&a, &pr, true, "http 200", 0.5, 100), "first success changes");
    CHECK(a.state == HEALTH_UP && a.since == 100 && a.rtt_ms == 0.5, "up at once");
    health_addr_t b = make_addr(AF_INET, "127.0.1.2");
    CHECK(health_addr_record(&b, &pr, false, "connect: refused", 0, 100), "first failure");
    CHECK(b.state == HEALTH_DOWN && b.since == 100 && b.rtt_ms == -1, "down at once");

    /* 3 failures within 5 probes: down at the third, not before. */
    run(&a, &pr, "1010100", st, &now);
    CHECK(!strcmp(st, "uuuuudd"), "3 of 5: %s", st);
    CHECK(a.since == 1006, "since at the change: %lld", (long long)a.since);
    CHECK(!strcmp(a.reason, "http 503") && a.rtt_ms == 1.5, "reason, rtt of the last success");
    /* Up again after 2 consecutive successes, and a success between resets the streak. */
    run(&a, &pr, "1011", st, &now);
    CHECK(!strcmp(st, "dddu"), "up after 2: %s", st);
    CHECK(a.ok_streak == 2 && a.probes == 12 && a.failures == 5, "counters %u %llu %llu",
          a.ok_streak, (unsigned long long)a.probes, (unsigned long long)a.failures);
    CHECK(a.nhistory == 5 && a.history == 0x0b, "history kept to the window: %u %x", a.nhistory,
          a.history);

    /* Failures that slid out of the window do not count. */
    pops_probe_t w3 = probe(2, 3, 1);
    health_addr_t c = make_addr(AF_INET, "127.0.1.3");
    run(&c, &w3, "101101101", st, &now);
    CHECK(!strcmp(st, "uuuuuuuuu"), "2 of 3 never reached: %s", st);
    run(&c, &w3, "0", st, &now);
    CHECK(!strcmp(st, "d"), "2 of 3 reached: %s", st);
    run(&c, &w3, "1", st, &now);
    CHECK(!strcmp(st, "u"), "up_after 1: %s", st);

    /* A success never takes an address down: back up after a long outage (up_after 1), the old
     * failures still in the window (3 of 5 after the second success) are not a new verdict. */
    pops_probe_t quick = probe(3, 5, 1);
    health_addr_t q = make_addr(AF_INET, "127.0.1.6");
    run(&q, &quick, "00000", st, &now);
    CHECK(q.state == HEALTH_DOWN, "down after the outage");
    run(&q, &quick, "1111", st, &now);
    CHECK(!strcmp(st, "uuuu"), "successes keep it up: %s", st);
    /* Probation: a new failure that makes down_after of the window takes it down again. */
    run(&q, &quick, "00000", st, &now);
    run(&q, &quick, "10", st, &now);
    CHECK(!strcmp(st, "ud"), "on probation, a failure reaching 3 of 5: %s", st);

    /* down_after 1 of window 1 is plain consecutive judgement. */
    pops_probe_t w1 = probe(1, 1, 1);
    health_addr_t d = make_addr(AF_INET, "127.0.1.4");
    run(&d, &w1, "10101", st, &now);
    CHECK(!strcmp(st, "ududu"), "1 of 1: %s", st);

    /* A shrinking window drops the older history; a full 32-bit window works. */
    pops_probe_t w32 = probe(32, 32, 3);
    health_addr_t e = make_addr(AF_INET, "127.0.1.5");
    run(&e, &w32, "1", st, &now);
    for (int i = 0; i < 31; i++)
        run(&e, &w32, "0", st, &now);
    CHECK(e.state == HEALTH_UP && e.nhistory == 32, "31 failures of 32 keep it up");
    run(&e, &w32, "0", st, &now);
    CHECK(e.state == HEALTH_DOWN && e.history == 0, "32 of 32 down");
    run(&e, &pr, "1", st, &now);
    CHECK(e.nhistory == 5 && e.history == 1, "window shrunk to 5: %u %x", e.nhistory, e.history);
}

/* The same sequence fed in one process and across "runs" that save and read back the file. */
static void test_antiflap_runs(void)
{
    pops_probe_t pr = probe(2, 4, 3);
    const char *results = "1101001100111101000111";
    health_addr_t mem = make_addr(AF_INET6, "::1");
    health_file_t *hf = health_file_new(1, 1);
    strcpy(hf->vantage, "v");
    health_file_add_pop(hf, "fra", 1)->naddrs = 1;
    hf->pops[0].addrs[0] = make_addr(AF_INET6, "::1");
    int64_t now = 5000;
    char want[64], got[64];
    size_t n = strlen(results);
    int changes_mem = 0, changes_file = 0;
    for (size_t i = 0; i < n; i++) {
        bool ok = results[i] == '1';
        now += 60;
        changes_mem +=
            health_addr_record(&mem, &pr, ok, ok ? "tcp connect" : "timeout", ok ? 0.25 : 0, now);
        want[i] = mem.state == HEALTH_UP ? 'u' : 'd';
        /* One cron run: read the previous file, record, write it. */
        health_addr_t *a = &hf->pops[0].addrs[0];
        changes_file +=
            health_addr_record(a, &pr, ok, ok ? "tcp connect" : "timeout", ok ? 0.25 : 0, now);
        hf->time = now;
        got[i] = a->state == HEALTH_UP ? 'u' : 'd';
        size_t len;
        char *buf = write_mem(hf, &len), err[ERRLEN] = "";
        health_file_t *next = NULL;
        CHECK(health_file_parse("run.json", buf, len, &next, err, sizeof(err)) == 0, "run %zu: %s",
              i, err);
        free(buf);
        if (!next)
            break;
        health_file_free(hf);
        hf = next;
    }
    want[n] = got[n] = '\0';
    CHECK(!strcmp(want, got), "across runs %s, in memory %s", got, want);
    CHECK(!strcmp(want, "uuuudddddddduuuudddddu"), "D-of-W and U sequence: %s", want);
    CHECK(changes_mem == changes_file && changes_mem == 5, "changes %d %d", changes_mem,
          changes_file);
    const health_addr_t *a = &hf->pops[0].addrs[0];
    CHECK(a->probes == n && a->failures == 9 && a->ok_streak == 3 && a->since == mem.since,
          "counters carried: %llu %llu %u", (unsigned long long)a->probes,
          (unsigned long long)a->failures, a->ok_streak);
    health_file_free(hf);
}

int main(int argc, char **argv)
{
    const char *tmpdir = argc > 1 ? argv[1] : "/tmp";
    test_round_trip();
    test_save_load(tmpdir);
    test_malformed();
    test_too_many_values();
    test_lenient();
    test_names();
    test_pop_lookup();
    test_addr_pool();
    test_antiflap();
    test_antiflap_runs();
    return check_report();
}
