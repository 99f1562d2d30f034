/* dir.c: the vantages' state files of one health directory (geodnsd's `health.dir`), parsed,
 * with each vantage's last good version kept when a newer one is corrupt. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "grow.h"
#include "health.h"

void health_file_key_of(const struct stat *st, health_file_key_t *k)
{
    memset(k, 0, sizeof(*k));
    k->dev = st->st_dev;
    k->ino = st->st_ino;
    k->size = st->st_size;
    k->mtime = st->st_mtim;
}

bool health_file_key_eq(const health_file_key_t *a, const health_file_key_t *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

typedef struct dir_entry {
    char *name;
    health_file_key_t key; /* of the version last looked at */
    health_file_t *good;   /* last version that parsed, or NULL */
    bool seen;
    bool short_warned; /* a read that failed for want of memory or descriptors was said */
} dir_entry_t;

struct health_dir {
    dir_entry_t *e;
    size_t n, cap;
    const health_file_t **list; /* room for n (grown with e), so listing needs no memory */
    size_t list_cap;
    bool dir_failed;   /* the directory could not be opened (reported once) */
    bool too_many;     /* more than HEALTH_VANTAGES_MAX state files (reported once) */
    bool short_warned; /* the directory could not be read for want of memory or descriptors */
};

health_dir_t *health_dir_new(void)
{
    return calloc(1, sizeof(health_dir_t));
}

void health_dir_free(health_dir_t *hd)
{
    if (!hd)
        return;
    for (size_t i = 0; i < hd->n; i++) {
        free(hd->e[i].name);
        health_file_free(hd->e[i].good);
    }
    free(hd->e);
    free(hd->list);
    free(hd);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_state_file(const char *name)
{
    size_t l = strlen(name);
    return name[0] != '.' && l > 5 && !strcmp(name + l - 5, ".json");
}

/* Whether the file name is VANTAGE.json for vantage. */
static bool dir_name_is_vantage(const char *name, const char *vantage)
{
    size_t l = strlen(vantage);
    return !strncmp(name, vantage, l) && !strcmp(name + l, ".json");
}

static dir_entry_t *dir_entry_get(health_dir_t *hd, const char *name)
{
    for (size_t i = 0; i < hd->n; i++)
        if (!strcmp(hd->e[i].name, name))
            return &hd->e[i];
    if (grow_for(&hd->e, &hd->cap, hd->n, sizeof(*hd->e), 8) ||
        grow_for(&hd->list, &hd->list_cap, hd->n, sizeof(*hd->list), 8))
        return NULL;
    dir_entry_t *e = &hd->e[hd->n];
    memset(e, 0, sizeof(*e));
    if (!(e->name = strdup(name)))
        return NULL;
    hd->n++;
    return e;
}

static void warnf(void (*warn)(void *, const char *), void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void warnf(void (*warn)(void *, const char *), void *ctx, const char *fmt, ...)
{
    if (!warn)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    warn(ctx, msg);
}

/* The good state of each entry, in *files (hd->list has room for every entry). */
static size_t list_good(health_dir_t *hd, const health_file_t *const **files)
{
    size_t nl = 0;
    for (size_t i = 0; i < hd->n; i++)
        if (hd->e[i].good)
            hd->list[nl++] = hd->e[i].good;
    static const health_file_t *const none[1];
    *files = hd->list ? hd->list : none;
    return nl;
}

size_t health_dir_scan(health_dir_t *hd, const char *path, void (*warn)(void *ctx, const char *msg),
                       void *ctx, const health_file_t *const **files)
{
    for (size_t i = 0; i < hd->n; i++)
        hd->e[i].seen = false;
    char *names[HEALTH_VANTAGES_MAX + 1];
    size_t nn = 0;
    bool too_many = false;
    bool partial = false; /* a name was lost for want of memory: nothing is taken as gone */
    DIR *d = opendir(path);
    if (!d && health_file_load_short(-errno)) {
        /* Not the directory's fault, and passing: the states read before stay in use, and the
         * next scan tries again. Dropping them would apply the startup policy to every PoP. */
        if (!hd->short_warned)
            warnf(warn, ctx, "health dir %s: %s (the states read before stay in use)", path,
                  strerror(errno));
        hd->short_warned = true;
        for (size_t i = 0; i < hd->n; i++)
            hd->e[i].seen = true;
        return list_good(hd, files);
    }
    hd->short_warned = false;
    if (!d) {
        if (!hd->dir_failed)
            warnf(warn, ctx, "health dir %s: %s (no state files: the startup policy applies)", path,
                  strerror(errno));
        hd->dir_failed = true;
    } else {
        if (hd->dir_failed)
            warnf(warn, ctx, "health dir %s: readable again", path);
        hd->dir_failed = false;
        struct dirent *de;
        while ((de = readdir(d))) {
            if (!is_state_file(de->d_name))
                continue;
            size_t slot = nn;
            if (nn == HEALTH_VANTAGES_MAX) {
                /* Keep the first ones by name whatever the directory order: the last by name
                 * so far gives way to one before it. */
                too_many = true;
                slot = 0;
                for (size_t i = 1; i < nn; i++)
                    if (strcmp(names[i], names[slot]) > 0)
                        slot = i;
                if (strcmp(de->d_name, names[slot]) >= 0)
                    continue;
                free(names[slot]);
                nn--;
            }
            if ((names[slot] = strdup(de->d_name))) {
                nn++;
            } else {
                partial = true;
                if (slot != nn)
                    names[slot] = names[nn]; /* no memory: close the gap */
            }
        }
        closedir(d);
    }
    qsort(names, nn, sizeof(*names), cmp_name);
    if (too_many && !hd->too_many)
        warnf(warn, ctx, "health dir %s: more than %d state files; reading the first %d by name",
              path, HEALTH_VANTAGES_MAX, HEALTH_VANTAGES_MAX);
    else if (!too_many && hd->too_many && !hd->dir_failed)
        warnf(warn, ctx, "health dir %s: %d state files or fewer again", path, HEALTH_VANTAGES_MAX);
    if (!hd->dir_failed)
        hd->too_many = too_many;
    for (size_t i = 0; i < nn; i++) {
        char full[4096];
        snprintf(full, sizeof(full), "%s/%s", path, names[i]);
        struct stat st;
        dir_entry_t *e =
            stat(full, &st) == 0 && S_ISREG(st.st_mode) ? dir_entry_get(hd, names[i]) : NULL;
        free(names[i]);
        if (!e)
            continue;
        e->seen = true;
        health_file_key_t k;
        health_file_key_of(&st, &k);
        if (health_file_key_eq(&k, &e->key))
            continue; /* unchanged since last looked at (parsed, or reported as bad) */
        e->key = k;
        health_file_t *hf = NULL;
        char err[512];
        int rc = health_file_load(full, &hf, err, sizeof(err));
        if (health_file_load_short(rc)) {
            /* Passing: this version is read again at the next scan (said once). */
            memset(&e->key, 0, sizeof(e->key));
            if (!e->short_warned)
                warnf(warn, ctx, "%s (read again later%s)", err,
                      e->good ? "; this vantage's last good state stays in use meanwhile" : "");
            e->short_warned = true;
            continue;
        }
        e->short_warned = false;
        if (rc) {
            warnf(warn, ctx, "%s (ignored%s)", err,
                  e->good ? "; this vantage's last good state stays in use" : "");
            continue;
        }
        if (!dir_name_is_vantage(e->name, hf->vantage)) {
            /* A copy of a vantage's file under another name would be a second vote of the same
             * prober: with quorum 2, one vantage could then take PoPs down on its own. */
            warnf(warn, ctx,
                  "%s: written by vantage '%s': a vantage's state file must be named %s.json "
                  "(ignored%s)",
                  full, hf->vantage, hf->vantage,
                  e->good ? "; this vantage's last good state stays in use" : "");
            health_file_free(hf);
            continue;
        }
        hf->seen = (int64_t)time(NULL);
        health_file_free(e->good);
        e->good = hf;
    }
    /* Drop vanished files; list the rest. */
    size_t k = 0;
    for (size_t i = 0; i < hd->n; i++) {
        if (!hd->e[i].seen && !partial) {
            free(hd->e[i].name);
            health_file_free(hd->e[i].good);
            continue;
        }
        hd->e[k++] = hd->e[i];
    }
    hd->n = k;
    return list_good(hd, files);
}

int health_view_once(const pops_t *pops, const health_settings_t *s, const char *dir,
                     const char *overrides_path, double now,
                     void (*warn)(void *ctx, const char *msg), void *ctx, route_health_t *view,
                     health_report_t *report, char *err, size_t errlen)
{
    int rc = 0;
    err[0] = '\0';
    health_dir_t *hd = health_dir_new();
    health_ctl_t *ctl = health_ctl_new();
    health_overrides_t *ov = NULL;
    if (!hd || !ctl) {
        rc = -ENOMEM;
        goto out;
    }
    const health_file_t *const *files = NULL;
    size_t nfiles = dir ? health_dir_scan(hd, dir, warn, ctx, &files) : 0;
    if (overrides_path && (rc = health_overrides_load(overrides_path, pops, &ov, err, errlen)))
        ov = NULL;
    (void)health_ctl_update(ctl, pops, s, files, nfiles, ov, now, view, report);
out:
    health_overrides_free(ov);
    health_ctl_free(ctl);
    health_dir_free(hd);
    return rc;
}
