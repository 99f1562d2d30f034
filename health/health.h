/* health.h: the health library shared by healthcheck and geodnsd: the probe state file (format,
 * reader, writer), the anti-flap state machine, admin overrides, and the combiner that turns
 * vantages' state files, overrides and capacity into the route_health_t view the router reads.
 * No libuv, no logging: errors go back to the caller as "file:line:col: reason". */
#ifndef GEODNS_HEALTH_H
#define GEODNS_HEALTH_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "pops.h"
#include "route.h"

#define HEALTH_FORMAT      "geodns-health" /* the state file's "format" value */
#define HEALTH_VERSION     1               /* the state file's "version" value */
#define HEALTH_VANTAGE_MAX 64              /* vantage name with the NUL: [A-Za-z0-9_.-]{1,63} */
#define HEALTH_REASON_MAX  128             /* reason text with the NUL */
#define HEALTH_ADDRS_MAX   (2 * POPS_ADDRS_MAX)
#define HEALTH_FILE_MAX    (16u << 20) /* state files larger than this are refused */
/* Values (tree nodes) a state or overrides file may hold: the largest real state file, 1,024
 * PoPs of 32 addresses with their ~18 values each, is about 600,000; a 16 MiB file of tiny values
 * would be 8 million nodes (~700 MB of tree) without this bound. */
#define HEALTH_FILE_NODES_MAX (1u << 20)
#define HEALTH_VANTAGES_MAX   32 /* state files geodnsd reads from one directory */

typedef enum health_state {
    HEALTH_UNKNOWN = 0, /* not probed yet (no history) */
    HEALTH_UP,
    HEALTH_DOWN,
} health_state_t;

/* ------------------------------------------------------------------ state file */

/* One probed address of a PoP, with its anti-flap history. */
typedef struct health_addr {
    int family;       /* AF_INET or AF_INET6 */
    uint8_t addr[16]; /* 4 or 16 bytes used */
    health_state_t state;
    char reason[HEALTH_REASON_MAX]; /* last probe: "http 200", "connect: refused", "timeout" */
    double rtt_ms;                  /* last successful probe's round trip, or -1 */
    uint32_t history;               /* last nhistory results, bit 0 the newest, 1 = success */
    uint8_t nhistory;               /* 0..32 */
    uint32_t ok_streak;             /* consecutive successes, newest backwards */
    uint64_t probes, failures;      /* counters since the state file was first written */
    int64_t since;                  /* unix seconds of the last state change (0 = never) */
} health_addr_t;

/* The largest load a state file holds (capacity is a uint32): the prober refuses a larger
 * reading for its PoP, and the reader refuses a file that has one. */
#define HEALTH_LOAD_MAX 1e15

typedef struct health_pop {
    char name[POPS_NAME_MAX];
    health_state_t state; /* up when any address is up; down when all are down */
    bool has_load;
    double load; /* in the unit of the PoP's capacity, 0 to HEALTH_LOAD_MAX */
    char load_reason[HEALTH_REASON_MAX]; /* why has_load is false, or "" */
    size_t naddrs;                       /* at most HEALTH_ADDRS_MAX */
    health_addr_t *addrs;                /* [naddrs]: this PoP's part of the file's addr_pool */
} health_pop_t;

/* One vantage's state file, DIR/VANTAGE.json:
 *
 *   {"format": "geodns-health", "version": 1, "vantage": "ams", "time": 1764470000,
 *    "round_ms": 412,
 *    "pops": {"fra": {"state": "up", "load": 512.5, "load_reason": "",
 *                     "addresses": {"127.0.1.1": {"state": "up", "reason": "http 200",
 *                        "rtt_ms": 0.8, "history": "11111", "ok_streak": 12,
 *                        "probes": 40, "failures": 1, "since": 1764469000}}}}}
 *
 * "history" is newest first, "1" success, "0" failure. "load" is null when unknown. Unknown
 * keys are ignored (newer writers); a higher "version" is refused. */
typedef struct health_file {
    unsigned version;
    char vantage[HEALTH_VANTAGE_MAX];
    int64_t time; /* unix seconds when the round finished, by the vantage's clock */
    /* Unix seconds, by this host's clock, when health_dir_scan first read this version of the
     * file; 0 when not read from a directory. A reading is dated the earlier of the two, so a
     * vantage whose clock runs ahead cannot date its readings into our future (where they would
     * outrank every other vantage's until our clock caught up), and an unchanged file keeps one
     * date however often it is evaluated. */
    int64_t seen;
    uint32_t round_ms; /* how long the round took */
    size_t npops;
    health_pop_t *pops; /* [npops] */
    /* Every PoP's addresses in one allocation, each PoP given what it holds (a file of 1,024
     * PoPs of one address each takes 1,024 entries, not 32 per PoP). */
    health_addr_t *addr_pool;
    size_t pops_room, addrs_room, addrs_used;
    /* Hash of the PoP names (slot = PoP index + 1, 0 = empty; name_mask + 1 slots), built by
     * health_file_parse so that health_file_pop stays O(1) for each of up to POPS_MAX PoPs. NULL
     * in a file built in memory (healthcheck's round): health_file_pop then scans. */
    uint32_t *name_index;
    size_t name_mask;
} health_file_t;

/* Parse a state file held in memory. name is used in errors ("file:line:col: reason"). On
 * success *out is allocated and owned by the caller (health_file_free). Returns 0, -EINVAL
 * (malformed, wrong format or version, limits), or -ENOMEM. Never reads past len. */
int health_file_parse(const char *name, const char *buf, size_t len, health_file_t **out, char *err,
                      size_t errlen);

/* Read and parse path (at most HEALTH_FILE_MAX bytes). Returns as health_file_parse, or -errno
 * from open/read with the reason in err. */
int health_file_load(const char *path, health_file_t **out, char *err, size_t errlen);

/* Whether a health_file_load error is the reader's want of descriptors or memory (passing, the
 * process's state) rather than anything about the file: the file may well be good, so neither
 * the geodnsd scan nor healthcheck takes it as gone or bad. */
static inline bool health_file_load_short(int rc)
{
    return rc == -EMFILE || rc == -ENFILE || rc == -ENOMEM;
}

/* Write hf as JSON to f. Returns 0 or -EIO. */
int health_file_write(FILE *f, const health_file_t *hf);

/* Write hf to path atomically: a temporary file in the same directory, fsync, rename, fsync of
 * the directory. A reader never sees a partial file. Returns 0 or -errno with err set. */
int health_file_save(const char *path, const health_file_t *hf, char *err, size_t errlen);

void health_file_free(health_file_t *hf);

/* An empty file built in memory (healthcheck's round, tests) with room for npops PoPs and naddrs
 * addresses in all; version set, the rest zero. NULL on ENOMEM. Free with health_file_free. */
health_file_t *health_file_new(size_t npops, size_t naddrs);

/* Append a PoP called name with room for naddrs addresses (at most HEALTH_ADDRS_MAX), none used
 * yet (p->addrs[0..naddrs) are zero). NULL when the file has no room left for either. */
health_pop_t *health_file_add_pop(health_file_t *hf, const char *name, size_t naddrs);

/* The PoP called name, or NULL. O(1) in a parsed file (hashed), a scan in one built in memory. */
const health_pop_t *health_file_pop(const health_file_t *hf, const char *name);

const char *health_state_name(health_state_t s); /* "unknown", "up", "down" */

/* State-file helpers shared by healthcheck (its textfile output, logs, --vantage check). */

#define HEALTH_ADDR_STRLEN 46 /* INET6_ADDRSTRLEN: a textual address with the NUL */

/* Write path atomically as health_file_save does (temporary file in the same directory, fsync,
 * rename, fsync of the directory), with its contents produced by writer(f, ctx), which returns 0
 * or a negative errno. The file is created with mode 0644. Returns 0 or -errno with err set
 * ("path: reason"); on failure path is untouched and no temporary file is left. */
int health_file_replace(const char *path, int (*writer)(FILE *f, const void *ctx), const void *ctx,
                        char *err, size_t errlen);

/* The address of a as text ("127.0.1.1", "fd00::1") in out; returns out. */
const char *health_addr_format(const health_addr_t *a, char out[HEALTH_ADDR_STRLEN]);

/* True when name is a valid vantage name: 1 to 63 characters of A-Z a-z 0-9 _ . -, the first not
 * a dot (DIR/NAME.json must not be a hidden file, which geodnsd skips). */
bool health_vantage_valid(const char *name);

/* ------------------------------------------------------------------ anti-flap */

/* Record one probe result for a: shift it into the history (keeping the PoP probe's window),
 * update counters, reason and rtt, and apply the thresholds of pr: an address goes down after
 * pr->down_after failures within the last pr->window probes, and up after pr->up_after
 * consecutive successes. A first probe of an unknown address decides at once (up on success,
 * down on failure). Returns true when the state changed (since is set to now). */
bool health_addr_record(health_addr_t *a, const pops_probe_t *pr, bool ok, const char *reason,
                        double rtt_ms, int64_t now);

/* ------------------------------------------------------------------ overrides */

typedef enum health_force {
    HEALTH_FORCE_NONE = 0,
    HEALTH_FORCE_UP,    /* up whatever the probes say */
    HEALTH_FORCE_DOWN,  /* down whatever the probes say */
    HEALTH_FORCE_DRAIN, /* the share falls linearly to zero over `over` seconds, then down */
} health_force_t;

typedef struct health_override {
    int pop;        /* PoP index */
    int family;     /* 0 for the whole PoP, else an address: AF_INET / AF_INET6 */
    int addr_index; /* index into the PoP's v4 / v6 addresses */
    health_force_t force;
    int64_t since; /* drain start (unix seconds); 0 = when first seen by the combiner */
    int64_t over;  /* drain duration in seconds */
    int64_t until; /* expiry (unix seconds), 0 = none */
    char reason[HEALTH_REASON_MAX];
    unsigned line; /* position in the file, for explain */
} health_override_t;

/* The admin overrides file:
 *
 *   overrides:
 *     fra: {state: down, reason: "fibre cut", until: "2026-12-01T12:00:00Z"}
 *     nyc/127.0.2.1: {state: down}            # one address of a PoP
 *     sin: {state: drain, over: 10m, since: "2026-11-30T10:00:00Z", reason: "maintenance"}
 *     gru: {state: up}                        # ignore the probes
 *
 * until and since: RFC 3339 UTC ("...Z") or unix seconds. Names must exist in pops. */
typedef struct health_overrides {
    size_t n;
    health_override_t *o; /* [n] */
} health_overrides_t;

/* Parse an overrides document from its root node against pops. An empty document (or no
 * "overrides" key) is valid and overrides nothing. On success *out is allocated and owned by the
 * caller. Returns 0, -EINVAL with "file:line:col: reason", or -ENOMEM. */
int health_overrides_parse(const yt_node_t *root, const pops_t *pops, health_overrides_t **out,
                           char *err, size_t errlen);
int health_overrides_load(const char *path, const pops_t *pops, health_overrides_t **out, char *err,
                          size_t errlen);
void health_overrides_free(health_overrides_t *ov);

/* ------------------------------------------------------------------ combiner */

typedef enum health_policy {
    HEALTH_ASSUME_UP = 0,
    HEALTH_ASSUME_DOWN,
    HEALTH_KEEP_LAST, /* all-stale only: keep the last combined state */
} health_policy_t;

/* geodnsd's `health:` settings (docs/health.md). Times in seconds. */
typedef struct health_settings {
    unsigned quorum;           /* down when this many fresh vantages say down (default 1) */
    int64_t max_age;           /* a state file older than this is stale (default 120) */
    health_policy_t startup;   /* before any state file: assume-up (default) or assume-down */
    health_policy_t all_stale; /* no fresh file left: keep-last (default), assume-up/-down */
    int64_t slow_start;        /* a PoP coming back ramps its share over this (default 60) */
    int64_t recent;            /* answers use ttl_short this long after a change (default 120) */
    uint32_t ttl_short;        /* default 10 */
    int64_t lag;               /* how late load follows a share change: TTL + probe interval
                                  (default 60) */
    unsigned spill;            /* shed clients spread over this many next PoPs (default 3) */
} health_settings_t;

/* Fill s with the defaults above. */
void health_settings_default(health_settings_t *s);

/* Per-PoP explanation of the combined view, for `geodnsd explain` and the status page. */
typedef struct health_pop_report {
    /* Per input file, its say about the PoP's own addresses (up when it has one up, down when
     * all it has are down); UNKNOWN when the file has a state for none of them. */
    health_state_t vantage_state[HEALTH_VANTAGES_MAX];
    bool vantage_fresh[HEALTH_VANTAGES_MAX];
    health_state_t state;        /* combined */
    char why[HEALTH_REASON_MAX]; /* "2 of 3 fresh vantages say down (quorum 2)", ... */
    bool has_load;
    double load, ratio;                /* load and load / capacity (ratio 0 when no capacity) */
    double keep;                       /* share kept, 0..1, all factors combined */
    double keep_capacity, keep_region; /* the capacity controller's shares */
    double slow_start, drain;          /* ramp factors, 1 when not ramping */
    const health_override_t *override; /* the PoP-level override in force, or NULL */
    int64_t changed;                   /* unix seconds of the last combined change, 0 = never */
} health_pop_report_t;

typedef struct health_report {
    size_t nfiles;
    char vantage[HEALTH_VANTAGES_MAX][HEALTH_VANTAGE_MAX];
    /* Not fresh because its time is ahead of the clock by more than max_age (a vantage's clock
     * ahead, or this host's behind), not because it is old. */
    bool vantage_ahead[HEALTH_VANTAGES_MAX];
    int64_t file_time[HEALTH_VANTAGES_MAX];
    bool any_fresh;   /* at least one fresh file */
    bool started;     /* any state file was ever seen */
    const char *mode; /* static text: "probes", "startup: assume up", "all stale: keep last", ... */
    health_pop_report_t pop[POPS_MAX];
} health_report_t;

/* The combiner keeps what must carry from one update to the next: per PoP (by name, so that it
 * survives a reload of the PoP file) the last combined state and when it changed, the capacity
 * controller's shares and their recent history, slow-start and drain start times. */
typedef struct health_ctl health_ctl_t;

health_ctl_t *health_ctl_new(void);
void health_ctl_free(health_ctl_t *ctl);

/* Compute the view at time now (unix seconds, fractional) from the vantages' state files (any
 * order, stale ones included: the combiner judges age), the overrides (may be NULL) and pops.
 * Fills view and, when report is not NULL, the report. Updates ctl. Returns true when view
 * differs from the previous call's (the caller then publishes a new health snapshot).
 *
 * Rules: an address is down when at least `quorum` fresh vantages (or every fresh vantage, when
 * fewer) say down; a PoP is up when any of its addresses is up; addresses absent from every file
 * follow their PoP. PoPs without a probe are always up. Overrides win over probes; expired ones
 * are ignored. Capacity: see health_cap_*. The kept share is the minimum of the PoP's capacity
 * share, its region's, slow start and drain. */
bool health_ctl_update(health_ctl_t *ctl, const pops_t *pops, const health_settings_t *s,
                       const health_file_t *const *files, size_t nfiles,
                       const health_overrides_t *ov, double now, route_health_t *view,
                       health_report_t *report);

/* ------------------------------------------------------------------ a health directory */

/* What tells one version of a file from another without reading it: a file rewritten (renamed
 * over, resized or touched) gets another key. */
typedef struct health_file_key {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
} health_file_key_t;

void health_file_key_of(const struct stat *st, health_file_key_t *k);
bool health_file_key_eq(const health_file_key_t *a, const health_file_key_t *b);

/* The vantages' state files of one directory (geodnsd's `health.dir`), parsed, with each one's
 * last good version kept when a newer one is corrupt. */
typedef struct health_dir health_dir_t;

health_dir_t *health_dir_new(void);
void health_dir_free(health_dir_t *hd);

/* Re-read path's *.json files (not hidden ones: healthcheck's temporary files start with a dot)
 * that changed (inode, size or mtime), the first HEALTH_VANTAGES_MAX by name. A file that fails
 * to parse, or whose vantage is not its name (VANTAGE.json: so a copy under another name is not
 * a second vote), is reported once through warn (may be NULL; its last good version stays in
 * use); a vanished file is dropped. Returns the number of files now held; *files points at them
 * (valid until the next call). */
size_t health_dir_scan(health_dir_t *hd, const char *path, void (*warn)(void *ctx, const char *msg),
                       void *ctx, const health_file_t *const **files);

/* The view from the state files of dir (NULL: none) and the overrides file (NULL: none) as they
 * are now, with no history (a new health_ctl_t): `geodnsd explain` and ecs-scope-check. What a
 * server would warn about in dir goes to warn (may be NULL). Returns 0; -ENOMEM; or -EINVAL with
 * err set when the overrides file is bad, the view then computed without it. */
int health_view_once(const pops_t *pops, const health_settings_t *s, const char *dir,
                     const char *overrides_path, double now,
                     void (*warn)(void *ctx, const char *msg), void *ctx, route_health_t *view,
                     health_report_t *report, char *err, size_t errlen);

/* ------------------------------------------------------------------ capacity controller */

/* The static shedding curve: the share of clients a PoP at load ratio r sheds, 0 below low,
 * rising linearly to 1 at high. At r = 0.90 with 0.80/0.95 it is 2/3. */
double health_shed_share(double ratio, const pops_watermarks_t *wm);

/* The controller for one PoP or region. Load acts a `lag` late on a share change (DNS TTL plus
 * probe interval), so instead of feeding the observed ratio back directly (which swings: the
 * curve's slope is 1/(high-low), about 7) it estimates the demand behind the observed load from
 * the shares in force lag/2 to 2 lag before the reading (docs/health.md, "Capacity"), and moves
 * the share towards the curve's fixed point for that demand: keep = 1 - shed(demand x keep).
 * Shedding applies at once; taking clients back is rate-limited. Past the high watermark the
 * share is 0. */
typedef struct health_cap {
    double keep;                   /* current share kept, 0..1 */
    double hist_t[64], hist_k[64]; /* (time, keep) ring of share changes */
    unsigned hist_n, hist_head;
    double last_load_time; /* time of the last load reading used */
    double last_step;      /* `now` of the last step (rate limit of the way back up) */
    double demand;         /* estimated demand, as a ratio of capacity at a share of 1 */
} health_cap_t;

void health_cap_init(health_cap_t *c);

/* Feed one load reading (ratio = load / capacity, taken at load_time) at time now. Readings not
 * newer than the last one used are ignored. Returns the new share kept. */
double health_cap_step(health_cap_t *c, double ratio, double load_time, double now,
                       const pops_watermarks_t *wm, double lag);

#endif
