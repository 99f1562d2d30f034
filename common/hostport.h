/* hostport.h: "host:port" and "[IPv6]:port", as written in configs and on command lines. */
#ifndef COMMON_HOSTPORT_H
#define COMMON_HOSTPORT_H

#include <stddef.h>
#include <stdint.h>

/* hostport_parse: S into HOST (NUL-terminated, at most HOSTLEN - 1 bytes) and *PORT. The forms
 * are HOST:PORT, HOST holding no ':' (a name or an IPv4 address), and [HOST]:PORT (an IPv6
 * address: the brackets are required, so the port is never ambiguous; HOST is written without
 * them). HOST must not be empty; PORT is 1 to 5 digits, 1 to 65535. Nothing is looked up or
 * checked further (inet_pton or getaddrinfo is the caller's). Returns 0, or -EINVAL with HOST
 * and *PORT untouched. */
int hostport_parse(const char *s, char *host, size_t hostlen, uint16_t *port);

#endif
