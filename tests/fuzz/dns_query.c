/* dns_query.c: fuzz target for the whole query path (parse, lookup, write) over UDP and TCP, and
 * for zone transfer requests (with and without TSIG) as the TCP path hands them to
 * xfr_process(). Checks that a reply never exceeds its limit and that it is a reply. */
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"
#include "snapshot.h"
#include "xfr.h"

static gd_snapshot_t *snap;
static uint8_t out[65536];

static void check_reply(const uint8_t *m, size_t len, size_t limit)
{
    if (len > limit || (len && len < 12))
        abort();
    if (!len)
        return;
    if (!(m[2] & 0x80))
        abort(); /* a reply must have QR set */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!snap) {
        char err[1024];
        if (gd_snapshot_load(FUZZ_DATA "/server.yaml", NULL, 1, &snap, err, sizeof(err))) {
            fprintf(stderr, "%s\n", err);
            abort();
        }
    }
    if (size > 65535)
        return 0;
    struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0xC0000201)};
    size_t n = query_process(&snap->env, data, size, out, 4096, 0, (struct sockaddr *)&src);
    check_reply(out, n, 4096);
    if (n && size >= 12 && n > 512 && !(data[10] | data[11]))
        abort(); /* without an OPT, UDP replies stay within 512 bytes */
    {
        /* The quick question-type test in query_is_transfer agrees with the whole parse. */
        dns_query_t q;
        bool xfr = dns_query_parse(data, size, &q) == DNS_PARSE_OK && q.opcode == 0 &&
                   q.has_question && (q.qtype == DNS_TYPE_AXFR || q.qtype == DNS_TYPE_IXFR);
        if (xfr != query_is_transfer(data, size))
            abort();
    }
    if (query_is_transfer(data, size)) {
        /* What the TCP path does with a transfer: every frame is a reply within 64 KiB. The
         * fixed time keeps a TSIG seed's signature valid; bit 0 of the first byte of the input
         * picks a source that only the key allows, bit 1 answers as at tcp.max_transfers. */
        uint8_t *xo;
        size_t xl;
        xfr_result_t r;
        if (data[0] & 1)
            src.sin_addr.s_addr = htonl(0xC0000202);
        if (xfr_process(&snap->env, data, size, (struct sockaddr *)&src, 1796000000, data[0] & 2,
                        &xo, &xl, &r) == 0) {
            size_t off = 0;
            while (off + 2 <= xl) {
                size_t fl = ((size_t)xo[off] << 8) | xo[off + 1];
                if (off + 2 + fl > xl)
                    abort();
                check_reply(xo + off + 2, fl, 65535);
                off += 2 + fl;
            }
            if (off != xl || (r.allowed && r.messages == 0) || (r.busy && r.messages != 1))
                abort();
            free(xo);
        }
        return 0;
    }
    n = query_process(&snap->env, data, size, out, 65535, QUERY_TCP, (struct sockaddr *)&src);
    check_reply(out, n, 65535);
    return 0;
}
