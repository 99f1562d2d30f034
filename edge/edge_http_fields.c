/* edge_http_fields.c: values of HTTP header fields: Range, Cache-Control, HTTP dates, entity-tag
 * lists; and the strict decimal number they share. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "edge_http.h"

bool edge_u64_parse(const char *s, size_t len, uint64_t *out)
{
    if (len == 0 || len > 19) {
        return false;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

int edge_range_parse(const char *v, size_t len, uint64_t size, uint64_t *first, uint64_t *last)
{
    while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t')) {
        len--;
    }
    if (len < 7 || strncasecmp(v, "bytes=", 6) != 0) {
        return 0;
    }
    v += 6;
    len -= 6;
    while (len > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        len--;
    }
    if (memchr(v, ',', len)) {
        return 0; /* several ranges: answer the whole representation */
    }
    const char *dash = memchr(v, '-', len);
    if (!dash) {
        return 0;
    }
    size_t al = (size_t)(dash - v);
    size_t bl = len - al - 1;
    uint64_t a = 0;
    uint64_t b = 0;
    if (al == 0) {
        /* Suffix range: the last b bytes. */
        if (!edge_u64_parse(dash + 1, bl, &b)) {
            return 0;
        }
        if (b == 0 || size == 0) {
            return -1;
        }
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return 1;
    }
    if (!edge_u64_parse(v, al, &a)) {
        return 0;
    }
    if (bl == 0) {
        b = UINT64_MAX;
    } else if (!edge_u64_parse(dash + 1, bl, &b) || b < a) {
        return 0;
    }
    if (a >= size) {
        return -1;
    }
    *first = a;
    *last = b >= size ? size - 1 : b;
    return 1;
}

static int64_t cc_number(const char *s, size_t len)
{
    if (len >= 2 && s[0] == '"' && s[len - 1] == '"') {
        s++;
        len -= 2;
    }
    uint64_t v = 0;
    if (!edge_u64_parse(s, len, &v)) {
        return -1;
    }
    return v > (uint64_t)INT32_MAX ? INT32_MAX : (int64_t)v;
}

void edge_cc_parse(const char *v, size_t len, edge_cc_t *cc)
{
    memset(cc, 0, sizeof(*cc));
    cc->max_age = cc->s_maxage = cc->swr = cc->sie = -1;
    size_t i = 0;
    while (i < len) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) {
            i++;
        }
        size_t s = i;
        while (i < len && v[i] != ',') {
            i++;
        }
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t')) {
            e--;
        }
        if (e == s) {
            continue;
        }
        const char *d = v + s;
        size_t dl = e - s;
        const char *eq = memchr(d, '=', dl);
        size_t nl = eq ? (size_t)(eq - d) : dl;
        const char *val = eq ? eq + 1 : NULL;
        size_t vl = eq ? dl - nl - 1 : 0;
        if (edge_str_ieq(d, nl, "max-age") && val) {
            cc->max_age = cc_number(val, vl);
        } else if (edge_str_ieq(d, nl, "s-maxage") && val) {
            cc->s_maxage = cc_number(val, vl);
        } else if (edge_str_ieq(d, nl, "stale-while-revalidate") && val) {
            cc->swr = cc_number(val, vl);
        } else if (edge_str_ieq(d, nl, "stale-if-error") && val) {
            cc->sie = cc_number(val, vl);
        } else if (edge_str_ieq(d, nl, "no-store")) {
            cc->no_store = true;
        } else if (edge_str_ieq(d, nl, "no-cache")) {
            cc->no_cache = true;
        } else if (edge_str_ieq(d, nl, "private")) {
            cc->private_ = true;
        } else if (edge_str_ieq(d, nl, "must-revalidate") ||
                   edge_str_ieq(d, nl, "proxy-revalidate")) {
            cc->must_revalidate = true;
        } else if (edge_str_ieq(d, nl, "only-if-cached")) {
            cc->only_if_cached = true;
        }
    }
}

static const char *const wdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void edge_http_date_format(time_t t, char *buf)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, 32, "%s, %02d %s %04d %02d:%02d:%02d GMT", wdays[tm.tm_wday % 7], tm.tm_mday,
             months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int edge_http_date_parse(const char *s, size_t len, time_t *out)
{
    char buf[64];
    if (len == 0 || len >= sizeof(buf)) {
        return -EINVAL;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    char mon[4] = {0};
    char wd[16] = {0};
    int d = 0;
    int y = 0;
    int hh = 0;
    int mm = 0;
    int ss = 0;
    int n = 0;
    if (sscanf(buf, "%3s, %2d %3s %4d %2d:%2d:%2d GMT%n", wd, &d, mon, &y, &hh, &mm, &ss, &n) ==
            7 &&
        n == (int)len) {
        /* IMF-fixdate */
    } else if (sscanf(buf, "%15[A-Za-z], %2d-%3s-%2d %2d:%2d:%2d GMT%n", wd, &d, mon, &y, &hh, &mm,
                      &ss, &n) == 7 &&
               n == (int)len) {
        y += y < 70 ? 2000 : 1900;
    } else if (sscanf(buf, "%3s %3s %2d %2d:%2d:%2d %4d%n", wd, mon, &d, &hh, &mm, &ss, &y, &n) ==
                   7 &&
               n == (int)len) {
        /* asctime */
    } else {
        return -EINVAL;
    }
    int m = -1;
    for (int i = 0; i < 12; i++) {
        if (strcmp(mon, months[i]) == 0) {
            m = i;
        }
    }
    if (m < 0 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60 || y < 1970 || y > 9999) {
        return -EINVAL;
    }
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = m;
    tm.tm_mday = d;
    tm.tm_hour = hh;
    tm.tm_min = mm;
    tm.tm_sec = ss;
    *out = timegm(&tm);
    return 0;
}

static void etag_strip_weak(const char **e, size_t *l)
{
    if (*l >= 2 && (*e)[0] == 'W' && (*e)[1] == '/') {
        *e += 2;
        *l -= 2;
    }
}

bool edge_etag_list_match(const char *list, size_t len, const char *etag, size_t elen)
{
    etag_strip_weak(&etag, &elen);
    size_t i = 0;
    while (i < len) {
        while (i < len && (list[i] == ' ' || list[i] == '\t' || list[i] == ',')) {
            i++;
        }
        size_t s = i;
        while (i < len && list[i] != ',') {
            i++;
        }
        size_t e = i;
        while (e > s && (list[e - 1] == ' ' || list[e - 1] == '\t')) {
            e--;
        }
        const char *t = list + s;
        size_t tl = e - s;
        if (tl == 1 && t[0] == '*') {
            return true;
        }
        etag_strip_weak(&t, &tl);
        if (tl > 0 && tl == elen && memcmp(t, etag, tl) == 0) {
            return true;
        }
    }
    return false;
}
