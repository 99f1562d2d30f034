/* wire.h: DNS wire format: query parsing into a stack struct and a compressing response writer. */
#ifndef GEODNSD_WIRE_H
#define GEODNSD_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define DNS_HDR_LEN    12
#define DNS_MAX_NAME   255
#define DNS_MAX_LABELS 128
/* Bytes that hold the presentation form of any wire name with its NUL, as dns_name_to_str and
 * ldns write it: at most 253 bytes of label text (255 less the first length byte and the root),
 * each up to 4 characters ("\DDD"), a dot after each label, and the NUL. 4 * 255 + 2 covers that
 * with room to spare, and also a name typed with the same escapes plus a final dot. */
#define DNS_NAME_TEXT_MAX (DNS_MAX_NAME * 4 + 2)

/* Copy n bytes of a name or question (a few hundred at most) without the "rep movsq" that gcc
 * -O2 makes of a memcpy of bounded variable length: its start-up cost exceeds the copy of a
 * typical 20-40 byte name. Reads only [s, s+n), writes only [d, d+n); d and s do not overlap. */
static inline void dns_copy_short(uint8_t *d, const uint8_t *s, size_t n)
{
    uint64_t v;
    if (n >= 8) {
        for (size_t i = 0; i + 8 <= n; i += 8) {
            memcpy(&v, s + i, 8);
            memcpy(d + i, &v, 8);
        }
        memcpy(&v, s + n - 8, 8); /* the tail, overlapping what is already copied */
        memcpy(d + n - 8, &v, 8);
        return;
    }
    if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        memcpy(d, &a, 4);
        memcpy(d + n - 4, &b, 4);
    } else if (n) { /* 1 to 3 bytes: first, middle, last */
        d[0] = s[0];
        d[n / 2] = s[n / 2];
        d[n - 1] = s[n - 1];
    }
}

/* Header flag bits in the 16-bit flags word. */
#define DNS_FLAG_QR     0x8000
#define DNS_FLAG_AA     0x0400
#define DNS_FLAG_TC     0x0200
#define DNS_FLAG_RD     0x0100
#define DNS_FLAG_RA     0x0080
#define DNS_FLAG_AD     0x0020
#define DNS_FLAG_CD     0x0010
#define DNS_OPCODE_MASK 0x7800 /* the opcode bits of the flags word */

enum dns_rcode {
    DNS_RCODE_NOERROR = 0,
    DNS_RCODE_FORMERR = 1,
    DNS_RCODE_SERVFAIL = 2,
    DNS_RCODE_NXDOMAIN = 3,
    DNS_RCODE_NOTIMP = 4,
    DNS_RCODE_REFUSED = 5,
    DNS_RCODE_YXDOMAIN = 6,
    DNS_RCODE_NOTAUTH = 9,
    DNS_RCODE_BADVERS = 16,
};

enum dns_type {
    DNS_TYPE_A = 1,
    DNS_TYPE_NS = 2,
    DNS_TYPE_CNAME = 5,
    DNS_TYPE_SOA = 6,
    DNS_TYPE_PTR = 12,
    DNS_TYPE_MX = 15,
    DNS_TYPE_TXT = 16,
    DNS_TYPE_AAAA = 28,
    DNS_TYPE_SRV = 33,
    DNS_TYPE_DNAME = 39,
    DNS_TYPE_OPT = 41,
    DNS_TYPE_DS = 43,
    DNS_TYPE_RRSIG = 46,
    DNS_TYPE_IXFR = 251,
    DNS_TYPE_AXFR = 252,
    DNS_TYPE_ANY = 255,
    DNS_TYPE_CAA = 257,
};

#define DNS_CLASS_IN 1

enum dns_edns_opt {
    DNS_OPT_NSID = 3,
    DNS_OPT_ECS = 8,
    DNS_OPT_COOKIE = 10,
    DNS_OPT_KEEPALIVE = 11,
};

/* What the parser concluded about a packet. */
typedef enum dns_parse_result {
    DNS_PARSE_OK = 0,      /* a well-formed message; check opcode and EDNS version */
    DNS_PARSE_DROP = -1,   /* no reply at all: shorter than a header, or QR=1 */
    DNS_PARSE_FORMERR = -2 /* reply FORMERR (header fields id/opcode/rd are valid) */
} dns_parse_result_t;

/* A parsed query. Lives on the stack; points into the packet it came from. */
typedef struct dns_query {
    uint16_t id;
    uint16_t flags; /* the raw header flags word */
    uint8_t opcode;
    bool has_question;
    const uint8_t *qname_wire;   /* original letter case, inside the packet */
    uint8_t qname_len;           /* wire length including the root label */
    uint8_t qname_labels;        /* number of labels, root excluded */
    uint8_t qname[DNS_MAX_NAME]; /* lower-cased copy */
    uint8_t label_off[DNS_MAX_LABELS];
    uint16_t qtype, qclass;
    size_t question_end; /* offset just past the question */

    bool has_opt;
    uint16_t udp_size; /* as sent by the client */
    uint8_t edns_version;
    bool edns_do;
    bool has_ecs;
    uint8_t ecs_family; /* 1 = IPv4, 2 = IPv6 (the IANA address family numbers) */
    uint8_t ecs_source;
    uint8_t ecs_scope;
    uint8_t ecs_addr[16]; /* zero-padded */
    bool nsid_req;
    bool keepalive_req;
    bool keepalive_bad; /* carried a TIMEOUT: FORMERR over TCP, ignored over UDP (RFC 7828) */
    bool opt_formerr;   /* FORMERR caused by an option's content: the reply may carry an OPT */
    bool has_cookie;
    uint8_t cookie_len;
    uint8_t cookie[40];
} dns_query_t;

/* Parse a packet. Never reads outside [pkt, pkt+len). Rejects names with compression loops or
 * forward pointers, labels > 63, names > 255, truncated records, QDCOUNT != 1, a second OPT,
 * an OPT not owned by the root, options overrunning the OPT RDATA and malformed ECS/COOKIE. */
dns_parse_result_t dns_query_parse(const uint8_t *pkt, size_t len, dns_query_t *q);

/* The serial an IXFR request holds (RFC 1995 3: the client's SOA, first in the authority
 * section, owned by the zone asked for) into *serial. Returns 0, or -1 when there is none or it
 * is malformed. q is the request's parse (dns_query_parse returned DNS_PARSE_OK). */
int dns_ixfr_serial(const uint8_t *pkt, size_t len, const dns_query_t *q, uint32_t *serial);

/* Read a (possibly compressed) name at *off from a message into out as uncompressed lower-case
 * wire. Returns its length, or -1 when malformed. *off is advanced past the name's encoding. */
int dns_name_read(const uint8_t *pkt, size_t len, size_t *off, uint8_t out[DNS_MAX_NAME]);

/* Length of an uncompressed wire name, or -1 when malformed or longer than max. */
int dns_name_len(const uint8_t *name, size_t max);

/* Lower-case a wire name in place (ASCII letters only, label lengths untouched). */
void dns_name_lower(uint8_t *name, size_t len);

/* Presentation form ("www.example.test.") of a wire name into buf: "\." and "\\" for a dot or a
 * backslash in a label, "\DDD" for other bytes outside 33..126. Never writes more than buflen
 * bytes (NUL included); a buf of DNS_NAME_TEXT_MAX bytes holds any name whole, a smaller one
 * may cut it short. */
void dns_name_to_str(const uint8_t *name, char *buf, size_t buflen);

/* Record data prepared at load time: uncompressed wire bytes plus the offsets of the names that
 * RFC 3597 allows to be compressed (NS, CNAME, PTR, MX, SOA...). */
typedef struct dns_rdata {
    const uint8_t *data;
    uint16_t len;
    uint8_t nnames;
    uint16_t name_off[2];
} dns_rdata_t;

#define DNS_COMP_MAX 64

/* Response writer over a caller buffer. Writes stop at limit; every write returns 0 or -1 when
 * the record would pass the limit, leaving the buffer as it was before that write. */
typedef struct dns_writer {
    uint8_t *buf;
    size_t len;
    size_t limit;
    uint16_t counts[4]; /* QD, AN, NS, AR */
    unsigned ncomp;
    uint16_t comp[DNS_COMP_MAX]; /* offsets of label starts usable as compression targets */
    /* The hash of the name at comp[i] (dns_writer_name), for i < nhashed, and an open-addressed
     * index of those hashes (entry + 1, 0 empty): built when the table first grows past a few
     * names, as in a zone transfer's big messages. */
    unsigned nhashed;
    uint32_t comp_hash[DNS_COMP_MAX];
    uint8_t comp_index[2 * DNS_COMP_MAX];
    size_t qname_len; /* the question's name, at DNS_HDR_LEN; 0 before it is written */
    /* Where the last record's owner is spelled (its labels, or the name a lone pointer points
     * to), for a pointer from the next record of the same owner; 0 for none. */
    uint16_t owner_at;
} dns_writer_t;

enum dns_section { DNS_SEC_QD = 0, DNS_SEC_AN = 1, DNS_SEC_NS = 2, DNS_SEC_AR = 3 };

/* Start a response: header with id and flags, counts zero, nothing else. */
void dns_writer_init(dns_writer_t *w, uint8_t *buf, size_t limit, uint16_t id, uint16_t flags);

/* Copy the question of q byte for byte (original case) and remember its labels for
 * compression. */
int dns_writer_question(dns_writer_t *w, const dns_query_t *q);

/* Write a question from a name (uncompressed wire form), qtype and class IN: for the messages
 * geodnsd sends or builds itself (NOTIFY, `geodnsd explain`). */
int dns_writer_question_name(dns_writer_t *w, const uint8_t *name, size_t namelen, uint16_t qtype);

/* Encode an EDNS Client Subnet option (RFC 7871 6: code, length, family 1/2, source and scope
 * prefix lengths, the first (source + 7) / 8 bytes of addr) into buf, which holds 8 + 16 bytes.
 * Returns its length. source must be at most 32 (family 1) or 128 (family 2). */
size_t dns_ecs_option(uint8_t *buf, uint8_t family, uint8_t source, uint8_t scope,
                      const uint8_t *addr);

/* Write a name with compression against names already in the message. */
int dns_writer_name(dns_writer_t *w, const uint8_t *name, size_t namelen);

/* Write one RR: owner (uncompressed wire), type, class IN, ttl, rdata. */
int dns_writer_rr(dns_writer_t *w, enum dns_section sec, const uint8_t *owner, size_t ownerlen,
                  uint16_t type, uint32_t ttl, const dns_rdata_t *rd);

/* Append an OPT RR with raw option bytes (already encoded). */
int dns_writer_opt(dns_writer_t *w, uint16_t udp_size, uint8_t ext_rcode, bool do_bit,
                   const uint8_t *opts, size_t optlen);

/* Patch rcode, flags and counts into the header and return the message length. */
size_t dns_writer_finish(dns_writer_t *w, uint16_t flags_or, uint8_t rcode);

/* Truncate back to just past the question (all RR counts zero). */
void dns_writer_rewind(dns_writer_t *w, size_t len, const uint16_t counts[4]);

#endif
