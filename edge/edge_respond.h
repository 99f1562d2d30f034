/* edge_respond.h: segment-edge's request core: what to answer to a request, from the request and
 * a view of the object (a cached object or an origin-mode file), with no connection, no event
 * loop and no lock. The connection code sends what the plan says; the unit tests and the fuzz
 * target call the same functions with plain arrays. */
#ifndef EDGE_RESPOND_H
#define EDGE_RESPOND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_config.h"
#include "edge_http.h"

/* Cache-Status (RFC 9211) of one response. */
typedef enum edge_cs {
    EDGE_CS_NONE = 0,
    EDGE_CS_HIT,
    EDGE_CS_MISS,
    EDGE_CS_COLLAPSED,
    EDGE_CS_STALE,
    EDGE_CS_STALE_ERROR,
    EDGE_CS_REVALIDATED,
    EDGE_CS_REFRESHED,
    EDGE_CS_ERROR,
} edge_cs_t;

/* The word for the access log ("HIT", "MISS", ...; "-" for none). */
const char *edge_cs_word(edge_cs_t cs);

/* Object states as the core sees them (the values of EDGE_OBJ_* in edge_internal.h). */
enum {
    EDGE_VIEW_PENDING = 0, /* no head yet */
    EDGE_VIEW_STREAMING,   /* head known, body arriving */
    EDGE_VIEW_COMPLETE,
    EDGE_VIEW_FAILED,
};

/* A header value of the request (NULL when absent). */
typedef struct edge_hval {
    const char *p;
    size_t n;
} edge_hval_t;

/* What the core needs from a request. Strings are borrowed. */
typedef struct edge_req {
    int method; /* llhttp_method_t */
    int http_minor;
    bool keep_alive;  /* the client allows a next request on this connection */
    bool closing;     /* the server drains: answer with Connection: close */
    const char *date; /* IMF-fixdate for the Date header */
    edge_hval_t if_none_match;
    edge_hval_t if_modified_since;
    edge_hval_t if_range;
    edge_hval_t range;
    edge_hval_t accept_encoding;
    edge_hval_t acr_headers; /* Access-Control-Request-Headers (OPTIONS) */
} edge_req_t;

/* Fill r from a parsed request head (date and closing are left to the caller). */
void edge_req_from_msg(edge_req_t *r, const edge_http_msg_t *m);

/* A view of what is served: a cached object (copied under the cache lock) or a file (from
 * fstat). Strings are borrowed and must stay valid while the plan is in use. */
typedef struct edge_obj_view {
    bool cached;    /* a cache-mode object; false: an origin-mode file */
    int state;      /* EDGE_VIEW_* (files: COMPLETE) */
    int status;     /* origin status of the object (files: 200) */
    int64_t length; /* identity body length; -1 while unknown */
    const char *ctype;
    const char *etag;
    const char *last_modified;
    const char *cache_control;
    const char *content_encoding;
    /* Cached objects: the origin's Location (redirects, 201), NULL when none. */
    const char *location;
    int64_t mtime; /* files: modification time (If-Modified-Since); 0 otherwise */
    edge_media_kind_t kind;
    bool has_gz; /* a gzip variant of gz_len bytes exists */
    size_t gz_len;
    int fail_status;  /* FAILED objects: 502 or 504 */
    bool passthrough; /* streamed through a window, never whole in memory: never waited for */
    /* Cache mode: freshness and how the cache handler reached the object. */
    uint64_t resp_ms;   /* monotonic ms of the origin response */
    int64_t origin_age; /* seconds, the origin's Age */
    uint64_t ttl_ms;
    uint64_t swr_ms; /* stale-while-revalidate */
    uint64_t sie_ms; /* stale-if-error */
    bool stored;     /* kept in the cache */
    bool from_disk;  /* promoted from the disk tier for this request */
    edge_cs_t cs;    /* lookup result: HIT, STALE, MISS, COLLAPSED, REVALIDATED, ... */
    int fwd_status;  /* status of the origin exchange behind cs (304, 5xx), 0 for none */
} edge_obj_view_t;

/* ---- freshness: the one cache-age computation ---- */

/* Age in ms of a response received at resp_ms with the origin's Age of origin_age seconds. */
uint64_t edge_cache_age_ms(uint64_t resp_ms, int64_t origin_age, uint64_t now_ms);

/* What the cache handler does with what its lookup found. */
typedef enum edge_lookup_do {
    EDGE_DO_NONE = 0,   /* serve it as it is (fresh, or a fill in progress) */
    EDGE_DO_FILL,       /* nothing found: create the object and fetch it */
    EDGE_DO_REFRESH,    /* serve stale now and revalidate in the background */
    EDGE_DO_REVALIDATE, /* too old to serve: revalidate and wait for the result */
} edge_lookup_do_t;

/* Decide for a lookup: v is the found object (NULL when none). Sets *cs (HIT, STALE, COLLAPSED,
 * MISS, or NONE while waiting for a revalidation). A refresh already running (refreshing) is
 * not started again: EDGE_DO_REFRESH and EDGE_DO_REVALIDATE say what the request needs, the
 * caller starts a fetch only when no refresh runs. */
edge_lookup_do_t edge_lookup_decide(const edge_obj_view_t *v, uint64_t now_ms, edge_cs_t *cs);

/* Results of a revalidation (the values of EDGE_REFRESH_* in edge_internal.h). */
enum {
    EDGE_REFRESH_RESULT_NONE = 0,
    EDGE_REFRESH_RESULT_REVALIDATED,
    EDGE_REFRESH_RESULT_REPLACED,
    EDGE_REFRESH_RESULT_FAILED,
};

/* Cache-Status after a revalidation the request waited for: REVALIDATED (304), REFRESHED (the
 * object was replaced), STALE_ERROR (failed, but within stale-if-error) or ERROR. */
edge_cs_t edge_refresh_outcome(const edge_obj_view_t *v, int result, uint64_t now_ms);

/* ---- gzip ---- */

/* Does the request accept gzip (Accept-Encoding, with q-values: "gzip;q=0" refuses)? */
bool edge_accepts_gzip(edge_hval_t accept_encoding);

/* Should a gzip variant be served (or made) for this request: a playlist or manifest of status
 * 200 without its own Content-Encoding, no Range, and gzip accepted. */
bool edge_want_gzip(const edge_req_t *req, edge_media_kind_t kind, int status,
                    const char *content_encoding);

/* Largest body compressed for a gzip variant. */
#define EDGE_GZIP_MAX (1u << 20)

/* Compress len bytes (gzip, level 6) into a new malloc'd buffer. Returns 0 or -ENOMEM/-EIO. */
int edge_gzip(const void *in, size_t len, char **out, size_t *out_len);

/* ---- the plan ---- */

typedef enum edge_plan_action {
    EDGE_PLAN_READY = 0, /* send the head, then the body range */
    EDGE_PLAN_WAIT,      /* the object must progress first (head, or the whole body) */
} edge_plan_action_t;

typedef enum edge_body_src {
    EDGE_BODY_NONE = 0,
    EDGE_BODY_IDENTITY, /* the object's or file's bytes [off, end) */
    EDGE_BODY_GZIP,     /* the gzip variant's bytes [off, end) */
    EDGE_BODY_TEXT,     /* the plan's own text [off, end) (error bodies) */
} edge_body_src_t;

#define EDGE_PLAN_TEXT 96

typedef struct edge_plan {
    /* Set by the caller before a call. */
    char *hdr;      /* head buffer */
    size_t hdr_cap; /* its size */
    /* Set by the core. */
    size_t hdr_len;
    edge_plan_action_t action;
    int status;
    edge_cs_t cs;
    int fwd_status;
    bool keep_alive; /* the response's Connection */
    bool chunked;    /* Transfer-Encoding: chunked (unknown length, HTTP/1.1) */
    edge_body_src_t body;
    uint64_t off;
    int64_t end; /* -1: until the object completes */
    char text[EDGE_PLAN_TEXT];
} edge_plan_t;

/* Decide the response to req for obj (NULL for requests without one: OPTIONS, and methods not
 * allowed in this mode). Handles GET and HEAD (conditional GET with If-None-Match and
 * If-Modified-Since, If-Range, one byte range or 416 with "Content-Range: bytes * /len", gzip
 * negotiation with Vary, validators, Age and Cache-Status for cached objects), OPTIONS (204 with
 * the CORS preflight headers) and 405 with Allow for any other method (PUT and DELETE are the
 * file handler's in origin mode). The head goes into out->hdr; when it would not fit, the
 * response is a bare 500 with Connection: close. action is WAIT while obj cannot be answered yet
 * (pending, or the whole body is needed: gzip or a range of an unknown length). */
void edge_respond(const edge_req_t *req, const edge_obj_view_t *obj, uint64_t now_ms,
                  const edge_config_t *cfg, edge_plan_t *out);

/* An error response: "STATUS Reason\n" as a text body (Allow with 405; a Cache-Status with
 * fwd-status when fwd_status is set). */
void edge_respond_error(const edge_req_t *req, int status, int fwd_status, const edge_config_t *cfg,
                        edge_plan_t *out);

/* 503 with "Retry-After: 1": the edge is at a bound of its own (origin fetches in flight) and
 * the request may succeed a moment later. */
#define EDGE_RETRY_AFTER_S "1"
void edge_respond_busy(const edge_req_t *req, const edge_config_t *cfg, edge_plan_t *out);

/* A response with a body of body_len bytes the caller supplies (status endpoints, PUT results:
 * ctype NULL sends no body headers, for 201 and 204). extra is header lines ("Name: v\r\n"). */
void edge_respond_simple(const edge_req_t *req, int status, const char *ctype, size_t body_len,
                         const char *extra, const edge_config_t *cfg, edge_plan_t *out);

/* Is method allowed in this mode (origin mode adds PUT and DELETE)? */
bool edge_method_allowed(int method, bool origin_mode);

/* Reason phrase of an HTTP status. */
const char *edge_status_text(int status);

#endif
