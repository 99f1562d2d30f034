/* cookie.h: DNS server cookies (RFC 7873) in the interoperable format of RFC 9018: version 1,
 * timestamp, SipHash-2-4 over client cookie, version, timestamp and client address. */
#ifndef GEODNSD_COOKIE_H
#define GEODNSD_COOKIE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define COOKIE_SECRET_LEN 16
#define COOKIE_SERVER_LEN 16

/* Make our 16-byte server cookie for a client cookie, client address and time (seconds). */
void cookie_make(const uint8_t secret[COOKIE_SECRET_LEN], const uint8_t client[8],
                 const struct sockaddr *src, uint32_t now, uint8_t out[COOKIE_SERVER_LEN]);

/* Check a server cookie the client sent back (RFC 9018 4.3): version 1, the hash matches, and
 * the timestamp is at most one hour old and at most 5 minutes in the future. Sets *refresh when
 * it is valid but older than half an hour (a new one should be sent). */
bool cookie_check(const uint8_t secret[COOKIE_SECRET_LEN], const uint8_t client[8],
                  const uint8_t *server, size_t server_len, const struct sockaddr *src,
                  uint32_t now, bool *refresh);

#endif
