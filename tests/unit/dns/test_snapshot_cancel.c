/* test_snapshot_cancel.c: gd_snapshot_load's cancel flag (what SIGTERM sets during a reload):
 * set before the load, it fails at once with -ECANCELED and "load cancelled"; set while the
 * load reads its files (from the file observer, after the Nth file), the load stops before the
 * next file, fails the same way and frees what it had built (zones, PoPs: the sanitizer build
 * checks for leaks); never set, the same config loads, and the observer saw every file. The
 * generation given later (gd_snapshot_set_generation) reaches the query environment. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "georesp.h"
#include "snapshot.h"

#define NZONES 4

typedef struct observer {
    atomic_bool cancel;
    size_t seen;      /* files announced so far */
    size_t cancel_at; /* set cancel when this many were announced; 0 = never */
} observer_t;

static void on_file(void *ctx, const char *path)
{
    (void)path;
    observer_t *o = ctx;
    if (++o->seen == o->cancel_at)
        atomic_store(&o->cancel, true);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* Load conf with the cancel flag set after cancel_at files (0: never). */
static int load(const char *conf, size_t cancel_at, observer_t *o, gd_snapshot_t **s, char *err,
                size_t errlen)
{
    memset(o, 0, sizeof(*o));
    atomic_init(&o->cancel, cancel_at == (size_t)-1);
    o->cancel_at = cancel_at;
    gd_overrides_t ov = {.file_seen = on_file, .file_seen_ctx = o, .cancel = &o->cancel};
    return gd_snapshot_load(conf, &ov, 0, s, err, errlen);
}

int main(void)
{
    char dir[] = "/tmp/test_snapshot_cancel.XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char path[512], conf[512];
    for (int i = 0; i < NZONES; i++) {
        snprintf(path, sizeof(path), "%s/z%d.yaml", dir, i);
        char text[512];
        snprintf(text, sizeof(text),
                 "zone: z%d.test\nsoa: {primary: ns1, contact: h@z%d.test, serial: 1}\n"
                 "ns: [ns1]\nrecords:\n  ns1: {A: 127.0.0.1}\n"
                 "  video: {geo: {pool: edges, answers: 1, ttl: 30}}\n",
                 i, i);
        write_file(path, text);
    }
    snprintf(path, sizeof(path), "%s/pops.yaml", dir);
    write_file(path, "pops:\n  fra: {location: [50.1, 8.7], addresses: [192.0.2.10]}\n"
                     "  nyc: {location: [40.7, -74.0], addresses: [192.0.2.20]}\n"
                     "pools: {edges: [fra, nyc]}\n");
    snprintf(conf, sizeof(conf), "%s/geodnsd.yaml", dir);
    write_file(conf, "listen: [\"127.0.0.1:5353\"]\nzones: [z0.yaml, z1.yaml, z2.yaml, z3.yaml]\n"
                     "pops: pops.yaml\n");
    /* Files read in order: the config, the PoP file, then each zone. */
    const size_t nfiles = 2 + NZONES;

    observer_t o;
    gd_snapshot_t *s = NULL;
    char err[1024];

    int rc = load(conf, 0, &o, &s, err, sizeof(err));
    CHECK(rc == 0, "uncancelled load: %d %s", rc, err);
    CHECK(o.seen == nfiles, "the observer saw %zu files, want %zu", o.seen, nfiles);
    if (s) {
        CHECK(s->zones.nzones == NZONES, "zones: %zu", s->zones.nzones);
        CHECK(s->generation == 0, "loaded with generation 0: %llu",
              (unsigned long long)s->generation);
        gd_snapshot_set_generation(s, 7);
        CHECK(s->generation == 7 && s->env.generation == 7 && s->geo && s->geo->generation == 7,
              "the generation set later reaches the snapshot, its env and geo runtime");
        gd_snapshot_unref(s);
        s = NULL;
    }

    rc = load(conf, (size_t)-1, &o, &s, err, sizeof(err));
    CHECK(rc == -ECANCELED, "cancelled before the load: %d", rc);
    CHECK(s == NULL, "no snapshot from a cancelled load");
    CHECK(strstr(err, "load cancelled") != NULL, "the message says so: '%s'", err);
    CHECK(o.seen == 0, "no file announced (read) once cancelled: %zu", o.seen);

    /* Cancelled after each file in turn: the load stops before the next one. */
    for (size_t at = 1; at <= nfiles; at++) {
        s = NULL;
        err[0] = '\0';
        rc = load(conf, at, &o, &s, err, sizeof(err));
        CHECK(rc == -ECANCELED, "cancelled after file %zu: rc %d (%s)", at, rc, err);
        CHECK(s == NULL, "cancelled after file %zu: no snapshot", at);
        CHECK(o.seen == at, "cancelled after file %zu: %zu files announced", at, o.seen);
        CHECK(strstr(err, "load cancelled") != NULL, "cancelled after file %zu: '%s'", at, err);
        if (s)
            gd_snapshot_unref(s);
    }

    for (int i = 0; i < NZONES; i++) {
        snprintf(path, sizeof(path), "%s/z%d.yaml", dir, i);
        unlink(path);
    }
    snprintf(path, sizeof(path), "%s/pops.yaml", dir);
    unlink(path);
    unlink(conf);
    rmdir(dir);
    return check_report();
}
