/* hc_internal.h: healthcheck's private interfaces: one probe over libuv, one round of probes,
 * and the Prometheus textfile output. */
#ifndef HC_INTERNAL_H
#define HC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "health.h"
#include "pops.h"

#define HC_RESPONSE_MAX    (64 * 1024) /* bytes of a response read; a longer body is cut */
#define HC_REQUEST_MAX     1024        /* a GET request: path and host are each < 256 bytes */
#define HC_USER_AGENT      "geodns-healthcheck/1"
#define HC_CONCURRENCY     64 /* default simultaneous probes */
#define HC_CONCURRENCY_MAX 4096
#define HC_DEADLINE_S      50.0 /* default round deadline: a round fits in a cron minute */

/* ------------------------------------------------------------------ one probe */

/* What to probe: a TCP connect, or an HTTP request whose response is read (at most
 * HC_RESPONSE_MAX bytes) and parsed. */
typedef struct hc_probe_spec {
    struct sockaddr_storage addr; /* address and port */
    bool http;                    /* send request and read the response; else connect only */
    const char *request;          /* borrowed until the callback */
    size_t request_len;
    uint32_t timeout_ms; /* connect to the last byte */
} hc_probe_spec_t;

/* The outcome, valid during the callback only. */
typedef struct hc_outcome {
    bool ok;                        /* connected (tcp), or a complete response parsed (http) */
    char reason[HEALTH_REASON_MAX]; /* when !ok: "connect: connection refused", "timeout ..." */
    double rtt_ms;                  /* connect start to the response's end */
    int status;                     /* http: status code */
    const char *body;               /* http: the body (de-chunked), body_len bytes */
    size_t body_len;
    bool cut; /* http: the body was longer than HC_RESPONSE_MAX allowed */
} hc_outcome_t;

typedef struct hc_probe hc_probe_t;
typedef void (*hc_probe_cb)(const hc_outcome_t *out, void *ctx);

/* Start a probe on loop. cb is called exactly once, from the loop (never from inside this call),
 * or from hc_probe_cancel. The probe frees itself after the callback. Returns 0 or a libuv error
 * (nothing started, no callback): UV_EMFILE or UV_ENFILE when no socket can be opened (the
 * process's or the system's open-file limit), which says nothing about the address. */
int hc_probe_start(uv_loop_t *loop, const hc_probe_spec_t *spec, hc_probe_cb cb, void *ctx,
                   hc_probe_t **out);

/* End a running probe now as a failure with reason; its callback runs before this returns. */
void hc_probe_cancel(hc_probe_t *p, const char *reason);

/* ------------------------------------------------------------------ one round */

typedef struct hc_round hc_round_t;

typedef struct hc_round_stats {
    size_t pops, addrs, up, down, changes; /* probed PoPs and addresses, their states */
    size_t deadline;                       /* probes ended by the round deadline */
    size_t loads, loads_read;              /* PoPs with a status path, and loads read */
    size_t skipped;                        /* PoPs with a probe but no address */
    /* Addresses not probed: a probe found no descriptor or memory while none of the round's own
     * was running to free one, so the round started nothing more (their state and history are
     * kept, their reason says "not probed (...)"), and starved is that libuv error (UV_EMFILE,
     * UV_ENFILE, UV_ENOMEM); 0 when every probe could start. */
    size_t unprobed;
    int starved;
} hc_round_stats_t;

/* Called once when the round ends: hf is the new state (owned by the callee, time and round_ms
 * set), stats the round's figures. */
typedef void (*hc_round_cb)(health_file_t *hf, const hc_round_stats_t *stats, void *ctx);

/* Probe every address of every PoP of pops that has a probe, then read the load of the PoPs
 * with a status path from their first address that is up (one whose probe succeeded this round
 * first), carrying the anti-flap history from prev (may be NULL; matched by PoP name and
 * address). Probes still running after deadline_ms fail with "timeout (round deadline)". A probe
 * that finds no file descriptor or memory waits for a running one to end; when none is running,
 * the round starts nothing more and ends at once with the rest not probed (stats->unprobed,
 * stats->starved). The callback runs from the loop, never inside this call. pops is borrowed
 * until the callback; prev is read during this call only. Returns 0 or -ENOMEM (no callback). */
int hc_round_start(uv_loop_t *loop, const pops_t *pops, const health_file_t *prev,
                   const char *vantage, unsigned concurrency, uint64_t deadline_ms, hc_round_cb cb,
                   void *ctx, hc_round_t **out);

/* Stop a round without calling its callback (the program is stopping). */
void hc_round_abort(hc_round_t *r);

/* ------------------------------------------------------------------ textfile */

/* Write the facts of hf in the Prometheus text format to path, atomically (node-exporter's
 * textfile collector). Returns 0 or -errno with err set. */
int hc_textfile_save(const char *path, const health_file_t *hf, char *err, size_t errlen);

#endif
