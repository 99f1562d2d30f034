/* edge_http.h: HTTP/1.1 message parsing (an llhttp wrapper, edge_http.c) and the pure HTTP helpers
 * of segment-edge: request target and cache key (edge_http_path.c), header field values
 * (edge_http_fields.c), media types and playlist scans (edge_media.c). */
#ifndef EDGE_HTTP_H
#define EDGE_HTTP_H

#include <llhttp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define EDGE_HTTP_MAX_HEADERS 64
/* Interim responses (1xx other than 101) skipped before a final response; one more is an error. */
#define EDGE_HTTP_MAX_INTERIM 8

typedef struct edge_http_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} edge_http_header_t;

/* One parsed message head. Strings point into the parser's arena and stay valid until the
 * next edge_http_parser_next(). */
typedef struct edge_http_msg {
    int method; /* llhttp_method_t, requests only */
    int status; /* responses only */
    int http_major;
    int http_minor;
    const char *url;
    size_t url_len;
    edge_http_header_t headers[EDGE_HTTP_MAX_HEADERS];
    size_t n_headers;
    int64_t content_length; /* -1 when absent */
    bool chunked;
    bool keep_alive;
    bool expect_continue;
} edge_http_msg_t;

/* Called from inside the parser: once when the head is complete (may reject with an HTTP status
 * by returning it, e.g. 405, after setting the parser's reason if it likes; 0 accepts), and for
 * each decoded body piece (non-zero aborts). */
typedef int (*edge_http_head_cb)(void *ctx, edge_http_msg_t *msg);
typedef int (*edge_http_body_cb)(void *ctx, const char *at, size_t len);

typedef struct edge_http_parser {
    llhttp_t ll;
    llhttp_settings_t settings;
    edge_http_msg_t msg;
    char *arena;
    size_t arena_cap;
    size_t arena_used;
    size_t max_url;
    size_t piece_start; /* arena offset of the field/value being collected */
    int host_count;
    int cl_count;
    bool te_seen;
    bool in_head;
    bool head_done;
    bool response;
    bool scan_done;       /* head pre-scan (folding) reached the blank line */
    size_t scan_line_len; /* bytes in the current head line */
    unsigned scan_lines;  /* head lines seen */
    bool interim;         /* responses: the message being parsed is a 1xx interim response */
    unsigned n_interim;   /* responses: interim responses skipped before this final one */
    int status_hint; /* HTTP status to answer a failed request with (400, 413, 414, 431, ...) */
    const char *reason;
    edge_http_head_cb head_cb;
    edge_http_body_cb body_cb;
    void *cb_ctx;
} edge_http_parser_t;

enum {
    EDGE_HTTP_NEED_MORE = 0,    /* all input consumed, message not complete */
    EDGE_HTTP_MESSAGE_DONE = 1, /* one message complete; *used says how much input it took */
};

/* Initialise a parser for requests (response=false) or responses. arena (caller storage) bounds
 * the head size: a head that does not fit fails with status_hint 431 (414 for a long URL).
 * A response parser skips interim responses (100 Continue, 103 Early Hints, any 1xx but 101):
 * head_cb sees only the final response. More than EDGE_HTTP_MAX_INTERIM of them before it, or a
 * 101 Switching Protocols (nothing asks an origin to switch), fail with status_hint 502. */
void edge_http_parser_init(edge_http_parser_t *p, bool response, char *arena, size_t arena_cap,
                           size_t max_url);

/* Prepare for the next message on the same connection (after EDGE_HTTP_MESSAGE_DONE). */
void edge_http_parser_next(edge_http_parser_t *p);

/* Give p another arena of the capacity given at init, or none (NULL), between messages (at init
 * or after edge_http_parser_next, before the next byte is fed): a client connection gives its
 * arena back while it is idle and takes one again when its next request begins. p must have an
 * arena when it is fed. */
void edge_http_parser_set_arena(edge_http_parser_t *p, char *arena);

/* Feed bytes. Returns EDGE_HTTP_NEED_MORE, EDGE_HTTP_MESSAGE_DONE (stops right after the message;
 * *used is the number of bytes consumed), or a negative code on a malformed message, with
 * p->status_hint and p->reason set. */
int edge_http_parser_feed(edge_http_parser_t *p, const char *data, size_t len, size_t *used);

/* End of input (connection closed): completes a response delimited by close. Returns
 * EDGE_HTTP_MESSAGE_DONE, EDGE_HTTP_NEED_MORE (nothing pending) or a negative code. */
int edge_http_parser_finish(edge_http_parser_t *p);

/* First header named name (case-insensitive), or NULL. *len receives the value length. */
const char *edge_http_msg_header(const edge_http_msg_t *m, const char *name, size_t *len);

/* Case-insensitive comparison of a counted string with a C string. */
bool edge_str_ieq(const char *a, size_t alen, const char *b);

/* Request target and cache key (edge_http_path.c). */

/* Split a request target into a normalized path and a raw query. Percent-decodes the path,
 * removes "." and empty segments, resolves ".." and fails when it would climb above "/"; NUL
 * (%00), control bytes, %2F and a backslash (literal or %5C) are refused.
 * Returns the path length, -EINVAL (400) for a bad target, -ENAMETOOLONG when out is too small.
 * query and qlen receive the raw query inside url (no '?'), NULL/0 when absent. */
int edge_path_normalize(const char *url, size_t len, char *out, size_t cap, const char **query,
                        size_t *qlen);

/* Percent-encode a normalized (decoded) path per RFC 3986: every byte outside unreserved,
 * sub-delims, ':', '@' and '/' becomes %XX (upper case). A literal '?' in the path stays part of
 * the path (%3F); a '%' becomes %25, so a path is decoded exactly once. Returns the length or
 * -ENAMETOOLONG. */
int edge_path_encode(const char *path, size_t len, char *out, size_t cap);

/* Cache key: the normalized path re-encoded (edge_path_encode) plus, in request order, only the
 * query parameters whose names are in keep (NULL-terminated). The origin request line uses the
 * key as it is, so one resource has one key and the origin receives exactly that. Returns the
 * key length or -ENAMETOOLONG. */
int edge_cache_key_build(const char *path, size_t plen, const char *query, size_t qlen,
                         const char *const *keep, char *out, size_t cap);

/* Header field values (edge_http_fields.c). */

/* A decimal number of 1 to 19 digits and nothing else (no sign, no space). Returns true with
 * *out set, false otherwise. */
bool edge_u64_parse(const char *s, size_t len, uint64_t *out);

/* Range header against a representation of size bytes. Returns 1 with [*first, *last] for one
 * satisfiable range, 0 when the header is to be ignored (bad syntax, several ranges: serve 200),
 * -1 when unsatisfiable (416). */
int edge_range_parse(const char *v, size_t len, uint64_t size, uint64_t *first, uint64_t *last);

typedef struct edge_cc {
    int64_t max_age; /* seconds, -1 when absent */
    int64_t s_maxage;
    int64_t swr;
    int64_t sie;
    bool no_store;
    bool no_cache;
    bool private_;
    bool must_revalidate;
    bool only_if_cached; /* a request directive (RFC 9111 5.2.1.7) */
} edge_cc_t;

/* Parse a Cache-Control value (unknown directives ignored, bad numbers ignored). */
void edge_cc_parse(const char *v, size_t len, edge_cc_t *cc);

/* IMF-fixdate formatting into buf (at least 32 bytes) and parsing (also RFC 850 and asctime).
 * parse returns 0 or -EINVAL. */
void edge_http_date_format(time_t t, char *buf);
int edge_http_date_parse(const char *s, size_t len, time_t *out);

/* Does an If-None-Match list (weak comparison, "*") match etag? */
bool edge_etag_list_match(const char *list, size_t len, const char *etag, size_t elen);

/* Media types and playlist scans (edge_media.c). */

typedef enum edge_media_kind {
    EDGE_MEDIA_OTHER = 0,
    EDGE_MEDIA_SEGMENT,  /* ts, m4s, mp4, aac, vtt, init segments, ... */
    EDGE_MEDIA_PLAYLIST, /* m3u8 */
    EDGE_MEDIA_MANIFEST, /* mpd */
} edge_media_kind_t;

/* Content-Type and media kind from the path's extension. */
const char *edge_content_type(const char *path, size_t len);
edge_media_kind_t edge_media_kind(const char *path, size_t len);

/* Scan an HLS media playlist: *endlist when EXT-X-ENDLIST is present, *target_ms from
 * EXT-X-TARGETDURATION (0 when absent). */
void edge_hls_scan(const char *body, size_t len, bool *endlist, uint64_t *target_ms);

/* Is a DASH manifest dynamic (live)? */
bool edge_mpd_is_dynamic(const char *body, size_t len);

#endif
