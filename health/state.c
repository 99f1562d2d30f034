/* state.c: the probe state file: reader (JSON through yamltree), names, and the anti-flap state
 * machine of one address. The writer is in state_write.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "file.h"
#include "hash.h"
#include "health.h"

#define STATE_TIME_MAX    253402300799LL /* 9999-12-31T23:59:59Z: later times are not real */
#define STATE_RTT_MAX     1e9            /* ms; a round trip longer than this is nonsense */
#define STATE_HISTORY_MAX 32             /* bits in health_addr_t.history */
#define STATE_READ_CHUNK  65536

/* ------------------------------------------------------------------ names */

const char *health_state_name(health_state_t s)
{
    switch (s) {
    case HEALTH_UNKNOWN:
        return "unknown";
    case HEALTH_UP:
        return "up";
    case HEALTH_DOWN:
        return "down";
    }
    return "invalid";
}

static int state_parse_name(const char *s, health_state_t *out)
{
    static const health_state_t all[] = {HEALTH_UNKNOWN, HEALTH_UP, HEALTH_DOWN};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (!strcmp(s, health_state_name(all[i]))) {
            *out = all[i];
            return 0;
        }
    }
    return -EINVAL;
}

bool health_vantage_valid(const char *name)
{
    size_t len = strlen(name);
    /* A leading dot would make the state file DIR/.NAME.json, which geodnsd skips as hidden. */
    if (len == 0 || len >= HEALTH_VANTAGE_MAX || name[0] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

/* PoP names as the PoP file allows them: 1..POPS_NAME_MAX-1 bytes of [A-Za-z0-9_-]. */
static bool state_pop_name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len >= POPS_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

const char *health_addr_format(const health_addr_t *a, char out[HEALTH_ADDR_STRLEN])
{
    if (!inet_ntop(a->family == AF_INET6 ? AF_INET6 : AF_INET, a->addr, out, HEALTH_ADDR_STRLEN))
        snprintf(out, HEALTH_ADDR_STRLEN, "?");
    return out;
}

static bool state_name_eq(const void *ctx, size_t item, const void *name, size_t len)
{
    (void)len;
    return !strcmp(((const health_file_t *)ctx)->pops[item].name, name);
}

/* The slot of name in hf's index, or the empty one where it would go. */
static size_t state_name_slot(const health_file_t *hf, const char *name)
{
    return hash_index_slot(hf->name_index, hf->name_mask, hash_fnv1a32_str(name), state_name_eq, hf,
                           name, 0);
}

const health_pop_t *health_file_pop(const health_file_t *hf, const char *name)
{
    if (hf && hf->name_index) {
        uint32_t i = hf->name_index[state_name_slot(hf, name)];
        return i ? &hf->pops[i - 1] : NULL;
    }
    for (size_t i = 0; hf && i < hf->npops; i++)
        if (!strcmp(hf->pops[i].name, name))
            return &hf->pops[i];
    return NULL;
}

void health_file_free(health_file_t *hf)
{
    if (!hf)
        return;
    free(hf->pops);
    free(hf->addr_pool);
    free(hf->name_index);
    free(hf);
}

/* Room for npops PoPs and naddrs addresses in hf (which has none yet). */
static int file_reserve(health_file_t *hf, size_t npops, size_t naddrs)
{
    hf->pops = calloc(npops ? npops : 1, sizeof(*hf->pops));
    hf->addr_pool = calloc(naddrs ? naddrs : 1, sizeof(*hf->addr_pool));
    if (!hf->pops || !hf->addr_pool)
        return -ENOMEM;
    hf->pops_room = npops;
    hf->addrs_room = naddrs;
    return 0;
}

health_file_t *health_file_new(size_t npops, size_t naddrs)
{
    health_file_t *hf = calloc(1, sizeof(*hf));
    if (!hf || file_reserve(hf, npops, naddrs)) {
        health_file_free(hf);
        return NULL;
    }
    hf->version = HEALTH_VERSION;
    return hf;
}

/* The next PoP slot of hf with naddrs addresses' room, without a name. */
static health_pop_t *file_next_pop(health_file_t *hf, size_t naddrs)
{
    if (hf->npops == hf->pops_room || naddrs > HEALTH_ADDRS_MAX ||
        naddrs > hf->addrs_room - hf->addrs_used)
        return NULL;
    health_pop_t *p = &hf->pops[hf->npops];
    p->addrs = hf->addr_pool + hf->addrs_used;
    hf->addrs_used += naddrs;
    return p;
}

health_pop_t *health_file_add_pop(health_file_t *hf, const char *name, size_t naddrs)
{
    health_pop_t *p = file_next_pop(hf, naddrs);
    if (!p)
        return NULL;
    snprintf(p->name, sizeof(p->name), "%s", name);
    hf->npops++;
    return p;
}

/* ------------------------------------------------------------------ reader */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A JSON number, written plain: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?. This refuses
 * what strtod would also take: "nan", "inf", hex, a leading '+', quoted numbers. */
static bool state_number_syntax(const yt_node_t *n, bool *integral)
{
    if (n->kind != YT_SCALAR || !n->plain)
        return false;
    const char *s = n->str;
    *integral = true;
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (is_digit(*s))
        while (is_digit(*s))
            s++;
    else
        return false;
    if (*s == '.') {
        *integral = false;
        if (!is_digit(*++s))
            return false;
        while (is_digit(*s))
            s++;
    }
    if (*s == 'e' || *s == 'E') {
        *integral = false;
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!is_digit(*s))
            return false;
        while (is_digit(*s))
            s++;
    }
    return *s == '\0';
}

static int state_get_double(const yt_node_t *n, double min, double max, double *out,
                            const char *what, char *err, size_t errlen)
{
    bool integral;
    if (!state_number_syntax(n, &integral))
        return yt_fail(err, errlen, n, "%s must be a number", what);
    errno = 0;
    double v = strtod(n->str, NULL);
    if (errno == ERANGE || !isfinite(v) || v < min || v > max)
        return yt_fail(err, errlen, n, "%s %s is out of range (%g to %g)", what, n->str, min, max);
    *out = v;
    return 0;
}

static int state_get_int(const yt_node_t *n, int64_t min, int64_t max, int64_t *out,
                         const char *what, char *err, size_t errlen)
{
    bool integral;
    if (!state_number_syntax(n, &integral) || !integral)
        return yt_fail(err, errlen, n, "%s must be a whole number", what);
    errno = 0;
    long long v = strtoll(n->str, NULL, 10);
    if (errno == ERANGE || v < min || v > max)
        return yt_fail(err, errlen, n, "%s %s is out of range (%lld to %lld)", what, n->str,
                       (long long)min, (long long)max);
    *out = v;
    return 0;
}

/* A string value that fits in size bytes with its NUL. */
static int state_get_text(const yt_node_t *n, char *out, size_t size, const char *what, char *err,
                          size_t errlen)
{
    if (n->kind != YT_SCALAR || n->plain)
        return yt_fail(err, errlen, n, "%s must be a string", what);
    if (n->len >= size)
        return yt_fail(err, errlen, n, "%s is longer than %zu bytes", what, size - 1);
    memcpy(out, n->str, n->len + 1);
    return 0;
}

static int state_get_state(const yt_node_t *n, health_state_t *out, char *err, size_t errlen)
{
    if (n->kind != YT_SCALAR || n->plain || state_parse_name(n->str, out))
        return yt_fail(err, errlen, n, "state must be \"up\", \"down\" or \"unknown\"");
    return 0;
}

static const yt_node_t *state_need(const yt_node_t *map, const char *key, int *rc, char *err,
                                   size_t errlen)
{
    const yt_node_t *v = yt_map_get(map, key);
    if (!v)
        *rc = yt_fail(err, errlen, map, "missing \"%s\"", key);
    return v;
}

static int state_parse_history(const yt_node_t *n, health_addr_t *a, char *err, size_t errlen)
{
    if (n->kind != YT_SCALAR || n->plain || n->len > STATE_HISTORY_MAX)
        return yt_fail(err, errlen, n, "history must be a string of at most %d '0' and '1'",
                       STATE_HISTORY_MAX);
    a->history = 0;
    for (size_t i = 0; i < n->len; i++) {
        if (n->str[i] != '0' && n->str[i] != '1')
            return yt_fail(err, errlen, n, "history must be a string of at most %d '0' and '1'",
                           STATE_HISTORY_MAX);
        if (n->str[i] == '1')
            a->history |= 1u << i;
    }
    a->nhistory = (uint8_t)n->len;
    return 0;
}

static int state_parse_addr(const yt_node_t *k, const yt_node_t *v, health_pop_t *p, char *err,
                            size_t errlen)
{
    health_addr_t *a = &p->addrs[p->naddrs];
    memset(a, 0, sizeof(*a));
    a->rtt_ms = -1;
    int fam;
    if (addr_parse(k->str, &fam, a->addr))
        return yt_fail(err, errlen, k, "'%s' is not an IPv4 or IPv6 address", k->str);
    a->family = fam;
    size_t alen = fam == AF_INET ? 4 : 16;
    for (size_t i = 0; i < p->naddrs; i++)
        if (p->addrs[i].family == a->family && !memcmp(p->addrs[i].addr, a->addr, alen))
            return yt_fail(err, errlen, k, "address %s is listed twice in PoP '%s'", k->str,
                           p->name);
    if (v->kind != YT_MAP)
        return yt_fail(err, errlen, v, "address %s must be a mapping", k->str);
    int rc = 0;
    const yt_node_t *n;
    int64_t i64;
    if (!(n = state_need(v, "state", &rc, err, errlen)) ||
        state_get_state(n, &a->state, err, errlen))
        return -EINVAL;
    if ((n = yt_map_get(v, "reason")) &&
        state_get_text(n, a->reason, sizeof(a->reason), "reason", err, errlen))
        return -EINVAL;
    if ((n = yt_map_get(v, "rtt_ms")) && !yt_is_null(n)) {
        if (state_get_double(n, -1, STATE_RTT_MAX, &a->rtt_ms, "rtt_ms", err, errlen))
            return -EINVAL;
        if (a->rtt_ms < 0 && a->rtt_ms != -1)
            return yt_fail(err, errlen, n, "rtt_ms must be -1 or a duration in ms");
    }
    if ((n = yt_map_get(v, "history")) && state_parse_history(n, a, err, errlen))
        return -EINVAL;
    if ((n = yt_map_get(v, "ok_streak"))) {
        if (state_get_int(n, 0, UINT32_MAX, &i64, "ok_streak", err, errlen))
            return -EINVAL;
        a->ok_streak = (uint32_t)i64;
    }
    if ((n = yt_map_get(v, "probes"))) {
        if (state_get_int(n, 0, INT64_MAX, &i64, "probes", err, errlen))
            return -EINVAL;
        a->probes = (uint64_t)i64;
    }
    if ((n = yt_map_get(v, "failures"))) {
        if (state_get_int(n, 0, INT64_MAX, &i64, "failures", err, errlen))
            return -EINVAL;
        if ((uint64_t)i64 > a->probes)
            return yt_fail(err, errlen, n, "failures (%lld) exceed probes (%llu)", (long long)i64,
                           (unsigned long long)a->probes);
        a->failures = (uint64_t)i64;
    }
    if ((n = yt_map_get(v, "since")) &&
        state_get_int(n, 0, STATE_TIME_MAX, &a->since, "since", err, errlen))
        return -EINVAL;
    p->naddrs++;
    return 0;
}

static int state_parse_pop(const yt_node_t *k, const yt_node_t *v, health_pop_t *p, char *err,
                           size_t errlen)
{
    if (!state_pop_name_valid(k->str))
        return yt_fail(err, errlen, k,
                       "PoP name '%s' must be 1 to %d characters of A-Z a-z 0-9 - _", k->str,
                       POPS_NAME_MAX - 1);
    strcpy(p->name, k->str);
    if (v->kind != YT_MAP)
        return yt_fail(err, errlen, v, "PoP '%s' must be a mapping", p->name);
    int rc = 0;
    const yt_node_t *n;
    if (!(n = state_need(v, "state", &rc, err, errlen)) ||
        state_get_state(n, &p->state, err, errlen))
        return -EINVAL;
    if ((n = yt_map_get(v, "load")) && !yt_is_null(n)) {
        if (state_get_double(n, 0, HEALTH_LOAD_MAX, &p->load, "load", err, errlen))
            return -EINVAL;
        p->has_load = true;
    }
    if ((n = yt_map_get(v, "load_reason")) &&
        state_get_text(n, p->load_reason, sizeof(p->load_reason), "load_reason", err, errlen))
        return -EINVAL;
    const yt_node_t *as = yt_map_get(v, "addresses");
    if (!as)
        return 0;
    if (as->kind != YT_MAP)
        return yt_fail(err, errlen, as, "addresses of PoP '%s' must be a mapping", p->name);
    if (as->n > HEALTH_ADDRS_MAX)
        return yt_fail(err, errlen, as, "PoP '%s' has more than %d addresses", p->name,
                       HEALTH_ADDRS_MAX);
    for (size_t i = 0; i < as->n; i++)
        if (state_parse_addr(as->items[2 * i], as->items[2 * i + 1], p, err, errlen))
            return -EINVAL;
    return 0;
}

/* The addresses a PoP's value lists, as many as it may hold. */
static size_t state_addr_room(const yt_node_t *v)
{
    const yt_node_t *as = v->kind == YT_MAP ? yt_map_get(v, "addresses") : NULL;
    if (!as || as->kind != YT_MAP)
        return 0;
    return as->n < HEALTH_ADDRS_MAX ? as->n : HEALTH_ADDRS_MAX;
}

static int state_parse_root(const yt_node_t *root, health_file_t *hf, char *err, size_t errlen)
{
    if (root->kind != YT_MAP)
        return yt_fail(err, errlen, root, "a state file is a JSON object");
    int rc = 0;
    const yt_node_t *n;
    int64_t i64;
    if (!(n = state_need(root, "format", &rc, err, errlen)))
        return rc;
    if (n->kind != YT_SCALAR || n->plain || strcmp(n->str, HEALTH_FORMAT))
        return yt_fail(err, errlen, n, "format must be \"%s\": not a health state file",
                       HEALTH_FORMAT);
    if (!(n = state_need(root, "version", &rc, err, errlen)))
        return rc;
    if (state_get_int(n, 1, INT32_MAX, &i64, "version", err, errlen))
        return -EINVAL;
    if (i64 > HEALTH_VERSION)
        return yt_fail(err, errlen, n, "version %lld is newer than this reader's (%d)",
                       (long long)i64, HEALTH_VERSION);
    hf->version = (unsigned)i64;
    if (!(n = state_need(root, "vantage", &rc, err, errlen)))
        return rc;
    if (n->kind != YT_SCALAR || n->plain || !health_vantage_valid(n->str))
        return yt_fail(
            err, errlen, n,
            "vantage must be 1 to %d characters of A-Z a-z 0-9 _ . -, not starting with '.'",
            HEALTH_VANTAGE_MAX - 1);
    strcpy(hf->vantage, n->str);
    if (!(n = state_need(root, "time", &rc, err, errlen)) ||
        state_get_int(n, 0, STATE_TIME_MAX, &hf->time, "time", err, errlen))
        return -EINVAL;
    if ((n = yt_map_get(root, "round_ms"))) {
        if (state_get_int(n, 0, UINT32_MAX, &i64, "round_ms", err, errlen))
            return -EINVAL;
        hf->round_ms = (uint32_t)i64;
    }
    const yt_node_t *ps = state_need(root, "pops", &rc, err, errlen);
    if (!ps)
        return rc;
    if (ps->kind != YT_MAP)
        return yt_fail(err, errlen, ps, "pops must be a mapping of PoP names");
    if (ps->n > POPS_MAX)
        return yt_fail(err, errlen, ps, "more than %d PoPs", POPS_MAX);
    size_t slots = hash_index_slots(ps->n);
    hf->name_index = calloc(slots, sizeof(*hf->name_index));
    hf->name_mask = slots - 1;
    if (!hf->name_index)
        return -ENOMEM;
    /* The addresses of every PoP, counted first for one allocation (a PoP listing more than
     * HEALTH_ADDRS_MAX is refused below, its room is never used). */
    size_t naddrs = 0;
    for (size_t i = 0; i < ps->n; i++)
        naddrs += state_addr_room(ps->items[2 * i + 1]);
    if (file_reserve(hf, ps->n, naddrs))
        return -ENOMEM;
    for (size_t i = 0; i < ps->n; i++) {
        const yt_node_t *v = ps->items[2 * i + 1];
        health_pop_t *p = file_next_pop(hf, state_addr_room(v));
        if (!p || state_parse_pop(ps->items[2 * i], v, p, err, errlen))
            return -EINVAL;
        /* yamltree refuses duplicate keys; this keeps the index's invariant local. */
        size_t slot = state_name_slot(hf, hf->pops[i].name);
        if (hf->name_index[slot])
            return yt_fail(err, errlen, ps->items[2 * i], "PoP '%s' is listed twice",
                           hf->pops[i].name);
        hf->name_index[slot] = (uint32_t)i + 1;
        hf->npops++;
    }
    return 0;
}

int health_file_parse(const char *name, const char *buf, size_t len, health_file_t **out, char *err,
                      size_t errlen)
{
    *out = NULL;
    if (len > HEALTH_FILE_MAX) {
        snprintf(err, errlen, "%s:1:1: larger than %u bytes", name, HEALTH_FILE_MAX);
        return -EINVAL;
    }
    yt_doc_t *doc = NULL;
    health_file_t *hf = NULL;
    int rc = yt_doc_load_buffer_max(name, buf, len, HEALTH_FILE_NODES_MAX, &doc, err, errlen);
    if (rc) {
        rc = rc == -ENOMEM ? -ENOMEM : -EINVAL;
        goto fail;
    }
    hf = calloc(1, sizeof(*hf));
    if (!hf) {
        rc = -ENOMEM;
        goto fail;
    }
    rc = state_parse_root(yt_doc_root(doc), hf, err, errlen);
    if (rc)
        goto fail;
    yt_doc_free(doc);
    *out = hf;
    return 0;
fail:
    if (rc == -ENOMEM)
        snprintf(err, errlen, "%s: out of memory", name);
    health_file_free(hf);
    yt_doc_free(doc);
    return rc;
}

int health_file_load(const char *path, health_file_t **out, char *err, size_t errlen)
{
    *out = NULL;
    const char *why;
    char why_buf[64];
    /* The size is bounded while reading below (a file may grow after it was opened). */
    int fd = file_open_regular(path, UINT64_MAX, NULL, &why, why_buf);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, why);
        return fd;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    for (;;) {
        if (len == cap) {
            /* One byte past the limit tells a too-large file from one of exactly the limit. */
            if (cap > HEALTH_FILE_MAX)
                break;
            size_t ncap = cap ? cap * 2 : STATE_READ_CHUNK;
            if (ncap > (size_t)HEALTH_FILE_MAX + 1)
                ncap = (size_t)HEALTH_FILE_MAX + 1;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                rc = -ENOMEM;
                snprintf(err, errlen, "%s: out of memory", path);
                goto fail;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            goto fail;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    rc = health_file_parse(path, buf ? buf : "", len, out, err, errlen);
fail:
    free(buf);
    close(fd);
    return rc;
}

/* ------------------------------------------------------------------ anti-flap */

static uint32_t state_mask(unsigned bits)
{
    return bits >= STATE_HISTORY_MAX ? UINT32_MAX : (1u << bits) - 1;
}

bool health_addr_record(health_addr_t *a, const pops_probe_t *pr, bool ok, const char *reason,
                        double rtt_ms, int64_t now)
{
    unsigned window = pr->window < 1                   ? 1
                      : pr->window > STATE_HISTORY_MAX ? STATE_HISTORY_MAX
                                                       : pr->window;
    unsigned down_after = pr->down_after < 1 ? 1 : pr->down_after;
    unsigned up_after = pr->up_after < 1 ? 1 : pr->up_after;
    unsigned nh = a->nhistory < window ? a->nhistory + 1u : window;
    uint32_t mask = state_mask(nh);
    a->history = ((a->history << 1) | (ok ? 1u : 0u)) & mask;
    a->nhistory = (uint8_t)nh;
    a->probes++;
    if (!ok)
        a->failures++;
    if (!ok)
        a->ok_streak = 0;
    else if (a->ok_streak < UINT32_MAX)
        a->ok_streak++;
    snprintf(a->reason, sizeof(a->reason), "%s", reason ? reason : "");
    if (ok)
        a->rtt_ms = rtt_ms;
    else if (a->rtt_ms < 0 || !isfinite(a->rtt_ms))
        a->rtt_ms = -1;

    health_state_t next = a->state;
    switch (a->state) {
    case HEALTH_UP:
        /* Only a failure can take an address down: just back up, the window may still hold the
         * outage's failures, and a success that slides one of them along is no new verdict. */
        if (!ok && (unsigned)__builtin_popcount(~a->history & mask) >= down_after)
            next = HEALTH_DOWN;
        break;
    case HEALTH_DOWN:
        if (a->ok_streak >= up_after)
            next = HEALTH_UP;
        break;
    default: /* a first probe decides at once */
        next = ok ? HEALTH_UP : HEALTH_DOWN;
        break;
    }
    if (next == a->state)
        return false;
    a->state = next;
    a->since = now;
    return true;
}
