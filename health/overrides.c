/* overrides.c: the admin overrides file: force a PoP or one of its addresses up or down, or drain
 * a PoP over a time, checked against the PoP file. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "file.h"
#include "health.h"

#define OV_LIST_MAX      256            /* room for "fra, nyc, ..." in an error message */
#define OV_ADDR_TEXT_MAX 64             /* an address as written in a key, with the NUL */
#define OV_TIME_LEN      20             /* "YYYY-MM-DDTHH:MM:SSZ" */
#define OV_UNIX_MAX      253402300799LL /* 9999-12-31T23:59:59Z */
#define OV_SEC_PER_DAY   86400LL
#define OV_MS_PER_SEC    1000u
#define OV_READ_FIRST    4096 /* first read buffer; doubled up to HEALTH_FILE_MAX + 1 */

/* Which overrides each PoP already has, to refuse two for the same thing in linear time. */
typedef struct ov_seen {
    unsigned pop_line; /* line of the PoP-level override, 0 = none */
    uint16_t v4, v6;   /* address-level overrides, bit i = address i */
} ov_seen_t;

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t ov_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static unsigned ov_days_in_month(unsigned y, unsigned m)
{
    static const unsigned days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* n digits at s as a number, or -1. */
static int ov_digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* "YYYY-MM-DDTHH:MM:SSZ" (RFC 3339, UTC) or unix seconds. */
static int ov_time_parse(const yt_node_t *n, int64_t *out, char *err, size_t errlen)
{
    const char *s;
    if (yt_get_str(n, &s, err, errlen))
        return -EINVAL;
    size_t len = strlen(s);
    if (len > 0 && strspn(s, "0123456789") == len) {
        if (len > 12 || strtoll(s, NULL, 10) > OV_UNIX_MAX)
            goto bad;
        *out = strtoll(s, NULL, 10);
        return 0;
    }
    if (len != OV_TIME_LEN || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':' || s[19] != 'Z')
        goto bad;
    int y = ov_digits(s, 4), mo = ov_digits(s + 5, 2), d = ov_digits(s + 8, 2);
    int h = ov_digits(s + 11, 2), mi = ov_digits(s + 14, 2), se = ov_digits(s + 17, 2);
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 ||
        se > 59 || (unsigned)d > ov_days_in_month((unsigned)y, (unsigned)mo))
        goto bad;
    *out =
        ov_days_from_civil(y, (unsigned)mo, (unsigned)d) * OV_SEC_PER_DAY + h * 3600 + mi * 60 + se;
    return 0;
bad:
    return yt_fail(err, errlen, n,
                   "'%s' is not a time (expected RFC 3339 UTC such as 2026-12-01T12:00:00Z, or "
                   "unix seconds)",
                   s);
}

/* "a, b, c" into buf, cut with "..." when it does not fit. */
static void ov_list_add(char *buf, size_t len, const char *item)
{
    size_t used = strlen(buf);
    int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", item);
    if (n < 0 || (size_t)n >= len - used)
        snprintf(buf + (len > 4 ? len - 4 : 0), len > 4 ? 4 : len, "...");
}

static int ov_fail_unknown_pop(const yt_node_t *k, const pops_t *pops, const char *name, char *err,
                               size_t errlen)
{
    char list[OV_LIST_MAX] = "";
    for (size_t i = 0; i < pops->npops; i++)
        ov_list_add(list, sizeof(list), pops->pop[i].name);
    return yt_fail(err, errlen, k, "unknown PoP '%s' (PoPs: %s)", name, list);
}

/* The address text of an override key: which of the PoP's addresses it is. */
static int ov_addr_find(const yt_node_t *k, const pops_pop_t *p, const char *text,
                        health_override_t *o, char *err, size_t errlen)
{
    uint8_t a[16];
    int fam;
    if (addr_parse(text, &fam, a))
        return yt_fail(err, errlen, k, "'%s' is not an IPv4 or IPv6 address", text);
    int idx = pops_addr_index(p, fam, a);
    if (idx >= 0) {
        o->family = fam;
        o->addr_index = idx;
        return 0;
    }
    char list[OV_LIST_MAX] = "", buf[INET6_ADDRSTRLEN];
    for (size_t i = 0; i < p->n4; i++)
        ov_list_add(list, sizeof(list), inet_ntop(AF_INET, p->v4[i], buf, sizeof(buf)));
    for (size_t i = 0; i < p->n6; i++)
        ov_list_add(list, sizeof(list), inet_ntop(AF_INET6, p->v6[i], buf, sizeof(buf)));
    return yt_fail(err, errlen, k, "PoP '%s' has no address %s (its addresses: %s)", p->name, text,
                   list[0] ? list : "none");
}

/* The key: "pop" or "pop/address". Also refuses a second override of the same thing. */
static int ov_key_parse(const yt_node_t *k, const pops_t *pops, ov_seen_t *seen,
                        health_override_t *o, char *err, size_t errlen)
{
    const char *s;
    if (yt_get_str(k, &s, err, errlen))
        return -EINVAL;
    char name[POPS_NAME_MAX];
    const char *slash = strchr(s, '/');
    size_t nl = slash ? (size_t)(slash - s) : strlen(s);
    if (nl == 0)
        return yt_fail(err, errlen, k, "'%s': expected a PoP name or PoP/address", s);
    if (nl >= sizeof(name))
        return ov_fail_unknown_pop(k, pops, s, err, errlen);
    memcpy(name, s, nl);
    name[nl] = '\0';
    int idx = pops_find(pops, name);
    if (idx < 0)
        return ov_fail_unknown_pop(k, pops, name, err, errlen);
    o->pop = idx;
    o->line = k->line;
    ov_seen_t *sn = &seen[idx];
    if (!slash) {
        if (sn->pop_line)
            return yt_fail(err, errlen, k, "PoP '%s' already has an override (line %u)", name,
                           sn->pop_line);
        sn->pop_line = k->line;
        return 0;
    }
    if (strlen(slash + 1) >= OV_ADDR_TEXT_MAX)
        return yt_fail(err, errlen, k, "'%s' is not an IPv4 or IPv6 address", slash + 1);
    if (ov_addr_find(k, &pops->pop[idx], slash + 1, o, err, errlen))
        return -EINVAL;
    uint16_t *mask = o->family == AF_INET ? &sn->v4 : &sn->v6,
             bit = (uint16_t)(1u << o->addr_index);
    if (*mask & bit)
        return yt_fail(err, errlen, k, "address %s of PoP '%s' already has an override", slash + 1,
                       name);
    *mask |= bit;
    return 0;
}

/* The value: {state, reason, until, since, over}. */
static int ov_value_parse(const yt_node_t *k, const yt_node_t *v, health_override_t *o, char *err,
                          size_t errlen)
{
    static const char *const keys[] = {"state", "reason", "until", "since", "over", NULL};
    char what[POPS_NAME_MAX + OV_ADDR_TEXT_MAX + 16];
    snprintf(what, sizeof(what), "override '%s'", k->str);
    if (yt_map_check_keys(v, keys, what, err, errlen))
        return -EINVAL;
    const yt_node_t *n = yt_map_get(v, "state");
    const char *s;
    if (!n)
        return yt_fail(err, errlen, k, "%s needs state: up, down or drain", what);
    if (yt_get_str(n, &s, err, errlen))
        return -EINVAL;
    if (!strcmp(s, "up"))
        o->force = HEALTH_FORCE_UP;
    else if (!strcmp(s, "down"))
        o->force = HEALTH_FORCE_DOWN;
    else if (!strcmp(s, "drain"))
        o->force = HEALTH_FORCE_DRAIN;
    else
        return yt_fail(err, errlen, n, "'%s' is not a state (expected up, down or drain)", s);
    if (o->force == HEALTH_FORCE_DRAIN && o->family)
        return yt_fail(err, errlen, n,
                       "drain applies to a whole PoP, not to one address: drain the PoP, or take "
                       "this address out with state: down");
    if ((n = yt_map_get(v, "reason"))) {
        if (yt_get_str(n, &s, err, errlen))
            return -EINVAL;
        if (strlen(s) >= HEALTH_REASON_MAX)
            return yt_fail(err, errlen, n, "reason is longer than %d characters",
                           HEALTH_REASON_MAX - 1);
        strcpy(o->reason, s);
    }
    if ((n = yt_map_get(v, "until")) && ov_time_parse(n, &o->until, err, errlen))
        return -EINVAL;
    const yt_node_t *since = yt_map_get(v, "since"), *over = yt_map_get(v, "over");
    if (o->force != HEALTH_FORCE_DRAIN) {
        if (since || over)
            return yt_fail(err, errlen, since ? since : over, "'%s' only applies to state: drain",
                           since ? "since" : "over");
        return 0;
    }
    if (!over)
        return yt_fail(err, errlen, k, "%s: state: drain needs over: DURATION (e.g. over: 10m)",
                       what);
    uint64_t ms;
    if (yt_get_duration_ms(over, &ms, err, errlen))
        return -EINVAL;
    if (ms < OV_MS_PER_SEC)
        return yt_fail(err, errlen, over, "over must be at least 1s");
    o->over = (int64_t)(ms / OV_MS_PER_SEC);
    if (since && ov_time_parse(since, &o->since, err, errlen))
        return -EINVAL;
    if (since && o->until && o->until <= o->since)
        return yt_fail(err, errlen, yt_map_get(v, "until"), "until is not after since");
    return 0;
}

int health_overrides_parse(const yt_node_t *root, const pops_t *pops, health_overrides_t **out,
                           char *err, size_t errlen)
{
    static const char *const top[] = {"overrides", NULL};
    *out = NULL;
    const yt_node_t *list = NULL;
    if (root && !yt_is_null(root)) {
        if (yt_map_check_keys(root, top, "the overrides file", err, errlen))
            return -EINVAL;
        list = yt_map_get(root, "overrides");
    }
    if (list && yt_is_null(list))
        list = NULL;
    if (list && list->kind != YT_MAP)
        return yt_fail(
            err, errlen, list,
            "overrides must be a mapping of PoP or PoP/address -> {state: up|down|drain, "
            "...}");
    size_t n = list ? list->n : 0;
    health_overrides_t *ov = calloc(1, sizeof(*ov) + n * sizeof(health_override_t));
    ov_seen_t *seen = calloc(pops->npops ? pops->npops : 1, sizeof(*seen));
    if (!ov || !seen) {
        free(ov);
        free(seen);
        snprintf(err, errlen, "%s: out of memory", root ? root->file : "overrides");
        return -ENOMEM;
    }
    ov->o = (health_override_t *)(ov + 1);
    for (size_t i = 0; i < n; i++) {
        health_override_t *o = &ov->o[i];
        const yt_node_t *k = list->items[2 * i], *v = list->items[2 * i + 1];
        if (ov_key_parse(k, pops, seen, o, err, errlen) || ov_value_parse(k, v, o, err, errlen)) {
            free(seen);
            free(ov);
            return -EINVAL;
        }
        ov->n++;
    }
    free(seen);
    *out = ov;
    return 0;
}

/* True when the text holds no YAML content: blank lines, comments and document markers. */
static bool ov_text_blank(const char *buf, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t e = i;
        while (e < len && buf[e] != '\n')
            e++;
        size_t s = i;
        while (s < e && (buf[s] == ' ' || buf[s] == '\t' || buf[s] == '\r'))
            s++;
        bool marker = e - s >= 3 && (!strncmp(buf + s, "---", 3) || !strncmp(buf + s, "...", 3));
        if (s < e && buf[s] != '#' && !marker)
            return false;
        i = e + 1;
    }
    return true;
}

/* Read all of f into a new buffer of at most HEALTH_FILE_MAX bytes. */
static int ov_file_read(FILE *f, char **out, size_t *outlen)
{
    size_t cap = OV_READ_FIRST, len = 0;
    char *buf = NULL;
    for (;;) {
        char *nb = realloc(buf, cap);
        if (!nb) {
            free(buf);
            return -ENOMEM;
        }
        buf = nb;
        len += fread(buf + len, 1, cap - len, f);
        if (ferror(f)) {
            free(buf);
            return -EIO;
        }
        if (len < cap)
            break;
        if (cap > HEALTH_FILE_MAX) {
            free(buf);
            return -EFBIG;
        }
        cap = cap * 2 > HEALTH_FILE_MAX ? HEALTH_FILE_MAX + 1 : cap * 2;
    }
    *out = buf;
    *outlen = len;
    return 0;
}

int health_overrides_load(const char *path, const pops_t *pops, health_overrides_t **out, char *err,
                          size_t errlen)
{
    *out = NULL;
    const char *why;
    char why_buf[64];
    /* The size is bounded while reading (ov_file_read). */
    int e;
    FILE *f = file_fopen_regular(path, "rb", UINT64_MAX, NULL, &e, &why, why_buf);
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, why);
        return e;
    }
    char *buf = NULL;
    size_t len = 0;
    int rc = ov_file_read(f, &buf, &len);
    fclose(f);
    if (rc) {
        if (rc == -EFBIG)
            snprintf(err, errlen, "%s: larger than %u MiB", path, HEALTH_FILE_MAX >> 20);
        else
            snprintf(err, errlen, "%s: %s", path, strerror(-rc));
        return rc == -EFBIG ? -EINVAL : rc;
    }
    if (ov_text_blank(buf, len)) {
        free(buf);
        return health_overrides_parse(NULL, pops, out, err, errlen);
    }
    yt_doc_t *doc = NULL;
    rc = yt_doc_load_buffer_max(path, buf, len, HEALTH_FILE_NODES_MAX, &doc, err, errlen);
    free(buf);
    if (rc)
        return rc;
    rc = health_overrides_parse(yt_doc_root(doc), pops, out, err, errlen);
    yt_doc_free(doc);
    return rc;
}

void health_overrides_free(health_overrides_t *ov)
{
    free(ov); /* the entries live in the same allocation */
}
