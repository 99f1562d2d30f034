/* edge_http_path.c: the request target: percent-decoding and normalization of the path,
 * RFC 3986 re-encoding, and the cache key that the origin request also uses. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "edge_http.h"

static int hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = tolower(c);
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

int edge_path_normalize(const char *url, size_t len, char *out, size_t cap, const char **query,
                        size_t *qlen)
{
    *query = NULL;
    *qlen = 0;
    /* Absolute form: drop scheme and authority. */
    if (len > 7 && strncasecmp(url, "http://", 7) == 0) {
        const char *s = memchr(url + 7, '/', len - 7);
        if (!s) {
            return -EINVAL;
        }
        len -= (size_t)(s - url);
        url = s;
    }
    if (len == 0 || url[0] != '/') {
        return -EINVAL;
    }
    const char *q = memchr(url, '?', len);
    size_t plen = len;
    if (q) {
        plen = (size_t)(q - url);
        *query = q + 1;
        *qlen = len - plen - 1;
        const char *h = memchr(*query, '#', *qlen);
        if (h) {
            *qlen = (size_t)(h - *query);
        }
    } else {
        const char *h = memchr(url, '#', len);
        if (h) {
            plen = (size_t)(h - url);
        }
    }
    size_t o = 0;
    size_t i = 0;
    if (cap < 2) {
        return -ENAMETOOLONG;
    }
    out[o++] = '/';
    while (i < plen) {
        /* One segment: decode into out after the last '/'. */
        while (i < plen && url[i] == '/') {
            i++;
        }
        if (i >= plen) {
            break;
        }
        size_t seg_start = o;
        while (i < plen && url[i] != '/') {
            int c = (unsigned char)url[i];
            if (c == '%') {
                if (i + 2 >= plen) {
                    return -EINVAL;
                }
                int hi = hexval(url[i + 1]);
                int lo = hexval(url[i + 2]);
                if (hi < 0 || lo < 0) {
                    return -EINVAL;
                }
                c = hi * 16 + lo;
                i += 3;
                if (c == '/' || c == '\\' || c == 0) {
                    return -EINVAL;
                }
            } else {
                i++;
                if (c == '\\') {
                    return -EINVAL; /* a literal backslash is refused like %5C */
                }
            }
            if (c < 0x20 || c == 0x7f) {
                return -EINVAL;
            }
            if (o + 1 >= cap) {
                return -ENAMETOOLONG;
            }
            out[o++] = (char)c;
        }
        size_t sl = o - seg_start;
        if (sl == 1 && out[seg_start] == '.') {
            o = seg_start;
            continue;
        }
        if (sl == 2 && out[seg_start] == '.' && out[seg_start + 1] == '.') {
            /* Drop this segment and the previous one; fail when there is none. */
            if (seg_start <= 1) {
                return -EINVAL;
            }
            o = seg_start - 1; /* the '/' before ".." */
            while (o > 0 && out[o - 1] != '/') {
                o--;
            }
            continue;
        }
        if (i < plen) {
            if (o + 1 >= cap) {
                return -ENAMETOOLONG;
            }
            out[o++] = '/';
        }
    }
    /* Keep a trailing slash only when the original had one (directory requests). */
    out[o] = '\0';
    return (int)o;
}

/* RFC 3986 pchar without pct-encoded, plus '/': unreserved, sub-delims, ':' and '@'. */
static bool path_char_plain(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("-._~!$&'()*+,;=:@/", c) != NULL;
}

int edge_path_encode(const char *path, size_t len, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)path[i];
        if (c != '\0' && path_char_plain(c)) {
            if (o + 1 >= cap) {
                return -ENAMETOOLONG;
            }
            out[o++] = (char)c;
            continue;
        }
        if (o + 3 >= cap) {
            return -ENAMETOOLONG;
        }
        out[o++] = '%';
        out[o++] = hex[c >> 4];
        out[o++] = hex[c & 15];
    }
    if (cap == 0) {
        return -ENAMETOOLONG;
    }
    out[o] = '\0';
    return (int)o;
}

int edge_cache_key_build(const char *path, size_t plen, const char *query, size_t qlen,
                         const char *const *keep, char *out, size_t cap)
{
    int el = edge_path_encode(path, plen, out, cap);
    if (el < 0) {
        return el;
    }
    size_t o = (size_t)el;
    bool first = true;
    size_t i = 0;
    while (query && i < qlen) {
        const char *param = query + i;
        const char *amp = memchr(param, '&', qlen - i);
        size_t pl = amp ? (size_t)(amp - param) : qlen - i;
        i += pl + 1;
        if (pl == 0) {
            continue;
        }
        const char *eq = memchr(param, '=', pl);
        size_t nl = eq ? (size_t)(eq - param) : pl;
        bool kept = false;
        for (size_t k = 0; keep && keep[k]; k++) {
            if (strlen(keep[k]) == nl && memcmp(keep[k], param, nl) == 0) {
                kept = true;
                break;
            }
        }
        if (!kept) {
            continue;
        }
        if (o + 1 + pl + 1 > cap) {
            return -ENAMETOOLONG;
        }
        out[o++] = first ? '?' : '&';
        for (size_t j = 0; j < pl; j++) {
            unsigned char c = (unsigned char)param[j];
            if (c > 0x20 && c < 0x7f) {
                out[o++] = (char)c;
                continue;
            }
            /* Nothing that could break the origin request line (llhttp refuses most already). */
            if (o + 3 + (pl - j - 1) + 1 > cap) {
                return -ENAMETOOLONG;
            }
            o += (size_t)snprintf(out + o, 4, "%%%02X", c);
        }
        first = false;
    }
    out[o] = '\0';
    return (int)o;
}
