/* hostport.c: "host:port" and "[IPv6]:port" parsing. */
#include "hostport.h"

#include <errno.h>
#include <string.h>

int hostport_parse(const char *s, char *host, size_t hostlen, uint16_t *port)
{
    const char *h, *colon;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':')
            return -EINVAL;
        h = s + 1;
        colon = rb + 1;
        if (memchr(h, '[', (size_t)(rb - h)))
            return -EINVAL;
    } else {
        h = s;
        colon = strchr(s, ':');
        if (!colon || strchr(colon + 1, ':'))
            return -EINVAL;
        /* A bracket belongs only around an IPv6 address at the start. */
        if (memchr(h, '[', (size_t)(colon - h)) || memchr(h, ']', (size_t)(colon - h)))
            return -EINVAL;
    }
    size_t hl = (size_t)(colon - h) - (s[0] == '[' ? 1 : 0);
    const char *p = colon + 1;
    size_t pl = strlen(p);
    if (hl == 0 || hl >= hostlen || pl == 0 || pl > 5 || strspn(p, "0123456789") != pl)
        return -EINVAL;
    unsigned long v = 0;
    for (size_t i = 0; i < pl; i++)
        v = v * 10 + (unsigned long)(p[i] - '0');
    if (v < 1 || v > 65535)
        return -EINVAL;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (uint16_t)v;
    return 0;
}
