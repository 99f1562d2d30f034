/* dnsq.h: what dnsq's query side (dnsq.c) and its reply checker (dnsq_report.c) share. */
#ifndef DNSQ_H
#define DNSQ_H

#include <stddef.h>
#include <stdint.h>

/* Exit codes: 0 every expected reply parsed and was consistent, 1 usage or local error,
 * 2 (some) reply missing, 3 a reply did not parse or its counts disagree with its content. */
enum { EXIT_NOREPLY = 2, EXIT_BADREPLY = 3 };

/* A name in presentation form at its longest: 255 wire bytes, each written as \DDD, and the
 * terminating NUL. */
#define DNSQ_NAME_TEXT (255 * 4 + 1)

static inline unsigned get16(const uint8_t *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

/* Prints the summary of one reply (with its bytes in hex first when hex). ids are the query
 * ids it may answer. Returns 0 if it parsed and was consistent, else EXIT_BADREPLY. */
int dnsq_report(const uint8_t *m, size_t len, const uint16_t *ids, int nids, int hex);

#endif
