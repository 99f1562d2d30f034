/* notify.c: NOTIFY out (RFC 1996 3.6, 4.7): one job per zone and target, a UDP socket and a
 * retry timer each, closed on the matching reply or after the last try. */
#include "notify.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "log.h"
#include "tsig.h"
#include "xfr.h"

#define OPCODE_NOTIFY  4
#define NOTIFY_MSG_MAX 1024

typedef struct notify_job notify_job_t;
struct notify_job {
    notifier_t *owner;
    notify_job_t *prev, *next;
    uv_udp_t udp;
    uv_timer_t timer;
    uv_udp_send_t sreq;
    int open_handles;
    bool sending, closing;
    struct sockaddr_storage to;
    char target[80];
    char zone[DNS_MAX_NAME * 4 + 1];
    uint32_t serial;
    bool signed_;
    tsig_key_t key;
    uint16_t id;
    uint8_t msg[NOTIFY_MSG_MAX]; /* unsigned query */
    size_t msglen;
    uint8_t out[NOTIFY_MSG_MAX]; /* what goes on the wire (signed copy) */
    uint8_t rbuf[NOTIFY_MSG_MAX];
    unsigned tries;
    uint64_t wait_ms;
};

struct notifier {
    uv_loop_t *loop;
    notify_job_t *jobs;
    bool stopping;
};

notifier_t *notify_new(uv_loop_t *loop)
{
    notifier_t *n = calloc(1, sizeof(*n));
    if (n)
        n->loop = loop;
    return n;
}

static void job_on_closed(uv_handle_t *h)
{
    notify_job_t *j = h->data;
    if (--j->open_handles > 0)
        return;
    notifier_t *n = j->owner;
    if (j->prev)
        j->prev->next = j->next;
    else
        n->jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    free(j);
}

static void job_close(notify_job_t *j)
{
    if (j->closing)
        return;
    j->closing = true;
    uv_timer_stop(&j->timer);
    uv_udp_recv_stop(&j->udp);
    uv_close((uv_handle_t *)&j->timer, job_on_closed);
    uv_close((uv_handle_t *)&j->udp, job_on_closed);
}

static void job_on_sent(uv_udp_send_t *req, int status)
{
    notify_job_t *j = req->data;
    j->sending = false;
    if (status < 0 && !j->closing)
        log_warn("NOTIFY %s serial %u to %s: send failed: %s", j->zone, j->serial, j->target,
                 uv_strerror(status));
}

static void job_send(notify_job_t *j)
{
    if (j->sending)
        return; /* the previous datagram is still queued: this try waits for the timer */
    memcpy(j->out, j->msg, j->msglen);
    size_t len = j->msglen;
    if (j->signed_) {
        uint8_t mac[TSIG_MAC_MAX];
        size_t ml;
        if (tsig_sign(&j->key, j->out, &len, sizeof(j->out), NULL, 0, false, (uint64_t)time(NULL),
                      mac, &ml))
            return;
    }
    j->tries++;
    uv_buf_t b = uv_buf_init((char *)j->out, (unsigned)len);
    j->sreq.data = j;
    if (uv_udp_send(&j->sreq, &j->udp, &b, 1, (const struct sockaddr *)&j->to, job_on_sent) == 0)
        j->sending = true;
    log_info("NOTIFY %s serial %u to %s%s: try %u of %d", j->zone, j->serial, j->target,
             j->signed_ ? " (TSIG)" : "", j->tries, NOTIFY_TRIES);
}

static void job_on_timer(uv_timer_t *t)
{
    notify_job_t *j = t->data;
    if (j->tries >= NOTIFY_TRIES) {
        log_warn("NOTIFY %s serial %u to %s: no reply after %u tries, giving up", j->zone,
                 j->serial, j->target, j->tries);
        job_close(j);
        return;
    }
    job_send(j);
    j->wait_ms *= 2;
    uv_timer_start(&j->timer, job_on_timer, j->wait_ms, 0);
}

static void job_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    notify_job_t *j = h->data;
    buf->base = (char *)j->rbuf;
    buf->len = sizeof(j->rbuf);
}

/* from is the address and port the NOTIFY went to: a reply from anywhere else is
 * not the secondary's, however well it guesses the ID and our port. */
static bool from_target(const notify_job_t *j, const struct sockaddr *from)
{
    if (!from || from->sa_family != j->to.ss_family)
        return false;
    if (from->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)from;
        const struct sockaddr_in *t = (const struct sockaddr_in *)&j->to;
        return a->sin_port == t->sin_port && a->sin_addr.s_addr == t->sin_addr.s_addr;
    }
    if (from->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)from;
        const struct sockaddr_in6 *t = (const struct sockaddr_in6 *)&j->to;
        return a->sin6_port == t->sin6_port &&
               !memcmp(&a->sin6_addr, &t->sin6_addr, sizeof(a->sin6_addr));
    }
    return false;
}

static void job_on_recv(uv_udp_t *u, ssize_t nread, const uv_buf_t *buf,
                        const struct sockaddr *from, unsigned flags)
{
    (void)buf;
    (void)flags;
    notify_job_t *j = u->data;
    if (nread < DNS_HDR_LEN || j->closing || !from_target(j, from))
        return;
    uint16_t id = (uint16_t)((j->rbuf[0] << 8) | j->rbuf[1]);
    if (id != j->id || !(j->rbuf[2] & 0x80) || ((j->rbuf[2] >> 3) & 0xF) != OPCODE_NOTIFY)
        return; /* not the answer to this NOTIFY: keep waiting */
    unsigned rcode = j->rbuf[3] & 0xF;
    if (rcode == 0)
        log_info("NOTIFY %s serial %u to %s: acknowledged", j->zone, j->serial, j->target);
    else
        log_warn("NOTIFY %s serial %u to %s: answered with rcode %u", j->zone, j->serial, j->target,
                 rcode);
    job_close(j);
}

static void job_start(notifier_t *n, const zone_t *z, const xfr_policy_t *pol,
                      const xfr_target_t *t)
{
    notify_job_t *j = calloc(1, sizeof(*j));
    if (!j) {
        log_error("NOTIFY to %s: out of memory", t->text);
        return;
    }
    j->owner = n;
    memcpy(&j->to, &t->ss, t->len);
    snprintf(j->target, sizeof(j->target), "%s", t->text);
    dns_name_to_str(z->apex, j->zone, sizeof(j->zone));
    j->serial = z->serial;
    const tsig_key_t *k = xfr_notify_key(pol, (const struct sockaddr *)&t->ss);
    if (k) {
        j->key = *k;
        j->signed_ = true;
    }
    if (getrandom(&j->id, sizeof(j->id), 0) != sizeof(j->id))
        j->id = (uint16_t)rand();
    /* Header: ID, opcode NOTIFY, AA; one question: the apex SOA (RFC 1996 3.7). */
    dns_writer_t w;
    dns_writer_init(&w, j->msg, sizeof(j->msg), j->id, OPCODE_NOTIFY << 11 | DNS_FLAG_AA);
    dns_writer_question_name(&w, z->apex, z->apexlen, DNS_TYPE_SOA); /* 255 + 4 < 1024 bytes */
    j->msglen = dns_writer_finish(&w, 0, 0);
    uv_udp_init(n->loop, &j->udp);
    uv_timer_init(n->loop, &j->timer);
    j->udp.data = j;
    j->timer.data = j;
    j->open_handles = 2;
    j->next = n->jobs;
    if (n->jobs)
        n->jobs->prev = j;
    n->jobs = j;
    struct sockaddr_storage any;
    memset(&any, 0, sizeof(any));
    any.ss_family = t->ss.ss_family;
    int r = uv_udp_bind(&j->udp, (const struct sockaddr *)&any, 0);
    if (!r)
        r = uv_udp_recv_start(&j->udp, job_alloc, job_on_recv);
    if (r) {
        log_warn("NOTIFY %s to %s: cannot open a UDP socket: %s", j->zone, j->target,
                 uv_strerror(r));
        job_close(j);
        return;
    }
    j->wait_ms = NOTIFY_FIRST_WAIT;
    job_send(j);
    uv_timer_start(&j->timer, job_on_timer, j->wait_ms, 0);
}

static const zone_t *find_zone(const zone_set_t *zs, const zone_t *z)
{
    for (size_t i = 0; i < zs->nzones; i++)
        if (zs->zones[i]->apexlen == z->apexlen && !memcmp(zs->zones[i]->apex, z->apex, z->apexlen))
            return zs->zones[i];
    return NULL;
}

void notify_changed(notifier_t *n, const gd_snapshot_t *old, const gd_snapshot_t *cur)
{
    if (!n || !old || n->stopping)
        return;
    for (size_t i = 0; i < cur->zones.nzones; i++) {
        const zone_t *z = cur->zones.zones[i];
        const zone_t *was = find_zone(&old->zones, z);
        if (was && was->serial == z->serial)
            continue;
        const xfr_policy_t *pol = z->xfr ? z->xfr : cur->cfg.xfr;
        for (size_t t = 0; pol && t < pol->nnotify; t++) {
            /* A NOTIFY still pending for this zone and target is replaced by the new one. */
            char zname[DNS_MAX_NAME * 4 + 1];
            dns_name_to_str(z->apex, zname, sizeof(zname));
            for (notify_job_t *j = n->jobs; j; j = j->next)
                if (!j->closing && !strcmp(j->zone, zname) &&
                    !strcmp(j->target, pol->notify[t].text))
                    job_close(j);
            job_start(n, z, pol, &pol->notify[t]);
        }
    }
}

void notify_stop(notifier_t *n)
{
    if (!n)
        return;
    n->stopping = true;
    for (notify_job_t *j = n->jobs; j; j = j->next)
        job_close(j);
}

void notify_free(notifier_t *n)
{
    free(n);
}
