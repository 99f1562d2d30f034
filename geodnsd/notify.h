/* notify.h: NOTIFY (RFC 1996) out: after a reload that changed a zone's serial, tell each of the
 * zone's `transfer: notify:` targets over UDP, signed with TSIG when an allow entry for the
 * target's address names a key, retrying until a reply with the matching ID. Main loop only. */
#ifndef GEODNSD_NOTIFY_H
#define GEODNSD_NOTIFY_H

#include <uv.h>

#include "snapshot.h"

/* Tries per target, and the wait before the second one (doubled after each try). */
#define NOTIFY_TRIES      5
#define NOTIFY_FIRST_WAIT 2000

typedef struct notifier notifier_t;

/* A notifier on loop; NULL when out of memory. */
notifier_t *notify_new(uv_loop_t *loop);

/* Send NOTIFY for every zone of cur whose serial differs from the same zone in old (old NULL:
 * no zone is sent). Copies what it needs: both snapshots may go after the call. Each send, reply
 * and give-up is logged. */
void notify_changed(notifier_t *n, const gd_snapshot_t *old, const gd_snapshot_t *cur);

/* Stop every pending NOTIFY and close their handles; call notify_free() after the loop ran the
 * close callbacks. */
void notify_stop(notifier_t *n);
void notify_free(notifier_t *n);

#endif
