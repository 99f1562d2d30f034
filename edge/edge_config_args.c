/* edge_config_args.c: segment-edge's command line (applied over the YAML file it names) and the
 * check of the configuration that file and command line make together. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_config.h"

static int arg_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int arg_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static const char usage[] =
    "usage: segment-edge [-c FILE] --listen HOST:PORT (--root DIR | --origin URL...) [options]\n"
    "  -c, --config FILE      YAML configuration (command line options override it)\n"
    "  --listen HOST:PORT     listen address (repeatable; [::1]:PORT for IPv6)\n"
    "  --status-listen HOST:PORT  status listener: /healthz /readyz /status /metrics only,\n"
    "                         outside max_connections (repeatable)\n"
    "  --root DIR             origin mode: serve DIR, accept PUT/DELETE from upload_allow\n"
    "  --follow-symlinks      origin mode: follow symbolic links inside DIR (never out of it)\n"
    "  --origin URL           edge mode: pull-through cache of URL (repeatable, failover order)\n"
    "  --cache-mem SIZE       memory cache budget (default 256M)\n"
    "  --max-object SIZE      larger bodies are streamed through, not stored (default budget/8)\n"
    "  --passthrough-window SIZE  bytes held per streamed-through body (default 4M)\n"
    "  --max-fills N          origin fetches in flight at once (default 128); a miss past it\n"
    "                         gets 503 with Retry-After: 1\n"
    "  --cache-disk DIR       disk tier for objects evicted from memory (files removed at start)\n"
    "  --cache-disk-size SIZE disk tier budget (default 1G)\n"
    "  --workers N            worker threads, one loop each (default 1)\n"
    "  --throttle BYTES/S     origin mode: send bodies at this rate (test aid)\n"
    "  --log-level LEVEL      error, warn, info, debug\n"
    "  --no-access-log        no access log lines\n"
    "  -h, --help             this text\n";

/* A count from 1 to max written in decimal: 0, or -1 with *out unchanged. */
static int arg_count(const char *v, long max, uint32_t *out)
{
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < 1 || n > max) {
        return -1;
    }
    *out = (uint32_t)n;
    return 0;
}

/* The value of --listen or --status-listen (opt) into list, which holds *count; the first one
 * given (*set false) replaces the file's. */
static int arg_listen(const char *opt, const char *v, char (*list)[EDGE_LISTEN_TEXT], size_t *count,
                      bool *set, char *err, size_t errlen)
{
    if (!*set) {
        *count = 0;
        *set = true;
    }
    if (*count >= EDGE_MAX_LISTEN) {
        return arg_fail(err, errlen, "%s %s: too many addresses (max %d)", opt, v, EDGE_MAX_LISTEN);
    }
    char why[160];
    if (edge_listen_check(v, (const char(*)[EDGE_LISTEN_TEXT])list, *count, why, sizeof(why))) {
        return arg_fail(err, errlen, "%s %s: %s", opt, v, why);
    }
    snprintf(list[(*count)++], EDGE_LISTEN_TEXT, "%s", v);
    return 0;
}

int edge_config_args(edge_config_t *cfg, int argc, char **argv, char *err, size_t errlen)
{
    /* The file first, so that options override it. */
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
            int rc = edge_config_load_file(cfg, argv[i + 1], err, errlen);
            if (rc) {
                return rc;
            }
        }
    }
    bool listen_set = false;
    bool status_listen_set = false;
    bool origin_set = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return 1;
        }
        if (strcmp(a, "--no-access-log") == 0) {
            cfg->access_log = false;
            continue;
        }
        if (strcmp(a, "--follow-symlinks") == 0) {
            cfg->follow_symlinks = true;
            continue;
        }
        if (!v) {
            return arg_fail(err, errlen, "unknown option or missing value: %s\n%s", a, usage);
        }
        i++;
        if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
            continue;
        } else if (strcmp(a, "--listen") == 0) {
            int rc = arg_listen(a, v, cfg->listen, &cfg->n_listen, &listen_set, err, errlen);
            if (rc) {
                return rc;
            }
        } else if (strcmp(a, "--status-listen") == 0) {
            int rc = arg_listen(a, v, cfg->status_listen, &cfg->n_status_listen, &status_listen_set,
                                err, errlen);
            if (rc) {
                return rc;
            }
        } else if (strcmp(a, "--root") == 0) {
            if (strlen(v) >= sizeof(cfg->root)) {
                return arg_fail(err, errlen, "--root: path too long");
            }
            snprintf(cfg->root, sizeof(cfg->root), "%s", v);
        } else if (strcmp(a, "--origin") == 0) {
            if (!origin_set) {
                cfg->n_origins = 0;
                origin_set = true;
            }
            if (cfg->n_origins >= EDGE_MAX_ORIGINS ||
                edge_origin_parse(v, &cfg->origins[cfg->n_origins]) != 0) {
                return arg_fail(err, errlen, "--origin %s: expected http://HOST:PORT[/prefix]", v);
            }
            cfg->n_origins++;
        } else if (strcmp(a, "--cache-mem") == 0) {
            if (edge_size_parse(v, &cfg->cache_mem) != 0 || cfg->cache_mem < (1u << 20)) {
                return arg_fail(err, errlen, "--cache-mem %s: expected a size of at least 1M", v);
            }
        } else if (strcmp(a, "--max-object") == 0) {
            if (edge_size_parse(v, &cfg->max_object) != 0) {
                return arg_fail(err, errlen, "--max-object %s: expected a size", v);
            }
        } else if (strcmp(a, "--passthrough-window") == 0) {
            if (edge_size_parse(v, &cfg->passthrough_window) != 0 ||
                cfg->passthrough_window < EDGE_PASSTHROUGH_WINDOW_MIN) {
                return arg_fail(err, errlen,
                                "--passthrough-window %s: expected a size of at least 128k", v);
            }
        } else if (strcmp(a, "--max-fills") == 0) {
            if (arg_count(v, EDGE_MAX_FILLS_MAX, &cfg->max_fills) != 0) {
                return arg_fail(err, errlen, "--max-fills %s: expected 1..%d", v,
                                EDGE_MAX_FILLS_MAX);
            }
        } else if (strcmp(a, "--cache-disk") == 0) {
            if (strlen(v) >= sizeof(cfg->cache_disk_path) || !*v) {
                return arg_fail(err, errlen, "--cache-disk: bad path");
            }
            snprintf(cfg->cache_disk_path, sizeof(cfg->cache_disk_path), "%s", v);
        } else if (strcmp(a, "--cache-disk-size") == 0) {
            if (edge_size_parse(v, &cfg->cache_disk_size) != 0 ||
                cfg->cache_disk_size < (1u << 20)) {
                return arg_fail(err, errlen, "--cache-disk-size %s: expected at least 1M", v);
            }
        } else if (strcmp(a, "--workers") == 0) {
            if (arg_count(v, 64, &cfg->workers) != 0) {
                return arg_fail(err, errlen, "--workers %s: expected 1..64", v);
            }
        } else if (strcmp(a, "--throttle") == 0) {
            if (edge_size_parse(v, &cfg->throttle) != 0) {
                return arg_fail(err, errlen, "--throttle %s: expected bytes per second", v);
            }
        } else if (strcmp(a, "--log-level") == 0) {
            snprintf(cfg->log_level, sizeof(cfg->log_level), "%s", v);
        } else {
            return arg_fail(err, errlen, "unknown option: %s\n%s", a, usage);
        }
    }
    return 0;
}

int edge_config_validate(const edge_config_t *cfg, char *err, size_t errlen)
{
    if (cfg->n_listen == 0) {
        return arg_fail(err, errlen, "no listen address (--listen HOST:PORT)");
    }
    if (!cfg->root[0] && cfg->n_origins == 0) {
        return arg_fail(err, errlen, "need --root DIR (origin mode) or --origin URL (edge mode)");
    }
    if (cfg->root[0] && cfg->n_origins > 0) {
        return arg_fail(err, errlen, "--root and --origin are exclusive");
    }
    /* Again after the command line: --listen and --status-listen replace the file's lists. */
    for (size_t i = 0; i < cfg->n_status_listen; i++) {
        const char *clash = edge_status_listen_clash(cfg, cfg->status_listen[i]);
        if (clash) {
            return arg_fail(err, errlen, EDGE_STATUS_LISTEN_CLASH, cfg->status_listen[i], clash);
        }
    }
    return 0;
}
