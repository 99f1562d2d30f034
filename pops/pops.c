/* pops.c: parser for the PoP file (pops with probes and capacity, pools, regions,
 * default_location) into an immutable pops_t. */
#include "pops.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "hash.h"
#include "hostport.h"

void pops_free(pops_t *pops)
{
    if (!pops)
        return;
    free(pops->pop);
    free(pops->name_index);
    free(pops->rank);
    free(pops->pool);
    free(pops->region);
    free(pops);
}

/* A value that goes into the request line or a header: no spaces or control bytes, so it can
 * neither split the request line nor start a header of its own. */
static bool header_safe(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == 0x7f)
            return false;
    return true;
}

int pops_url_split(const char *url, char *host, size_t hostlen, uint16_t *port, char *path,
                   size_t pathlen)
{
    if (strncmp(url, "http://", 7))
        return -EINVAL;
    const char *h = url + 7;
    const char *slash = strchr(h, '/');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    /* The authority as HOST:PORT (":80" added when it has no port) for hostport_parse. */
    char auth[POPS_URL_MAX + 8], name[POPS_URL_MAX];
    if (hl >= POPS_URL_MAX)
        return -EINVAL;
    bool v6 = h[0] == '[';
    const char *rb = v6 ? memchr(h, ']', hl) : NULL;
    bool has_port = v6 ? rb && rb + 1 < h + hl : memchr(h, ':', hl) != NULL;
    snprintf(auth, sizeof(auth), "%.*s%s", (int)hl, h, has_port ? "" : ":80");
    if (hostport_parse(auth, name, sizeof(name), port) || !header_safe(name))
        return -EINVAL;
    /* The host as it stands in the URL (an IPv6 address in brackets): the Host header's. */
    if (snprintf(host, hostlen, v6 ? "[%s]" : "%s", name) >= (int)hostlen)
        return -EINVAL;
    const char *pa = slash ? slash : "/";
    if (strlen(pa) >= pathlen || !header_safe(pa))
        return -EINVAL;
    strcpy(path, pa);
    return 0;
}

static bool name_eq(const void *ctx, size_t item, const void *name, size_t len)
{
    (void)len;
    return !strcmp(((const pops_t *)ctx)->pop[item].name, name);
}

/* Find name in the index: its slot (empty when absent). */
static size_t name_slot(const pops_t *pops, const char *name)
{
    return hash_index_slot(pops->name_index, pops->name_mask, hash_fnv1a32_str(name), name_eq, pops,
                           name, 0);
}

int pops_find(const pops_t *pops, const char *name)
{
    if (pops->name_index) {
        uint32_t i = pops->name_index[name_slot(pops, name)];
        return i ? (int)(i - 1) : -ENOENT;
    }
    for (size_t i = 0; i < pops->npops; i++)
        if (!strcmp(pops->pop[i].name, name))
            return (int)i;
    return -ENOENT;
}

int pops_pool_find(const pops_t *pops, const char *name)
{
    for (size_t i = 0; i < pops->npools; i++)
        if (!strcmp(pops->pool[i].name, name))
            return (int)i;
    return -ENOENT;
}

int pops_resolve_net(const pops_t *pops, const geoip_net_t *net, uint16_t *idx, char *err,
                     size_t errlen)
{
    for (size_t i = 0; i < net->npops; i++) {
        int k = pops_find(pops, net->pops[i]);
        if (k < 0) {
            snprintf(err, errlen, "%s:%u:%u: unknown PoP '%s'", net->file, net->pop_line[i],
                     net->pop_col[i], net->pops[i]);
            return -EINVAL;
        }
        idx[i] = (uint16_t)k;
    }
    return (int)net->npops;
}

/* Names: 1..31 bytes of [A-Za-z0-9_-]. */
static int get_name(const yt_node_t *n, char *out, const char *what, char *err, size_t errlen)
{
    const char *s;
    if (yt_get_str(n, &s, err, errlen))
        return -EINVAL;
    size_t len = strlen(s);
    bool ok = len > 0 && len < POPS_NAME_MAX;
    for (size_t i = 0; ok && i < len; i++)
        ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
             (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_';
    if (!ok)
        return yt_fail(err, errlen, n, "%s '%s' must be 1 to %d characters of A-Z a-z 0-9 - _",
                       what, s, POPS_NAME_MAX - 1);
    memcpy(out, s, len + 1);
    return 0;
}

int pops_code_parse(const yt_node_t *n, char out[3], const char *what, char *err, size_t errlen)
{
    const char *s;
    if (yt_get_str(n, &s, err, errlen))
        return -EINVAL;
    bool ok = strlen(s) == 2;
    for (size_t i = 0; ok && i < 2; i++)
        ok = (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z');
    if (!ok)
        return yt_fail(err, errlen, n, "%s must be a 2-letter code, not '%s'", what, s);
    for (size_t i = 0; i < 2; i++)
        out[i] = (char)(s[i] >= 'a' ? s[i] - 'a' + 'A' : s[i]);
    out[2] = '\0';
    return 0;
}

static int get_location(const yt_node_t *n, double *lat, double *lon, char *err, size_t errlen)
{
    if (n->kind != YT_SEQ || n->n != 2)
        return yt_fail(err, errlen, n, "location must be [latitude, longitude]");
    if (yt_get_double(n->items[0], -90, 90, lat, err, errlen) ||
        yt_get_double(n->items[1], -180, 180, lon, err, errlen))
        return -EINVAL;
    return 0;
}

int pops_hostname_parse(const yt_node_t *n, char *out, char *err, size_t errlen)
{
    const char *s;
    if (yt_get_str(n, &s, err, errlen))
        return -EINVAL;
    size_t len = strlen(s);
    if (len && s[len - 1] == '.')
        len--;
    bool ok = len > 0 && len <= 253;
    size_t label = 0;
    for (size_t i = 0; ok && i < len; i++) {
        char c = s[i];
        if (c == '.') {
            ok = label > 0;
            label = 0;
        } else {
            ok = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_') &&
                 ++label <= 63;
        }
    }
    if (!ok || label == 0)
        return yt_fail(err, errlen, n, "'%s' is not a valid host name", s);
    memcpy(out, s, len);
    out[len] = '.';
    out[len + 1] = '\0';
    return 0;
}

/* Watermarks: {low: 80, high: 95} in percent of capacity. */
static int parse_watermarks(const yt_node_t *n, pops_watermarks_t *wm, char *err, size_t errlen)
{
    static const char *const keys[] = {"low", "high", NULL};
    if (yt_map_check_keys(n, keys, "watermarks", err, errlen))
        return -EINVAL;
    const yt_node_t *v;
    double pct;
    if ((v = yt_map_get(n, "low"))) {
        if (yt_get_double(v, 1, 100, &pct, err, errlen))
            return -EINVAL;
        wm->low = pct / 100.0;
    }
    if ((v = yt_map_get(n, "high"))) {
        if (yt_get_double(v, 1, 100, &pct, err, errlen))
            return -EINVAL;
        wm->high = pct / 100.0;
    }
    if (wm->low >= wm->high)
        return yt_fail(err, errlen, n, "watermarks: low (%g%%) must be below high (%g%%)",
                       wm->low * 100, wm->high * 100);
    return 0;
}

static int parse_expect(const yt_node_t *n, pops_probe_t *pr, char *err, size_t errlen)
{
    size_t cnt = n->kind == YT_SEQ ? n->n : 1;
    if ((n->kind != YT_SEQ && n->kind != YT_SCALAR) || cnt == 0 || cnt > POPS_EXPECT_MAX)
        return yt_fail(err, errlen, n, "expect must be a status code or a list of 1 to %d codes",
                       POPS_EXPECT_MAX);
    pr->nexpect = 0;
    for (size_t i = 0; i < cnt; i++) {
        uint32_t code;
        if (yt_get_u32(n->kind == YT_SEQ ? n->items[i] : n, 100, 599, &code, err, errlen))
            return -EINVAL;
        pr->expect[pr->nexpect++] = (uint16_t)code;
    }
    return 0;
}

int pops_addr_index(const pops_pop_t *p, int family, const uint8_t *a)
{
    size_t n = family == AF_INET ? p->n4 : family == AF_INET6 ? p->n6 : 0;
    for (size_t j = 0; j < n; j++)
        if (!memcmp(family == AF_INET ? p->v4[j] : p->v6[j], a, family == AF_INET ? 4 : 16))
            return (int)j;
    return -1;
}

/* probe.addresses: the subset of the PoP's addresses to probe. */
static int parse_probe_addresses(const yt_node_t *n, pops_pop_t *p, char *err, size_t errlen)
{
    if (n->kind != YT_SEQ || n->n == 0)
        return yt_fail(err, errlen, n,
                       "probe addresses must be a non-empty list of the PoP's "
                       "addresses");
    p->probe.mask4 = p->probe.mask6 = 0;
    for (size_t i = 0; i < n->n; i++) {
        const char *s;
        uint8_t a[16];
        if (yt_get_str(n->items[i], &s, err, errlen))
            return -EINVAL;
        int fam;
        if (addr_parse(s, &fam, a))
            return yt_fail(err, errlen, n->items[i], "'%s' is not an IPv4 or IPv6 address", s);
        int j = pops_addr_index(p, fam, a); /* the PoP's addresses are unique */
        if (j < 0)
            return yt_fail(err, errlen, n->items[i],
                           "probe address %s is not one of PoP '%s''s addresses", s, p->name);
        *(fam == AF_INET ? &p->probe.mask4 : &p->probe.mask6) |= (uint16_t)(1u << j);
    }
    return 0;
}

/* The Host header of a URL: its host, with ":port" when the port is not 80. Returns 0, or
 * -EINVAL when it does not fit out. */
static int url_host_header(char *out, size_t n, const char *host, uint16_t port)
{
    int w =
        port != 80 ? snprintf(out, n, "%s:%u", host, (unsigned)port) : snprintf(out, n, "%s", host);
    return w < 0 || (size_t)w >= n ? -EINVAL : 0;
}

/* probe: {url: "http://host:port/path", type: http|tcp, port: N, host: H, expect: [200],
 *         body: "ok", timeout: 2s, status: /status | "http://host:port/path" | false,
 *         load_field: load.value, down_after: 3, window: 5, up_after: 2} */
static int parse_probe(const yt_node_t *n, pops_pop_t *p, char *err, size_t errlen)
{
    static const char *const keys[] = {
        "url",    "type",       "port",       "host",   "expect",   "body",      "timeout",
        "status", "load_field", "down_after", "window", "up_after", "addresses", NULL};
    pops_probe_t *pr = &p->probe;
    if (n->kind != YT_MAP)
        return yt_fail(err, errlen, n, "probe must be a mapping like {url: \"http://...\"}");
    if (yt_map_check_keys(n, keys, "probe", err, errlen))
        return -EINVAL;
    pr->kind = POPS_PROBE_HTTP;
    pr->expect[0] = 200;
    pr->nexpect = 1;
    pr->timeout_ms = 2000;
    pr->down_after = 3;
    pr->window = 5;
    pr->up_after = 2;
    snprintf(pr->load_field, sizeof(pr->load_field), "load.value");
    const yt_node_t *v;
    const char *s;
    if ((v = yt_map_get(n, "type"))) {
        if (yt_get_str(v, &s, err, errlen))
            return -EINVAL;
        if (!strcmp(s, "tcp"))
            pr->kind = POPS_PROBE_TCP;
        else if (strcmp(s, "http"))
            return yt_fail(err, errlen, v, "probe type must be http or tcp, not '%s'", s);
    }
    const yt_node_t *u = yt_map_get(n, "url");
    char urlhost[POPS_HOST_MAX] = "";
    if (u) {
        if (yt_get_str(u, &s, err, errlen))
            return -EINVAL;
        if (!strncmp(s, "https://", 8))
            return yt_fail(err, errlen, u,
                           "probe url '%s': https probes are not supported; probe the PoP's "
                           "plain-HTTP health port, or use type: tcp on port 443",
                           s);
        if (strlen(s) >= POPS_URL_MAX ||
            pops_url_split(s, urlhost, sizeof(urlhost), &pr->port, pr->path, sizeof(pr->path)) ||
            url_host_header(pr->host, sizeof(pr->host), urlhost, pr->port))
            return yt_fail(err, errlen, u,
                           "probe url '%s' must look like http://host[:port]/path (< %d bytes, "
                           "no spaces or control bytes)",
                           s, POPS_URL_MAX);
        strcpy(pr->url, s);
    } else if (pr->kind == POPS_PROBE_HTTP) {
        return yt_fail(err, errlen, n, "an http probe needs a url");
    }
    if ((v = yt_map_get(n, "port"))) {
        uint32_t port;
        if (yt_get_u32(v, 1, 65535, &port, err, errlen))
            return -EINVAL;
        pr->port = (uint16_t)port;
    }
    if (pr->kind == POPS_PROBE_TCP && !pr->port)
        return yt_fail(err, errlen, n, "a tcp probe needs a port (or a url to take it from)");
    if ((v = yt_map_get(n, "host"))) {
        if (yt_get_str(v, &s, err, errlen))
            return -EINVAL;
        if (!*s || strlen(s) >= sizeof(pr->host) || !header_safe(s))
            return yt_fail(err, errlen, v, "probe host must be a non-empty header value");
        strcpy(pr->host, s);
    }
    if ((v = yt_map_get(n, "expect")) && parse_expect(v, pr, err, errlen))
        return -EINVAL;
    if ((v = yt_map_get(n, "body"))) {
        if (yt_get_str(v, &s, err, errlen))
            return -EINVAL;
        if (strlen(s) >= sizeof(pr->body))
            return yt_fail(err, errlen, v, "probe body substring is longer than %d bytes",
                           POPS_BODY_MAX - 1);
        strcpy(pr->body, s);
    }
    if ((v = yt_map_get(n, "timeout"))) {
        uint64_t ms;
        if (yt_get_duration_ms(v, &ms, err, errlen))
            return -EINVAL;
        if (ms < 10 || ms > 60000)
            return yt_fail(err, errlen, v, "probe timeout must be between 10ms and 60s");
        pr->timeout_ms = (uint32_t)ms;
    }
    /* Load: the probe URL's /status by default (segment-edge), or a path, a URL, or false. */
    if (pr->kind == POPS_PROBE_HTTP) {
        snprintf(pr->status_path, sizeof(pr->status_path), "/status");
        pr->status_port = pr->port;
    }
    if ((v = yt_map_get(n, "status"))) {
        bool on;
        if (v->kind == YT_SCALAR && !yt_get_bool(v, &on, NULL, 0)) {
            if (on)
                return yt_fail(err, errlen, v, "status: give a path or URL, or false");
            pr->status_path[0] = '\0';
        } else {
            if (yt_get_str(v, &s, err, errlen))
                return -EINVAL;
            /* A path is read on the probe's port with the probe's Host; a URL gives the port
             * and the Host header (the connection still goes to the PoP's address). */
            char h[POPS_HOST_MAX];
            bool ok;
            if (s[0] == '/') {
                ok = strlen(s) < sizeof(pr->status_path) && header_safe(s);
                if (ok) {
                    strcpy(pr->status_path, s);
                    if (!pr->status_port)
                        pr->status_port = pr->port;
                }
            } else {
                ok = strlen(s) < POPS_URL_MAX &&
                     !pops_url_split(s, h, sizeof(h), &pr->status_port, pr->status_path,
                                     sizeof(pr->status_path)) &&
                     !url_host_header(pr->status_host, sizeof(pr->status_host), h, pr->status_port);
            }
            if (!ok)
                return yt_fail(err, errlen, v,
                               "status must be a path (/status), an http://host[:port]/path URL "
                               "or false (< %d bytes, no spaces or control bytes), not '%s'",
                               POPS_URL_MAX, s);
        }
    }
    if ((v = yt_map_get(n, "load_field"))) {
        if (yt_get_str(v, &s, err, errlen))
            return -EINVAL;
        if (!*s || strlen(s) >= sizeof(pr->load_field))
            return yt_fail(err, errlen, v, "load_field must be a dotted path like load.value");
        strcpy(pr->load_field, s);
    }
    if ((v = yt_map_get(n, "window")) && yt_get_u32(v, 1, 32, &pr->window, err, errlen))
        return -EINVAL;
    if ((v = yt_map_get(n, "down_after")) &&
        yt_get_u32(v, 1, pr->window, &pr->down_after, err, errlen))
        return -EINVAL;
    if (pr->down_after > pr->window)
        return yt_fail(err, errlen, n, "down_after (%u) cannot exceed window (%u)", pr->down_after,
                       pr->window);
    if ((v = yt_map_get(n, "up_after")) && yt_get_u32(v, 1, 32, &pr->up_after, err, errlen))
        return -EINVAL;
    pr->mask4 = (uint16_t)((1u << p->n4) - 1);
    pr->mask6 = (uint16_t)((1u << p->n6) - 1);
    if ((v = yt_map_get(n, "addresses")) && parse_probe_addresses(v, p, err, errlen))
        return -EINVAL;
    return 0;
}

/* One address of the PoP's list: at most POPS_ADDRS_MAX of a family, none twice. */
static int parse_address(const yt_node_t *item, pops_pop_t *p, char *err, size_t errlen)
{
    const char *s;
    uint8_t a[16];
    int fam;
    if (yt_get_str(item, &s, err, errlen))
        return -EINVAL;
    if (addr_parse(s, &fam, a))
        return yt_fail(err, errlen, item, "'%s' is not an IPv4 or IPv6 address", s);
    size_t *n = fam == AF_INET ? &p->n4 : &p->n6, alen = fam == AF_INET ? 4 : 16;
    if (*n == POPS_ADDRS_MAX)
        return yt_fail(err, errlen, item, "more than %d %s addresses", POPS_ADDRS_MAX,
                       fam == AF_INET ? "IPv4" : "IPv6");
    if (pops_addr_index(p, fam, a) >= 0)
        return yt_fail(err, errlen, item, "address %s is listed twice", s);
    memcpy(fam == AF_INET ? p->v4[*n] : p->v6[*n], a, alen);
    (*n)++;
    return 0;
}

static int parse_addresses(const yt_node_t *n, pops_pop_t *p, char *err, size_t errlen)
{
    if (n->kind == YT_SCALAR) /* a single address written without brackets */
        return parse_address(n, p, err, errlen);
    if (n->kind != YT_SEQ)
        return yt_fail(err, errlen, n, "addresses must be a list of IPv4/IPv6 addresses");
    for (size_t i = 0; i < n->n; i++)
        if (parse_address(n->items[i], p, err, errlen))
            return -EINVAL;
    return 0;
}

static int parse_pop(const pops_t *pops, const yt_node_t *k, const yt_node_t *v, pops_pop_t *p,
                     char *err, size_t errlen)
{
    static const char *const keys[] = {"location", "country",  "continent", "addresses",  "bias",
                                       "capacity", "hostname", "probe",     "watermarks", NULL};
    if (get_name(k, p->name, "PoP name", err, errlen))
        return -EINVAL;
    p->line = k->line;
    p->col = k->col;
    char what[64];
    snprintf(what, sizeof(what), "PoP '%s'", p->name);
    if (yt_map_check_keys(v, keys, what, err, errlen))
        return -EINVAL;
    const yt_node_t *n = yt_map_get(v, "location");
    if (!n)
        return yt_fail(err, errlen, k, "PoP '%s' needs a location: [latitude, longitude]", p->name);
    if (get_location(n, &p->lat, &p->lon, err, errlen))
        return -EINVAL;
    if ((n = yt_map_get(v, "country")) && pops_code_parse(n, p->country, "country", err, errlen))
        return -EINVAL;
    if ((n = yt_map_get(v, "continent")) &&
        pops_code_parse(n, p->continent, "continent", err, errlen))
        return -EINVAL;
    if (!p->continent[0] && p->country[0]) {
        const char *c = geoip_country_continent(p->country);
        if (c)
            memcpy(p->continent, c, 3);
    }
    if ((n = yt_map_get(v, "addresses")) && parse_addresses(n, p, err, errlen))
        return -EINVAL;
    p->factor = 1.0;
    if ((n = yt_map_get(v, "bias"))) {
        if (yt_get_double(n, -99, 99, &p->bias, err, errlen))
            return -EINVAL;
        p->factor = 1.0 - p->bias / 100.0;
    }
    if ((n = yt_map_get(v, "capacity")) && yt_get_u32(n, 1, UINT32_MAX, &p->capacity, err, errlen))
        return -EINVAL;
    p->wm = pops->wm;
    p->region = -1;
    if ((n = yt_map_get(v, "watermarks")) && parse_watermarks(n, &p->wm, err, errlen))
        return -EINVAL;
    if ((n = yt_map_get(v, "hostname")) && pops_hostname_parse(n, p->hostname, err, errlen))
        return -EINVAL;
    if ((n = yt_map_get(v, "probe")) && parse_probe(n, p, err, errlen))
        return -EINVAL;
    if (!p->n4 && !p->n6 && !p->hostname[0])
        return yt_fail(err, errlen, k, "PoP '%s' needs addresses or a hostname", p->name);
    return 0;
}

/* stamp[PoP index] == mark when that PoP is already in the list being read (one pass, no
 * comparison of every member with every other). */
static int parse_pool(const pops_t *pops, const yt_node_t *k, const yt_node_t *v, pops_pool_t *pl,
                      uint32_t *stamp, uint32_t mark, char *err, size_t errlen)
{
    if (get_name(k, pl->name, "pool name", err, errlen))
        return -EINVAL;
    if (v->kind != YT_SEQ || v->n == 0)
        return yt_fail(err, errlen, v, "pool '%s' must be a non-empty list of PoP names", pl->name);
    for (size_t i = 0; i < v->n; i++) {
        const char *s;
        if (yt_get_str(v->items[i], &s, err, errlen))
            return -EINVAL;
        int idx = pops_find(pops, s);
        if (idx < 0)
            return yt_fail(err, errlen, v->items[i], "unknown PoP '%s' in pool '%s'", s, pl->name);
        if (stamp[idx] == mark)
            return yt_fail(err, errlen, v->items[i], "PoP '%s' is listed twice in pool '%s'", s,
                           pl->name);
        stamp[idx] = mark;
        pl->idx[pl->n++] = (uint16_t)idx;
    }
    return 0;
}

/* regions: {eu: {pops: [fra, ams], capacity: 1500, watermarks: {low: 80, high: 95}}} */
static int parse_region(const pops_t *pops, const yt_node_t *k, const yt_node_t *v,
                        pops_region_t *r, uint32_t *stamp, uint32_t mark, char *err, size_t errlen)
{
    static const char *const keys[] = {"pops", "capacity", "watermarks", NULL};
    if (get_name(k, r->name, "region name", err, errlen))
        return -EINVAL;
    char what[64];
    snprintf(what, sizeof(what), "region '%s'", r->name);
    if (yt_map_check_keys(v, keys, what, err, errlen))
        return -EINVAL;
    const yt_node_t *pl = yt_map_get(v, "pops"), *c = yt_map_get(v, "capacity"), *w;
    if (!pl || !c)
        return yt_fail(err, errlen, k, "region '%s' needs pops: [...] and capacity: N", r->name);
    if (yt_get_u32(c, 1, UINT32_MAX, &r->capacity, err, errlen))
        return -EINVAL;
    r->wm = pops->wm;
    if ((w = yt_map_get(v, "watermarks")) && parse_watermarks(w, &r->wm, err, errlen))
        return -EINVAL;
    if (pl->kind != YT_SEQ || pl->n == 0)
        return yt_fail(err, errlen, pl, "region '%s': pops must be a non-empty list", r->name);
    for (size_t i = 0; i < pl->n; i++) {
        const char *s;
        if (yt_get_str(pl->items[i], &s, err, errlen))
            return -EINVAL;
        int idx = pops_find(pops, s);
        if (idx < 0)
            return yt_fail(err, errlen, pl->items[i], "unknown PoP '%s' in region '%s'", s,
                           r->name);
        if (stamp[idx] == mark)
            return yt_fail(err, errlen, pl->items[i], "PoP '%s' is listed twice in region '%s'", s,
                           r->name);
        stamp[idx] = mark;
        if (!pops->pop[idx].capacity)
            return yt_fail(err, errlen, pl->items[i],
                           "PoP '%s' in region '%s' has no capacity: give it one, so that its "
                           "load can be read in the same unit",
                           s, r->name);
        r->idx[r->n++] = (uint16_t)idx;
    }
    return 0;
}

int pops_parse(const yt_node_t *root, pops_t **out, char *err, size_t errlen)
{
    static const char *const top[] = {"pops",     "pools",   "default_location",
                                      "capacity", "regions", NULL};
    *out = NULL;
    if (!root) {
        snprintf(err, errlen, "PoP file: empty document");
        return -EINVAL;
    }
    if (yt_map_check_keys(root, top, "the PoP file", err, errlen))
        return -EINVAL;
    const yt_node_t *pn = yt_map_get(root, "pops");
    if (!pn)
        return yt_fail(err, errlen, root, "the PoP file needs a 'pops' mapping");
    if (pn->kind != YT_MAP || pn->n == 0)
        return yt_fail(err, errlen, pn, "pops must be a non-empty mapping of name -> PoP");
    if (pn->n > POPS_MAX)
        return yt_fail(err, errlen, pn, "at most %d PoPs", POPS_MAX);
    const yt_node_t *pl = yt_map_get(root, "pools");
    if (pl && pl->kind != YT_MAP && !yt_is_null(pl))
        return yt_fail(err, errlen, pl, "pools must be a mapping of name -> [PoP names]");
    size_t npools = pl && pl->kind == YT_MAP ? pl->n : 0;
    if (npools > POPS_POOLS_MAX)
        return yt_fail(err, errlen, pl, "at most %d pools", POPS_POOLS_MAX);

    uint32_t *stamp = NULL, mark = 0;
    pops_t *pops = calloc(1, sizeof(*pops));
    if (!pops)
        goto nomem;
    const yt_node_t *rg = yt_map_get(root, "regions");
    if (rg && rg->kind != YT_MAP && !yt_is_null(rg)) {
        yt_fail(err, errlen, rg, "regions must be a mapping of name -> {pops: [...], capacity: N}");
        goto fail;
    }
    size_t nregions = rg && rg->kind == YT_MAP ? rg->n : 0;
    if (nregions > POPS_REGIONS_MAX) {
        yt_fail(err, errlen, rg, "at most %d regions", POPS_REGIONS_MAX);
        goto fail;
    }
    size_t slots = hash_index_slots(pn->n);
    pops->name_index = calloc(slots, sizeof(*pops->name_index));
    pops->name_mask = slots - 1;
    stamp = calloc(pn->n, sizeof(*stamp));
    if (!pops->name_index || !stamp)
        goto nomem;
    pops->pop = calloc(pn->n, sizeof(pops_pop_t));
    pops->pool = calloc(npools ? npools : 1, sizeof(pops_pool_t));
    pops->region = calloc(nregions ? nregions : 1, sizeof(pops_region_t));
    if (!pops->pop || !pops->pool || !pops->region)
        goto nomem;
    pops->wm.low = 0.80;
    pops->wm.high = 0.95;
    const yt_node_t *cap = yt_map_get(root, "capacity");
    if (cap) {
        static const char *const ckeys[] = {"watermarks", NULL};
        const yt_node_t *w;
        if (yt_map_check_keys(cap, ckeys, "capacity", err, errlen) ||
            ((w = yt_map_get(cap, "watermarks")) && parse_watermarks(w, &pops->wm, err, errlen)))
            goto fail;
    }
    for (size_t i = 0; i < pn->n; i++) {
        if (parse_pop(pops, pn->items[2 * i], pn->items[2 * i + 1], &pops->pop[i], err, errlen))
            goto fail;
        /* yamltree rejects duplicate keys; this keeps the invariant local. */
        size_t slot = name_slot(pops, pops->pop[i].name);
        if (pops->name_index[slot]) {
            yt_fail(err, errlen, pn->items[2 * i], "PoP '%s' is defined twice", pops->pop[i].name);
            goto fail;
        }
        pops->name_index[slot] = (uint32_t)i + 1;
        pops->npops++;
    }
    for (size_t i = 0; i < npools; i++) {
        if (parse_pool(pops, pl->items[2 * i], pl->items[2 * i + 1], &pops->pool[i], stamp, ++mark,
                       err, errlen))
            goto fail;
        pops->npools++;
    }
    for (size_t i = 0; i < nregions; i++) {
        if (parse_region(pops, rg->items[2 * i], rg->items[2 * i + 1], &pops->region[i], stamp,
                         ++mark, err, errlen))
            goto fail;
        for (size_t j = 0; j < pops->region[i].n; j++) {
            pops_pop_t *p = &pops->pop[pops->region[i].idx[j]];
            if (p->region >= 0) {
                yt_fail(err, errlen, rg->items[2 * i + 1],
                        "PoP '%s' is in region '%s' and in region '%s' (a PoP belongs to one "
                        "region at most)",
                        p->name, pops->region[p->region].name, pops->region[i].name);
                goto fail;
            }
            p->region = (int)i;
        }
        pops->nregions++;
    }
    const yt_node_t *dl = yt_map_get(root, "default_location");
    if (dl) {
        if (get_location(dl, &pops->default_lat, &pops->default_lon, err, errlen))
            goto fail;
        pops->has_default_location = true;
    }
    free(stamp);
    stamp = NULL;
    if (!(pops->rank = calloc(pops->npops ? pops->npops : 1, sizeof(*pops->rank))))
        goto nomem;
    for (size_t i = 0; i < pops->npops; i++) {
        const pops_pop_t *p = &pops->pop[i];
        geoip_unit_vector(p->lat, p->lon, pops->rank[i].unit);
        pops->rank[i].factor = p->factor;
        pops->rank[i].n4 = (uint8_t)p->n4;
        pops->rank[i].n6 = (uint8_t)p->n6;
    }
    *out = pops;
    return 0;
nomem:
    free(stamp);
    pops_free(pops);
    snprintf(err, errlen, "%s: out of memory", root->file);
    return -ENOMEM;
fail:
    free(stamp);
    pops_free(pops);
    return -EINVAL;
}

int pops_load(const char *path, pops_t **out, char *err, size_t errlen)
{
    yt_doc_t *doc = NULL;
    *out = NULL;
    int rc = yt_doc_load_file(path, &doc, err, errlen);
    if (rc)
        return rc;
    rc = pops_parse(yt_doc_root(doc), out, err, errlen);
    yt_doc_free(doc);
    return rc;
}
