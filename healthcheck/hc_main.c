/* hc_main.c: healthcheck's entry point: options, the PoP file, the lock, rounds once or on an
 * interval, the state file and the textfile output. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hc_internal.h"
#include "listen.h"
#include "log.h"

#define MAIN_EXIT_OK      0
#define MAIN_EXIT_CONFIG  1 /* usage or configuration error */
#define MAIN_EXIT_RUNTIME 2 /* cannot write, lock not obtained, interrupted */
#define MAIN_LOCK_POLL_MS 100
#define MAIN_INTERVAL_MAX 86400.0 /* seconds */
/* Rounds closer than this would probe every PoP hundreds of times a second: a typo, not a plan. */
#define MAIN_INTERVAL_MIN 0.1
#define MAIN_DEADLINE_MAX 3600.0 /* seconds */
#define MAIN_MS_PER_S     1000.0
#define MAIN_ERR_MAX      (2 * PATH_MAX)
#define MAIN_SUMMARY_MAX  256 /* the optional parts of a round's summary line */

typedef enum main_phase {
    MAIN_IDLE = 0, /* between rounds */
    MAIN_LOCKING,  /* waiting for the lock */
    MAIN_PROBING,  /* a round is running */
} main_phase_t;

typedef struct hc_main {
    uv_loop_t *loop;
    uv_timer_t tick; /* the next round, or the next try of the lock */
    uv_signal_t sigterm, sigint;
    const char *config, *vantage, *out_dir, *textfile;
    bool once;
    double interval_s, deadline_s;
    unsigned concurrency;
    char state_path[PATH_MAX], lock_path[PATH_MAX];
    int lock_fd;
    pops_t *pops;        /* the last good PoP file */
    health_file_t *last; /* the last state written, the history if the file cannot be read */
    hc_round_t *round;
    main_phase_t phase;
    uint64_t round_begin; /* uv_now when the round began (lock wait included) */
    uint64_t lock_until;  /* uv_now after which the lock wait gives up */
    bool lock_waiting_logged;
    int exit_code;
} hc_main_t;

static void main_round_begin(hc_main_t *m);
static void main_lock_try(hc_main_t *m);

static void main_on_next_round(uv_timer_t *t)
{
    main_round_begin(t->data);
}

static void main_on_lock_retry(uv_timer_t *t)
{
    main_lock_try(t->data);
}

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: healthcheck (--once | --interval S) -c POPS --vantage NAME --out DIR [options]\n"
        "Probes every address of every PoP with a probe in the PoP file and writes the\n"
        "vantage's state file DIR/NAME.json for geodnsd (docs/healthcheck.md).\n"
        "  -c, --config FILE     the PoP file (e.g. zones/pops.yaml)\n"
        "      --vantage NAME    this prober's name (1-63 of A-Z a-z 0-9 _ . -, no leading .)\n"
        "      --out DIR         the directory of the state file\n"
        "      --once            one round, then exit (for cron)\n"
        "      --interval S      a round every S seconds (fractions allowed) until SIGTERM\n"
        "      --deadline S      bound of one round (default 50 with --once, else\n"
        "                        min(interval, 50)); probes still running then fail\n"
        "      --concurrency N   simultaneous probes (default %d)\n"
        "      --textfile FILE   also write the state in the Prometheus text format\n"
        "  -q, --quiet           log warnings and errors only\n"
        "  -h, --help            this text\n"
        "Exit: 0 a round was written, 1 usage or configuration error, 2 runtime error\n"
        "(cannot write, lock not obtained within the deadline, interrupted).\n",
        HC_CONCURRENCY);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "healthcheck: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\ntry 'healthcheck --help'\n");
    va_end(ap);
    return MAIN_EXIT_CONFIG;
}

static bool parse_seconds(const char *s, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v <= 0 || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* ------------------------------------------------------------------ stopping */

static void main_stop(hc_main_t *m)
{
    if (m->round) {
        hc_round_abort(m->round);
        m->round = NULL;
    }
    if (!uv_is_closing((uv_handle_t *)&m->tick)) {
        uv_close((uv_handle_t *)&m->tick, NULL);
        uv_close((uv_handle_t *)&m->sigterm, NULL);
        uv_close((uv_handle_t *)&m->sigint, NULL);
    }
}

static void main_on_signal(uv_signal_t *s, int signum)
{
    hc_main_t *m = s->data;
    if (m->once || m->phase != MAIN_IDLE) {
        log_warn("signal %d: stopping; this round is not written", signum);
        if (m->once)
            m->exit_code = MAIN_EXIT_RUNTIME;
    } else {
        log_info("signal %d: stopping", signum);
    }
    main_stop(m);
}

/* ------------------------------------------------------------------ rounds */

static void main_unlock(hc_main_t *m)
{
    if (m->lock_fd >= 0)
        flock(m->lock_fd, LOCK_UN);
}

/* After a round (written or not): exit with --once, else wait for the next one. */
static void main_round_end(hc_main_t *m, int exit_code)
{
    m->phase = MAIN_IDLE;
    if (m->once) {
        m->exit_code = exit_code;
        main_stop(m);
        return;
    }
    uint64_t next = m->round_begin + (uint64_t)(m->interval_s * MAIN_MS_PER_S);
    uint64_t now = uv_now(m->loop);
    uv_timer_start(&m->tick, main_on_next_round, next > now ? next - now : 0, 0);
}

static void main_on_round(health_file_t *hf, const hc_round_stats_t *st, void *ctx)
{
    hc_main_t *m = ctx;
    char err[MAIN_ERR_MAX];
    int code = MAIN_EXIT_OK;
    bool written = false, textfile_failed = false;
    m->round = NULL;
    if (st->starved)
        code = MAIN_EXIT_RUNTIME; /* the prober's own lack of descriptors or memory */
    if (st->addrs && st->unprobed == st->addrs) {
        /* Nothing was measured (the round logged why): a fresh file would pass the last round's
         * states off as new. The old file stays, and geodnsd lets it go stale after max_age, as
         * for a vantage that stopped. */
    } else if (health_file_save(m->state_path, hf, err, sizeof(err))) {
        log_error("cannot write the state file: %s", err);
        code = MAIN_EXIT_RUNTIME;
    } else {
        written = true;
        if (m->textfile && hc_textfile_save(m->textfile, hf, err, sizeof(err))) {
            log_error("cannot write the textfile: %s", err);
            code = MAIN_EXIT_RUNTIME;
            textfile_failed = true;
        }
    }
    main_unlock(m);
    char extra[MAIN_SUMMARY_MAX] = "";
    size_t off = 0;
    if (st->deadline)
        off += (size_t)snprintf(extra + off, sizeof(extra) - off, ", %zu ended by the deadline",
                                st->deadline);
    if (st->loads && off < sizeof(extra))
        off += (size_t)snprintf(extra + off, sizeof(extra) - off, ", load read for %zu of %zu",
                                st->loads_read, st->loads);
    if (st->unprobed && off < sizeof(extra))
        off += (size_t)snprintf(extra + off, sizeof(extra) - off, ", %zu not probed (%s)",
                                st->unprobed, uv_strerror(st->starved));
    if (st->skipped && off < sizeof(extra))
        snprintf(extra + off, sizeof(extra) - off, ", %zu not probed (no addresses)", st->skipped);
    /* The state file is what geodnsd reads: say whether it was written, whatever the textfile. */
    log_msg(code ? LOG_LEVEL_ERROR : LOG_LEVEL_INFO,
            "round: %zu PoPs, %zu addresses in %u ms: %zu up, %zu down, %zu changes%s; %s %s%s",
            st->pops, st->addrs, hf->round_ms, st->up, st->down, st->changes, extra,
            written ? "wrote" : "not written:", m->state_path,
            textfile_failed ? " (not the textfile)" : "");
    if (written) {
        health_file_free(m->last);
        m->last = hf;
    } else {
        health_file_free(hf);
    }
    main_round_end(m, code);
}

/* The previous state: the file (another run may have written it), else the last round's. A file
 * missing, corrupt or of another vantage gives the last round's (NULL at first: the history starts
 * fresh). A file that could not be read for lack of descriptors or memory returns that -errno,
 * logged: it may well hold the history, and a round made without it would reset the anti-flap
 * streaks and write them so. */
static int main_previous(hc_main_t *m, health_file_t **prev, bool *owned)
{
    char err[MAIN_ERR_MAX];
    *owned = true;
    int rc = health_file_load(m->state_path, prev, err, sizeof(err));
    if (health_file_load_short(rc)) {
        log_error("cannot read the previous state, %s; this round is not made, so that the "
                  "history in the file is not lost%s",
                  err, rc == -ENOMEM ? "" : " (raise the open-file limit, ulimit -n)");
        return rc;
    }
    if (!rc && strcmp((*prev)->vantage, m->vantage)) {
        snprintf(err, sizeof(err), "%s: written by vantage '%s', not '%s'", m->state_path,
                 (*prev)->vantage, m->vantage);
        health_file_free(*prev);
        *prev = NULL;
        rc = -EINVAL;
    }
    if (rc && rc != -ENOENT)
        log_warn("previous state unreadable, %s: %s",
                 m->last ? "keeping this process's history" : "the history starts fresh", err);
    if (!rc)
        return 0;
    *owned = false;
    *prev = m->last;
    return 0;
}

static void main_probe(hc_main_t *m)
{
    bool owned;
    health_file_t *prev;
    if (main_previous(m, &prev, &owned)) {
        main_unlock(m);
        main_round_end(m, MAIN_EXIT_RUNTIME);
        return;
    }
    uint64_t deadline_ms = (uint64_t)(m->deadline_s * MAIN_MS_PER_S);
    m->phase = MAIN_PROBING;
    int rc = hc_round_start(m->loop, m->pops, prev, m->vantage, m->concurrency, deadline_ms,
                            main_on_round, m, &m->round);
    if (owned)
        health_file_free(prev);
    if (rc) {
        log_error("cannot start a round: %s", strerror(-rc));
        main_unlock(m);
        main_round_end(m, MAIN_EXIT_RUNTIME);
    }
}

static void main_lock_try(hc_main_t *m)
{
    if (m->lock_fd < 0) {
        m->lock_fd = open(m->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (m->lock_fd < 0) {
            int e = errno;
            struct stat st;
            bool dir_ok = stat(m->out_dir, &st) == 0 && S_ISDIR(st.st_mode);
            if (!dir_ok && e == ENOENT)
                log_error("--out %s: no such directory (healthcheck does not create it; it writes "
                          "%s.json there)",
                          m->out_dir, m->vantage);
            else if (!dir_ok)
                log_error("--out %s: not a directory", m->out_dir);
            else
                log_error("cannot open the lock file %s: %s", m->lock_path, strerror(e));
            main_round_end(m, MAIN_EXIT_RUNTIME);
            return;
        }
    }
    if (!flock(m->lock_fd, LOCK_EX | LOCK_NB)) {
        if (m->lock_waiting_logged)
            log_info("lock %s obtained", m->lock_path);
        main_probe(m);
        return;
    }
    if (errno != EWOULDBLOCK && errno != EINTR) {
        log_error("cannot lock %s: %s", m->lock_path, strerror(errno));
        main_round_end(m, MAIN_EXIT_RUNTIME);
        return;
    }
    if (uv_now(m->loop) >= m->lock_until) {
        log_error("another healthcheck of vantage '%s' holds %s: gave up after %.3g s (the "
                  "deadline); this round is not written",
                  m->vantage, m->lock_path, m->deadline_s);
        main_round_end(m, MAIN_EXIT_RUNTIME);
        return;
    }
    if (!m->lock_waiting_logged)
        log_info("waiting for %s, held by another healthcheck run", m->lock_path);
    m->lock_waiting_logged = true;
    uv_timer_start(&m->tick, main_on_lock_retry, MAIN_LOCK_POLL_MS, 0);
}

static void main_round_begin(hc_main_t *m)
{
    m->round_begin = uv_now(m->loop);
    m->lock_until = m->round_begin + (uint64_t)(m->deadline_s * MAIN_MS_PER_S);
    m->lock_waiting_logged = false;
    m->phase = MAIN_LOCKING;
    if (!m->once) {
        /* The PoP file may have changed: a bad one keeps the last good one in use. */
        char err[MAIN_ERR_MAX];
        pops_t *p = NULL;
        if (pops_load(m->config, &p, err, sizeof(err))) {
            log_error("%s (keeping the last good PoP file)", err);
        } else {
            pops_free(m->pops);
            m->pops = p;
        }
    }
    main_lock_try(m);
}

/* ------------------------------------------------------------------ main */

static int main_options(hc_main_t *m, int argc, char **argv)
{
    enum { OPT_VANTAGE = 256, OPT_OUT, OPT_ONCE, OPT_INTERVAL, OPT_DEADLINE, OPT_CONC, OPT_TEXT };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"vantage", required_argument, NULL, OPT_VANTAGE},
        {"out", required_argument, NULL, OPT_OUT},
        {"once", no_argument, NULL, OPT_ONCE},
        {"interval", required_argument, NULL, OPT_INTERVAL},
        {"deadline", required_argument, NULL, OPT_DEADLINE},
        {"concurrency", required_argument, NULL, OPT_CONC},
        {"textfile", required_argument, NULL, OPT_TEXT},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool quiet = false;
    int o;
    m->concurrency = HC_CONCURRENCY;
    while ((o = getopt_long(argc, argv, "c:qh", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            m->config = optarg;
            break;
        case OPT_VANTAGE:
            m->vantage = optarg;
            break;
        case OPT_OUT:
            m->out_dir = optarg;
            break;
        case OPT_ONCE:
            m->once = true;
            break;
        case OPT_INTERVAL:
            if (!parse_seconds(optarg, MAIN_INTERVAL_MIN, MAIN_INTERVAL_MAX, &m->interval_s))
                return usage_error("--interval '%s': give seconds, at least 0.1, at most 86400",
                                   optarg);
            break;
        case OPT_DEADLINE:
            if (!parse_seconds(optarg, 0, MAIN_DEADLINE_MAX, &m->deadline_s))
                return usage_error("--deadline '%s': give seconds, more than 0, at most 3600",
                                   optarg);
            break;
        case OPT_CONC: {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (*optarg < '0' || *optarg > '9' || *end || v < 1 || v > HC_CONCURRENCY_MAX)
                return usage_error("--concurrency '%s': give 1 to 4096", optarg);
            m->concurrency = (unsigned)v;
            break;
        }
        case OPT_TEXT:
            m->textfile = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            usage(stdout);
            exit(MAIN_EXIT_OK);
        default:
            return usage_error("%s", "unknown option");
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (m->once == (m->interval_s > 0))
        return usage_error("%s", "give exactly one of --once and --interval S");
    if (!m->config || !m->vantage || !m->out_dir)
        return usage_error("%s", "-c POPS, --vantage NAME and --out DIR are required");
    if (!health_vantage_valid(m->vantage))
        return usage_error(
            "--vantage '%s': give 1 to 63 characters of A-Z a-z 0-9 _ . -, not starting with '.' "
            "(geodnsd skips hidden files)",
            m->vantage);
    if (m->deadline_s <= 0)
        m->deadline_s = m->once || m->interval_s > HC_DEADLINE_S ? HC_DEADLINE_S : m->interval_s;
    int n1 = snprintf(m->state_path, sizeof(m->state_path), "%s/%s.json", m->out_dir, m->vantage);
    int n2 = snprintf(m->lock_path, sizeof(m->lock_path), "%s/.%s.lock", m->out_dir, m->vantage);
    if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof(m->state_path) ||
        (size_t)n2 >= sizeof(m->lock_path))
        return usage_error("--out '%s': path too long", m->out_dir);
    log_setup(quiet ? LOG_LEVEL_WARN : LOG_LEVEL_INFO, false, "healthcheck");
    return MAIN_EXIT_OK;
}

/* The loop and its handles. Each needs file descriptors (the loop's epoll, the signal pipe): with
 * an open-file limit too low for them, a libuv error, everything made so far closed again. */
static int main_loop_init(hc_main_t *m)
{
    static uv_loop_t loop;
    /* libuv aborts the process when its first loop cannot make the signal pipe: the few
     * descriptors a loop takes (epoll, the signal pipes, the async eventfd) are checked first. */
    int rc = listen_nofile_spare(LISTEN_LOOP_FDS);
    if (rc || (rc = uv_loop_init(&loop)))
        return rc;
    m->loop = &loop;
    rc = uv_signal_init(m->loop, &m->sigterm);
    if (!rc) {
        rc = uv_signal_init(m->loop, &m->sigint);
        if (rc)
            uv_close((uv_handle_t *)&m->sigterm, NULL);
    }
    if (rc) {
        uv_run(m->loop, UV_RUN_DEFAULT); /* the close callbacks */
        uv_loop_close(m->loop);
        return rc;
    }
    uv_timer_init(m->loop, &m->tick);
    m->tick.data = m->sigterm.data = m->sigint.data = m;
    return 0;
}

int main(int argc, char **argv)
{
    static hc_main_t m;
    m.lock_fd = -1;
    int rc = main_options(&m, argc, argv);
    if (rc)
        return rc;
    char err[MAIN_ERR_MAX];
    if (pops_load(m.config, &m.pops, err, sizeof(err))) {
        log_error("%s", err);
        return MAIN_EXIT_CONFIG;
    }
    /* A probe writing to a peer that has closed must get EPIPE, not kill the prober. */
    signal(SIGPIPE, SIG_IGN);
    rc = main_loop_init(&m);
    if (rc) {
        log_error("cannot start the event loop: %s (raise the open-file limit, ulimit -n)",
                  uv_strerror(rc));
        pops_free(m.pops);
        return MAIN_EXIT_RUNTIME;
    }
    uv_signal_start(&m.sigterm, main_on_signal, SIGTERM);
    uv_signal_start(&m.sigint, main_on_signal, SIGINT);
    main_round_begin(&m);
    uv_run(m.loop, UV_RUN_DEFAULT);
    uv_loop_close(m.loop);
    if (m.lock_fd >= 0)
        close(m.lock_fd);
    pops_free(m.pops);
    health_file_free(m.last);
    return m.exit_code;
}
