/* edge_conn.h: segment-edge's client connection (private to the connection code, the worker and
 * the two handlers behind the request core: origin files and cached objects). */
#ifndef EDGE_CONN_H
#define EDGE_CONN_H

#include <sys/socket.h>

#include "edge_internal.h"
#include "edge_respond.h"

#define CONN_RBUF   16384
#define CONN_HDR    8192
#define CONN_PATH   (EDGE_MAX_URI + 1) /* a decoded path is never longer than its target */
#define CONN_KEY    (CONN_PATH + 512)
#define CONN_FSPATH (CONN_PATH + 1100) /* root + path */
#define CONN_UPTMP  (CONN_PATH + 64)   /* ".LEAF.tmp.PID.N" */
#define CONN_RAW    40                 /* start of a request kept for the log of a rejection */

/* C_LINGERING: the last response was sent; what the client still sends is read and dropped
 * (edge_linger.c). */
enum { C_READING = 0, C_RESPONDING, C_LINGERING, C_CLOSING };
enum {
    SRC_NONE = 0,
    SRC_MEM, /* bytes in memory (a text body, a gzip variant, a mapped file) */
    SRC_OBJ, /* a cached object, read while it fills */
};

/* Why a response ended before its end: the cut=WORD marker of its access line (docs/edge.md). */
typedef enum conn_cut {
    CUT_NONE = 0,     /* complete, or not ended yet */
    CUT_CLIENT,       /* the client closed or reset the connection */
    CUT_SEND_TIMEOUT, /* timeouts.send: nothing sent for that long */
    CUT_BODY_TIMEOUT, /* timeouts.body: the request body did not arrive in time */
    CUT_SLOW_READER,  /* dropped a full pass-through window behind (timeouts.slow_reader) */
    CUT_ORIGIN,       /* the origin broke off mid-body */
    CUT_DRAIN,        /* still running at the end of timeouts.drain */
    CUT_ERROR,        /* a local error (a write refused, a file shorter than its size) */
} conn_cut_t;

typedef struct conn conn_t;

/* The buffers of a request, one allocation: taken when the connection has bytes to read
 * (edge_conn_alloc), given back when it is idle again with nothing buffered (a keep-alive
 * connection between requests) and when its lingering close begins, so that an idle connection
 * holds none of them (docs/edge.md "Memory per connection"). */
typedef struct conn_buf {
    char rbuf[CONN_RBUF];       /* bytes read and not parsed yet (c->rlen of them) */
    char hdr[CONN_HDR];         /* the response head */
    char path[CONN_PATH];       /* the request's decoded path (c->req.path_len) */
    char key[CONN_KEY];         /* its cache key (c->req.key_len) */
    char up_tmp[CONN_UPTMP];    /* a PUT's temporary file, in c->up.dirfd */
    char up_final[CONN_FSPATH]; /* its final path (c->up.leaf points inside) */
    char arena[];               /* the parser's head arena: limits.max_header_bytes */
} conn_buf_t;

/* The request being answered. */
typedef struct conn_request {
    int method;
    bool head_seen; /* the head was parsed (method and path are known) */
    bool started;   /* a byte of this request arrived */
    size_t path_len;
    const char *query; /* raw, inside the parser arena; for the access log */
    size_t qlen;
    size_t key_len;
    bool only_if_cached; /* Cache-Control: only-if-cached: never from the origin */
    uint64_t t_start;
    uint64_t deadline_ms; /* head or body must be complete by then (0: none) */
    char raw[CONN_RAW];   /* first bytes as read */
    size_t raw_len;
} conn_request_t;

/* Its response: the core's plan and the head being written. */
typedef struct conn_response {
    edge_plan_t plan; /* its head is written in c->buf->hdr */
    size_t hdr_sent;
    bool head_ready;
    bool head_only;
    uint64_t bytes_out; /* bytes of completed writes (head and body) */
    uint64_t body_out;  /* body bytes handed to the socket or queued */
    double origin_ms;
    conn_cut_t cut; /* why it ended early (CUT_NONE: complete) */
    bool logged;    /* its access line was written (cleared when the next request starts) */
} conn_response_t;

/* Where the body comes from. */
typedef struct conn_body {
    int src;
    const char *base; /* SRC_MEM: bytes [off, end) are at base + off */
    int fd;      /* SRC_MEM: a file with the same bytes at the same offsets (sendfile), or -1 */
    char *owned; /* a malloc'd buffer freed with the response */
    void *map;   /* a file mapping unmapped with the response */
    size_t map_len;
    int file_fd;          /* a file closed with the response, or -1 */
    edge_obj_t *obj;      /* SRC_OBJ, or the owner of base (a gzip variant) */
    edge_obj_reader_t rd; /* reading obj's body (the pass-through window contract) */
    uint64_t off;
    int64_t end; /* -1: until the object completes */
    bool chunked;
    bool last_chunk_sent;
    char chunk_hdr[24];
    size_t write_len;
    /* cache handler */
    edge_cs_t cs;
    int fwd_status;
    bool wait_refresh;
    unsigned gen_seen;
    bool from_disk;
} conn_body_t;

/* A PUT being received (origin mode). */
typedef struct conn_upload {
    int fd;           /* the temporary file, -1 when none */
    int dirfd;        /* its directory, -1 when none */
    const char *leaf; /* the final name in dirfd (inside c->buf->up_final) */
    bool existed;
    uint64_t bytes;
} conn_upload_t;

/* The lingering close (edge_linger.c): after the last response of a connection whose client may
 * still be sending, the write side is shut down (FIN) and what arrives is read and dropped until
 * the client closes, timeouts.linger passes or more than limits.max_linger_bytes arrived. A
 * close with unread input makes the kernel reset the connection, and a client that is still
 * sending then often loses the response. */
typedef struct conn_linger {
    edge_list_t link; /* w->lingering, most recent first */
    uv_shutdown_t sreq;
    uint64_t bytes;   /* dropped so far */
    bool refused;     /* a request was refused before its end: more of it may follow */
    bool input_ended; /* the client half-closed: nothing more can follow */
} conn_linger_t;

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t wreq;
    edge_worker_t *w;
    edge_list_t link; /* w->conns, most recently active first */
    edge_list_t wait; /* w->waiting */
    edge_http_parser_t parser;
    conn_buf_t *buf; /* NULL while idle with nothing buffered */
    size_t rlen;
    int state;
    int open_handles;
    bool writing;
    bool parsing;         /* in conn_parse: a response done at once lets its loop go on */
    uint32_t served;      /* responses completed on this connection */
    bool status_listener; /* accepted on a status listener: the status paths only */
    struct sockaddr_storage peer;
    char peer_str[64];
    conn_request_t req;
    conn_response_t resp;
    conn_body_t body;
    conn_upload_t up;
    conn_linger_t linger;
};

/* ---- connection (edge_conn.c) ---- */

/* A new connection accepted on a listener of w (edge_worker.c): allocates, uv_accepts, starts
 * reading. status_listener: one of the status listeners (counted apart, GET and HEAD of the
 * status paths only). Returns 0, or a negative code when it could not be set up (the caller
 * then accepts the pending connection and closes it, so the listener stays usable). */
int edge_conn_accept(edge_worker_t *w, uv_stream_t *listener, bool status_listener);
void edge_conn_close(conn_t *c);
/* Nothing read of a (next) request: a new connection, or keep-alive between requests. */
bool edge_conn_idle(const conn_t *c);
/* A keep-alive connection between requests (it served one at least): the first to close when
 * the worker is at its connection cap. */
bool edge_conn_keepalive_idle(const conn_t *c);
/* libuv's allocation callback for reading c: the free end of its read buffer (c->buf->rbuf past
 * c->rlen), c->buf allocated first if c has none. When that allocation fails the buffer is empty
 * and libuv reports UV_ENOBUFS to the read callback, which closes c. */
void edge_conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
/* Give c's request buffers back (c->buf NULL after). Only when nothing in them is in use: no
 * request in progress (its access line written, no write in flight, no upload open) and nothing
 * buffered (c->rlen 0). A later read takes them again. */
void edge_conn_buf_free(conn_t *c);
/* Write whatever can be written now (a waiter woke up). */
void edge_conn_pump(conn_t *c);

/* Phases of the connection timer: each has its own configured bound. */
enum { T_IDLE = 0, T_HEAD, T_BODY, T_SEND };
void edge_conn_timer(conn_t *c, int phase);
void edge_conn_timer_stop(conn_t *c);
/* Count the request in the stats and write its access log line, once per request: the status
 * sent (0 when no byte of the response went out), the bytes the socket took, and for a response
 * ended early (c->resp.cut) its cut=WORD marker. */
void edge_conn_access_log(conn_t *c);
/* Close c, ending the request in progress (if any) early: its access line, written once, says
 * why (cut). edge_conn_close(c) is edge_conn_cut(c, CUT_NONE): the reason is then the drain's
 * forced close, else CUT_ERROR. A reader dropped as too slow is CUT_SLOW_READER whatever the
 * caller saw (the drop shuts its socket down). */
void edge_conn_cut(conn_t *c, conn_cut_t why);
/* The response was sent: next request on a keep-alive connection, or close. */
void edge_conn_response_done(conn_t *c);

/* ---- lingering close (edge_linger.c) ---- */

/* End c after its last response (written whole, its access line written): a lingering close
 * when more input may come (a request was refused before its end, bytes of a next request are
 * buffered in c or waiting in the socket) and the client has not half-closed; else, or with
 * timeouts.linger 0 or the worker stopping, closed at once. */
void edge_conn_end(conn_t *c);
/* Is c in its lingering close? The worker closes such a connection first to admit a new one at
 * its connection cap, and at once when it starts draining. */
bool edge_conn_lingering(const conn_t *c);

/* The core's view of c's request. */
void edge_conn_core_req(conn_t *c, edge_req_t *r);
/* Take the plan in c->resp.plan (made by the core for this request) as the response. */
void edge_conn_plan_ready(conn_t *c);
/* Answer with an error (status, text body). */
void edge_conn_respond_error(conn_t *c, int status);
/* Answer 503 with Retry-After (the edge is at its bound of origin fetches). */
void edge_conn_respond_busy(conn_t *c);
/* Answer with body (copied), or no body (ctype NULL: 201/204). */
void edge_conn_respond_simple(conn_t *c, int status, const char *ctype, const char *body,
                              size_t len, const char *extra);
/* Release the body source of the response. */
void edge_conn_body_free(conn_t *c);

/* ---- handlers ---- */

/* Origin mode (edge_files.c). */
void edge_files_get(conn_t *c);
int edge_files_put_begin(conn_t *c); /* from the head: 0 or an HTTP status */
int edge_files_put_body(conn_t *c, const char *at, size_t len);
void edge_files_put_finish(conn_t *c);
void edge_files_put_abort(conn_t *c);
void edge_files_delete(conn_t *c);

/* Cache mode (edge_cache_serve.c). */
void edge_cache_serve(conn_t *c);
enum { PREP_BLOCKED = 0, PREP_READY = 1 };
/* Decide the head once the object allows it: PREP_READY, or PREP_BLOCKED to wait. */
int edge_cache_prepare(conn_t *c);

/* /healthz, /readyz, /status, /metrics (edge_status.c): true when answered (403 for a peer
 * outside status_allow). */
bool edge_status_serve(conn_t *c);

#endif
