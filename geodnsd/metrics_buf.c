/* metrics_buf.c: the bounded response buffer of the metrics and status pages, with escapers. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

#define METRICS_BUF_FIRST 16384

void metrics_buf_init(metrics_buf_t *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void metrics_buf_deinit(metrics_buf_t *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

/* Room for n more bytes and a NUL; false (and overflow set) past the bound or without memory. */
static bool buf_reserve(metrics_buf_t *b, size_t n)
{
    if (b->overflow)
        return false;
    if (n >= b->max - b->len) {
        b->overflow = true;
        return false;
    }
    if (b->len + n + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : METRICS_BUF_FIRST;
    while (cap < b->len + n + 1)
        cap *= 2;
    if (cap > b->max)
        cap = b->max;
    char *d = realloc(b->data, cap);
    if (!d) {
        b->overflow = b->nomem = true;
        return false;
    }
    b->data = d;
    b->cap = cap;
    return true;
}

void metrics_buf_put(metrics_buf_t *b, const char *s, size_t n)
{
    if (!buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
}

void metrics_buf_puts(metrics_buf_t *b, const char *s)
{
    metrics_buf_put(b, s, strlen(s));
}

void metrics_buf_printf(metrics_buf_t *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(small)) {
        metrics_buf_put(b, small, (size_t)n);
        return;
    }
    if (!buf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void metrics_buf_label(metrics_buf_t *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            metrics_buf_put(b, "\\", 1);
        if (*s == '\n')
            metrics_buf_put(b, "\\n", 2);
        else
            metrics_buf_put(b, s, 1);
    }
}

void metrics_buf_html(metrics_buf_t *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            metrics_buf_puts(b, "&amp;");
            break;
        case '<':
            metrics_buf_puts(b, "&lt;");
            break;
        case '>':
            metrics_buf_puts(b, "&gt;");
            break;
        case '"':
            metrics_buf_puts(b, "&quot;");
            break;
        case '\'':
            metrics_buf_puts(b, "&#39;");
            break;
        default:
            metrics_buf_put(b, s, 1);
        }
    }
}

void metrics_buf_json(metrics_buf_t *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            metrics_buf_put(b, e, 2);
        } else if (c < 0x20 || c == 0x7f) {
            metrics_buf_printf(b, "\\u%04x", c);
        } else {
            metrics_buf_put(b, s, 1);
        }
    }
}
