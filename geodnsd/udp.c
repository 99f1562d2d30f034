/* udp.c: the UDP threads (see udp.h): receive a batch, answer it, rate-limit the answers, send
 * them, cut a reply too big for the link. */
#include "udp.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <uv.h>

#include "answerer.h"
#include "log.h"
#include "rrl.h"

#define UDP_BATCH 64
#define UDP_BUFSZ 4096
/* A reply the outgoing link cannot carry is answered again within this many bytes: an IPv6
 * minimum MTU of 1280 less the IPv6 and UDP headers (RFC 8200 5), which every link carries. */
#define UDP_LINK_SAFE 1232

struct udp_thread {
    uv_thread_t thread;
    bool started;
    int fd;
    bool pktinfo; /* bound to a wildcard address: reply from the address the query came to */
    const atomic_bool *stop;
    answerer_t ans;
    metrics_counters_t counters;
    /* Rate limiting: this thread's buckets, NULL while the config has no rrl:. A table of
     * another size is allocated by the main loop (udp_thread_publish) and handed over in
     * pending_rrl; the one it replaces goes back in retired[] for the main loop to free. */
    rrl_table_t *rrl;
    _Atomic(rrl_table_t *) pending_rrl;
    _Atomic(rrl_table_t *) retired[2];
    uint32_t rrl_published; /* main loop only: table size last handed over, 0 for none */
    struct mmsghdr rmsg[UDP_BATCH], smsg[UDP_BATCH];
    struct iovec riov[UDP_BATCH], siov[UDP_BATCH];
    struct sockaddr_storage raddr[UDP_BATCH];
    uint8_t rctl[UDP_BATCH][64], sctl[UDP_BATCH][64];
    uint16_t sqend[UDP_BATCH], sopt[UDP_BATCH]; /* each reply's query_meta_t qend, opt_off */
    uint8_t rbuf[UDP_BATCH][UDP_BUFSZ];
    uint8_t sbuf[UDP_BATCH][UDP_BUFSZ];
};

void udp_socket_options(int fd, int family, bool any)
{
    int one = 1;
    int sz = 4 << 20;
    /* Wake up now and then even when idle: to take a new snapshot and to see a stop. */
    struct timeval tv = {.tv_sec = 0, .tv_usec = 500000};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    /* Don't Fragment on every reply (RFC 9715): a reply larger than the outgoing link's MTU
     * fails with EMSGSIZE and goes out truncated instead (udp_send). PROBE, not DO: the
     * interface MTU, so a forged ICMP "fragmentation needed" cannot shrink our replies.
     * Unfragmented IPv4 packets with DF also need no IP ID drawn from the shared generator. */
    if (family == AF_INET) {
        int pmtu = IP_PMTUDISC_PROBE;
        (void)setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu));
        if (any)
            (void)setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
    } else {
        int pmtu = IPV6_PMTUDISC_PROBE;
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &pmtu, sizeof(pmtu));
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_DONTFRAG, &one, sizeof(one));
        if (any)
            (void)setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
    }
}

/* ---- rate limiting tables: allocated and freed by the main loop, swapped by the thread ---- */

/* The thread: a table it no longer uses goes back to the main loop. Between two collections by
 * the main loop the thread takes at most two new tables (the one pending at the collection and
 * the one published after it), so two slots always have room; the fallback frees here. */
static void rrl_retire(udp_thread_t *u, rrl_table_t *t)
{
    if (!t)
        return;
    for (int i = 0; i < 2; i++) {
        rrl_table_t *expect = NULL;
        if (atomic_compare_exchange_strong(&u->retired[i], &expect, t))
            return;
    }
    rrl_table_free(t);
}

/* The thread, between batches: take a new table, or drop the table when rrl went off. */
static void rrl_follow(udp_thread_t *u, bool config_changed)
{
    if (atomic_load_explicit(&u->pending_rrl, memory_order_acquire)) {
        rrl_table_t *t = atomic_exchange(&u->pending_rrl, NULL);
        if (t) {
            rrl_retire(u, u->rrl);
            u->rrl = t;
        }
    }
    if (config_changed && !u->ans.snap->cfg.rrl.enabled && u->rrl) {
        rrl_retire(u, u->rrl);
        u->rrl = NULL;
    }
}

/* The main loop: free what the thread gave back; hand over a table of the size snap asks for
 * (before the snapshot itself, so the thread finds it when it takes the snapshot). A reload that
 * changes table_size starts with empty buckets; one that keeps it keeps them. */
static void rrl_publish(udp_thread_t *u, const gd_snapshot_t *snap)
{
    for (int i = 0; i < 2; i++)
        rrl_table_free(atomic_exchange(&u->retired[i], NULL));
    const rrl_config_t *c = &snap->cfg.rrl;
    uint32_t want = c->enabled ? c->table_size : 0;
    if (want == u->rrl_published)
        return;
    rrl_table_t *t = NULL;
    if (want && !(t = rrl_table_new(want)))
        log_warn("rrl: no memory for %u buckets: a UDP thread does not limit", want);
    rrl_table_free(atomic_exchange(&u->pending_rrl, t));
    u->rrl_published = t ? want : 0;
}

/* ---- the thread ---- */

/* Milliseconds of the coarse monotonic clock: read once per batch. CLOCK_MONOTONIC_COARSE is
 * served by the vDSO from the last timer tick (1-4 ms resolution), without a system call. */
static uint32_t coarse_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

/* Rate limiting of one response of len bytes in buf: the length to send, 0 to send nothing.
 * Exempt prefixes and clients proving their address with a server cookie are looked at only
 * when the bucket is empty, so the common case costs one bucket lookup. */
static size_t udp_rrl(udp_thread_t *u, uint8_t *buf, size_t len, const query_meta_t *meta,
                      const struct sockaddr *src, uint32_t now)
{
    const rrl_config_t *c = &u->ans.snap->cfg.rrl;
    rrl_class_t cls = (rrl_class_t)meta->rrl_class;
    uint32_t name = rrl_response_name(cls, buf, meta->qend, meta->rrl_owner, meta->rrl_owner_len);
    rrl_verdict_t v = rrl_account(u->rrl, c, src, cls, name, now);
    if (v == RRL_PASS || (c->cookies && meta->cookie_valid) || rrl_exempt(c, src))
        return len;
    /* A truncated copy would lose the TSIG RR, and a client that signed its query rejects an
     * unsigned reply (RFC 8945 5.3) instead of retrying over TCP: a signed reply over the limit
     * is dropped, never slipped. */
    if (v == RRL_DROP || meta->tsig_signed) {
        metrics_inc(&u->counters.rrl_dropped);
        return 0;
    }
    metrics_inc(&u->counters.rrl_slipped);
    return rrl_truncate(buf, len, meta->qend, meta->opt_off);
}

/* Reply slot s is larger than its link's MTU: its query answered again within UDP_LINK_SAFE
 * bytes, which the query path truncates as for a small EDNS size (TC set, so the client retries
 * over TCP) and signs when the query was signed with TSIG: a reply merely cut short would lose
 * its TSIG record and the client would reject it (RFC 8945 5.3) instead of retrying. Returns
 * the new length, or the reply cut to its header, question and OPT where that does not help (a
 * link under 1280 bytes). Rare, so not counted twice: the first answer was. */
static size_t udp_shrink(udp_thread_t *u, int s)
{
    struct iovec *v = &u->siov[s];
    struct msghdr *sm = &u->smsg[s].msg_hdr;
    size_t i = (size_t)((struct sockaddr_storage *)sm->msg_name - u->raddr);
    if (v->iov_len > UDP_LINK_SAFE && i < UDP_BATCH) {
        query_env_t env = u->ans.env;
        env.counters = NULL;
        query_meta_t meta;
        size_t len = query_process_meta(&env, u->rbuf[i], u->rmsg[i].msg_len, v->iov_base,
                                        UDP_LINK_SAFE, 0, sm->msg_name, &meta);
        if (len && len < v->iov_len)
            return len;
    }
    return rrl_truncate(v->iov_base, v->iov_len, u->sqend[s], u->sopt[s]);
}

/* Send the batch's ns replies with as few sendmmsg calls as possible. sendmmsg stops at the
 * first datagram it cannot send: a reply larger than the link's MTU (EMSGSIZE, the socket sets
 * DF) is answered again smaller (udp_shrink), so the client retries over TCP, and sent again;
 * any other error (an unreachable destination) skips that datagram. */
static void udp_send(udp_thread_t *u, int ns)
{
    int sent = 0;
    while (sent < ns) {
        int r = sendmmsg(u->fd, u->smsg + sent, (unsigned)(ns - sent), 0);
        if (r > 0) {
            sent += r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        struct iovec *v = &u->siov[sent];
        size_t cut = r < 0 && errno == EMSGSIZE ? udp_shrink(u, sent) : v->iov_len;
        if (cut < v->iov_len) {
            v->iov_len = cut;
            metrics_inc(&u->counters.mtu_truncated);
            metrics_inc(&u->counters.truncated);
            continue; /* the same datagram again, now small */
        }
        sent++; /* a per-destination error: skip that datagram */
    }
}

/* Answer one received batch and send the replies with as few sendmmsg calls as possible. */
static void udp_answer_batch(udp_thread_t *u, int n)
{
    /* A table handed over ahead of its config may briefly meet a config without rrl:. */
    bool limit = u->rrl && u->ans.snap->cfg.rrl.enabled;
    uint32_t now = limit ? coarse_ms() : 0;
    int ns = 0;
    for (int i = 0; i < n; i++) {
        struct msghdr *m = &u->rmsg[i].msg_hdr;
        if (m->msg_flags & MSG_TRUNC)
            continue; /* a query larger than any we accept */
        query_meta_t meta;
        const struct sockaddr *src = (const struct sockaddr *)&u->raddr[i];
        size_t len = query_process_meta(&u->ans.env, u->rbuf[i], u->rmsg[i].msg_len, u->sbuf[ns],
                                        UDP_BUFSZ, 0, src, &meta);
        if (len && limit)
            len = udp_rrl(u, u->sbuf[ns], len, &meta, src, now);
        if (!len)
            continue;
        u->siov[ns].iov_base = u->sbuf[ns];
        u->siov[ns].iov_len = len;
        u->sqend[ns] = meta.qend;
        u->sopt[ns] = meta.opt_off;
        struct msghdr *s = &u->smsg[ns].msg_hdr;
        s->msg_name = &u->raddr[i];
        s->msg_namelen = m->msg_namelen;
        s->msg_iov = &u->siov[ns];
        s->msg_iovlen = 1;
        s->msg_flags = 0;
        s->msg_control = NULL;
        s->msg_controllen = 0;
        if (u->pktinfo && m->msg_controllen) {
            /* Reply from the address the query was sent to. */
            for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
                if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) ||
                    (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO)) {
                    memcpy(u->sctl[ns], c, c->cmsg_len);
                    struct cmsghdr *sc = (struct cmsghdr *)u->sctl[ns];
                    if (c->cmsg_level == IPPROTO_IP) {
                        struct in_pktinfo *pi = (struct in_pktinfo *)CMSG_DATA(sc);
                        pi->ipi_spec_dst = pi->ipi_addr;
                        pi->ipi_ifindex = 0;
                    }
                    s->msg_control = u->sctl[ns];
                    s->msg_controllen = CMSG_SPACE(c->cmsg_len - CMSG_LEN(0));
                    break;
                }
            }
        }
        ns++;
    }
    udp_send(u, ns);
}

static void udp_main(void *arg)
{
    udp_thread_t *u = arg;
    for (int i = 0; i < UDP_BATCH; i++) {
        u->riov[i].iov_base = u->rbuf[i];
        u->riov[i].iov_len = UDP_BUFSZ;
        struct msghdr *m = &u->rmsg[i].msg_hdr;
        m->msg_name = &u->raddr[i];
        m->msg_iov = &u->riov[i];
        m->msg_iovlen = 1;
        m->msg_control = u->pktinfo ? u->rctl[i] : NULL;
    }
    int used = UDP_BATCH; /* headers the last recvmmsg may have written to */
    while (!atomic_load_explicit(u->stop, memory_order_acquire)) {
        /* The kernel rewrites only the lengths and flags of the headers it filled in. */
        for (int i = 0; i < used; i++) {
            struct msghdr *m = &u->rmsg[i].msg_hdr;
            m->msg_namelen = sizeof(u->raddr[i]);
            m->msg_controllen = u->pktinfo ? sizeof(u->rctl[i]) : 0;
            m->msg_flags = 0;
        }
        /* Block for the first datagram, then take whatever else is queued. */
        int n = recvmmsg(u->fd, u->rmsg, UDP_BATCH, MSG_WAITFORONE, NULL);
        used = n > 0 ? n : 1;
        /* A snapshot published while we waited applies to this batch already (and an idle
         * thread lets go of the old one within the receive timeout). */
        rrl_follow(u, answerer_poll(&u->ans));
        if (n > 0)
            udp_answer_batch(u, n);
    }
}

/* ---- life cycle ---- */

udp_thread_t *udp_thread_new(int fd, bool any, const atomic_bool *stop, gd_snapshot_t *snap)
{
    udp_thread_t *u = calloc(1, sizeof(*u));
    if (!u)
        return NULL;
    u->fd = fd;
    u->pktinfo = any;
    u->stop = stop;
    if (answerer_init(&u->ans, snap, &u->counters)) {
        udp_thread_free(u);
        return NULL;
    }
    const rrl_config_t *c = &snap->cfg.rrl;
    if (c->enabled) {
        if (!(u->rrl = rrl_table_new(c->table_size))) {
            udp_thread_free(u);
            return NULL;
        }
        u->rrl_published = c->table_size;
    }
    return u;
}

int udp_thread_start(udp_thread_t *u)
{
    if (uv_thread_create(&u->thread, udp_main, u))
        return -EAGAIN;
    u->started = true;
    return 0;
}

void udp_thread_join(udp_thread_t *u)
{
    if (u && u->started) {
        uv_thread_join(&u->thread);
        u->started = false;
    }
}

void udp_thread_free(udp_thread_t *u)
{
    if (!u)
        return;
    answerer_deinit(&u->ans);
    rrl_table_free(u->rrl);
    rrl_table_free(atomic_exchange(&u->pending_rrl, NULL));
    for (int i = 0; i < 2; i++)
        rrl_table_free(atomic_exchange(&u->retired[i], NULL));
    free(u);
}

void udp_thread_publish(udp_thread_t *u, gd_snapshot_t *snap, gd_health_t *health)
{
    if (snap)
        rrl_publish(u, snap);
    answerer_publish(&u->ans, snap, health);
}

const metrics_counters_t *udp_thread_counters(const udp_thread_t *u)
{
    return &u->counters;
}
