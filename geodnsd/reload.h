/* reload.h: geodnsd's reload: on request (SIGHUP) or when a file the serving snapshot was read
 * from changes, a new snapshot is loaded on a thread of its own and handed back to the daemon to
 * publish. Everything here runs on the main loop but the load itself. */
#ifndef GEODNSD_RELOAD_H
#define GEODNSD_RELOAD_H

#include <uv.h>

#include "snapshot.h"

typedef struct gd_reload gd_reload_t;

/* What the daemon does with a reload's outcome, on the main loop (logging is done here).
 * publish(ctx, s): s loaded without error and is to be served from now on; the callee takes its
 * reference, gives it its generation, and keeps it alive until the next publish or
 * gd_reload_free (its files are watched and its generation is named in the logs).
 * failed(ctx): a reload failed; the snapshot served stays. */
typedef struct gd_reload_cb {
    void (*publish)(void *ctx, gd_snapshot_t *s);
    void (*failed)(void *ctx);
    void *ctx;
} gd_reload_cb_t;

/* The files a load read, each with its stat from just before it was read. A file changed between
 * its read and the start of its watch is then seen as changed (a watch starts from the file as
 * it is). */
typedef struct gd_read_files gd_read_files_t;

gd_read_files_t *gd_read_files_new(void);
/* A gd_overrides_t file_seen observer (ctx: the list): records path as it is now, just before the
 * load reads it. On the load's thread; the list is the load's own. */
void gd_read_files_seen(void *ctx, const char *path);
/* The load is over: sort the records for lookup. */
void gd_read_files_done(gd_read_files_t *l);
void gd_read_files_free(gd_read_files_t *l);

/* Start watching the files serving was read from (read: what its load recorded, taken, may be
 * NULL): a change to one reloads after a short debounce. config_path, ov and serving are borrowed
 * (ov's file observer and cancel flag are set per load on a copy). Returns 0, or a negative
 * errno with nothing started (-ENOMEM; -EMFILE when the loop's first async finds no
 * descriptor). */
int gd_reload_new(uv_loop_t *loop, const char *config_path, const gd_overrides_t *ov,
                  const gd_snapshot_t *serving, gd_read_files_t *read, const gd_reload_cb_t *cb,
                  gd_reload_t **out);

/* A SIGHUP or a file change: reload now, or once the reload in progress is done (requests
 * meanwhile make exactly one more reload). why names the request in the logs. Nothing happens
 * once gd_reload_cancel was called. */
void gd_reload_request(gd_reload_t *r, const char *why);

/* Stopping (SIGTERM): no reload starts from now on and none is published; the one in progress
 * is cancelled at its next file. Returns its reason (valid until gd_reload_stop), or NULL when
 * none is in progress. */
const char *gd_reload_cancel(gd_reload_t *r);

/* Shutdown, once the loop is stopped: cancel the reload in progress, wait for its thread and
 * free what it loaded; stop watching. The handles close on the loop's next turn. */
void gd_reload_stop(gd_reload_t *r);

/* Free after gd_reload_stop and a loop turn that ran the close callbacks. */
void gd_reload_free(gd_reload_t *r);

#endif
