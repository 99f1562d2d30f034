/* snapshot.h: one immutable, reference-counted configuration: server settings and zones. */
#ifndef GEODNSD_SNAPSHOT_H
#define GEODNSD_SNAPSHOT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "arena.h"
#include "health.h"
#include "log.h"
#include "query.h"
#include "rrl.h"
#include "xfr.h"
#include "zone.h"

#define GD_MAX_LISTEN        32
#define GD_METRICS_ALLOW_MAX 16 /* metrics.allow entries */

typedef struct gd_listen {
    struct sockaddr_storage ss;
    socklen_t len;
    char text[80];
} gd_listen_t;

typedef struct gd_config {
    const char *path;
    gd_listen_t listen[GD_MAX_LISTEN];
    size_t nlisten;
    unsigned workers; /* 0 = one per core */
    log_level_t log_level;
    bool syslog;
    uint64_t tcp_idle_ms;
    uint32_t tcp_max_conns; /* per worker */
    uint32_t tcp_max_xfr;   /* zone transfers being sent at once, over all workers */
    uint16_t udp_size;
    const uint8_t *nsid;
    uint16_t nsid_len;
    uint8_t cookie_secret[16]; /* configured, or random once per process */
    bool explain;              /* TXT _explain.<geo name> answered to loopback clients */
    const char **files;        /* every file this snapshot was built from (watched for changes) */
    size_t nfiles;
    const char *zone_dir; /* watched too: files appearing in it */
    /* `health:`: probe state files and admin overrides (read by the health watcher, not part of
     * this snapshot: they change far more often than the config). */
    const char *health_dir;     /* NULL = no health input: every PoP up, no capacity control */
    const char *overrides_path; /* NULL = none */
    health_settings_t health;
    /* `metrics: {listen: ADDR:PORT}` or --metrics: the metrics and status listener. */
    bool has_metrics;
    gd_listen_t metrics;
    /* metrics.allow: who may connect to it (any address when empty). Reloadable. */
    addr_net_t metrics_allow[GD_METRICS_ALLOW_MAX];
    size_t n_metrics_allow;
    rrl_config_t rrl; /* `rrl:` response rate limiting of UDP; rrl.enabled false when absent */
    /* `tsig_keys:` and `transfer:` (zone transfer out and NOTIFY; NULL: transfers refused). */
    xfr_keyring_t xfr_keys;
    xfr_policy_t *xfr;
} gd_config_t;

/* Command-line settings that override the file, and an optional observer of every file a load
 * reads (called before reading it, so a failed load still names the file that failed). */
typedef struct gd_overrides {
    const char *listen[GD_MAX_LISTEN];
    size_t nlisten;
    const char *health_dir; /* --health-dir */
    const char *metrics;    /* --metrics ADDR:PORT or PORT */
    void (*file_seen)(void *ctx, const char *path);
    void *file_seen_ctx;
    /* When set (by another thread), the load stops before its next file (or step) and fails
     * with -ECANCELED; NULL = never cancelled. */
    const atomic_bool *cancel;
} gd_overrides_t;

typedef struct gd_snapshot {
    atomic_uint refs;
    uint64_t generation;
    arena_t arena;
    gd_config_t cfg;
    zone_set_t zones;
    query_env_t env;         /* template for workers (memo filled per worker) */
    struct geo_runtime *geo; /* PoPs, mmdb, nets, policies; NULL without 'pops:' */
    /* Per PoP: its answer counter's slot (metrics.h), filled by the daemon before publishing;
     * env.pop_slot points here then. */
    uint16_t pop_slot[POPS_MAX];
} gd_snapshot_t;

/* Build a snapshot from the server config file and everything it names. On failure returns a
 * negative code with "file:line:col: reason" in err and nothing allocated; -ECANCELED when
 * ov->cancel was set. generation may be 0 and set later, before the snapshot is shared
 * (generation, env.generation and geo->generation). */
int gd_snapshot_load(const char *config_path, const gd_overrides_t *ov, uint64_t generation,
                     gd_snapshot_t **out, char *err, size_t errlen);

/* Give a snapshot that is not shared yet its generation (a reload loads before it knows the
 * generation its publish will take). */
void gd_snapshot_set_generation(gd_snapshot_t *s, uint64_t generation);

void gd_snapshot_ref(gd_snapshot_t *s);
/* The records of all its zones, as logged. */
size_t gd_snapshot_records(const gd_snapshot_t *s);
/* Drop a reference; the last one frees the snapshot. */
void gd_snapshot_unref(gd_snapshot_t *s);

/* Parse "ADDR:PORT" or "[V6ADDR]:PORT". */
int gd_listen_parse(const char *s, gd_listen_t *out);

/* Parse the metrics listener: as gd_listen_parse, or a bare "PORT" / ":PORT" for 127.0.0.1. */
int gd_metrics_listen_parse(const char *s, gd_listen_t *out);

#endif
