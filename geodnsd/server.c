/* server.c: the network side: per listener and worker a UDP thread blocking in recvmmsg and
 * answering with sendmmsg, and per worker a libuv loop for RFC 7766 TCP (framing, pipelining,
 * idle timeout, bounded connections); snapshot swaps for both. */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "acceptor.h"
#include "georesp.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "query.h"
#include "route.h"
#include "rrl.h"
#include "xfr.h"

#define UDP_BATCH 64
#define UDP_BUFSZ 4096
/* A UDP thread logs what rate limiting did at most this often (and only when it did something). */
#define TCP_INBUF   4096
#define TCP_MAXRESP 65535
/* Connections accepted per wake-up of a listener, so one busy listener cannot starve the rest
 * of its loop; the poll is level triggered and fires again for what is left in the backlog. */
#define TCP_ACCEPT_BATCH 64
/* After accept fails for lack of resources (EMFILE, ENFILE, ENOBUFS, ENOMEM) the listener rests
 * this long instead of spinning on a backlog it cannot take. */
#define TCP_ACCEPT_PAUSE_MS 100

typedef struct worker worker_t;

/* What a thread that answers queries owns: its references to the current config snapshot and
 * to the health snapshot computed for it, the query environment taken from both, and its own
 * route memo and geo answer cache. */
typedef struct answerer {
    gd_snapshot_t *snap;
    gd_health_t *health; /* matches snap (same config generation), or NULL */
    gd_health_t *next;   /* arrived before its config: waits for it */
    query_env_t env;
    route_memo_t *memo;
    geo_cache_t *cache;
    metrics_counters_t *counters; /* this thread's, summed by the main loop */
} answerer_t;

/* The environment from the config and its health: the cache generation is the newest of the
 * two, so it changes whenever either does (generations come from one counter). */
static void answerer_env(answerer_t *a)
{
    a->env = a->snap->env;
    a->env.memo = a->memo;
    a->env.cache = a->cache;
    a->env.counters = a->counters;
    if (a->health) {
        a->env.health = &a->health->view;
        a->env.generation = (uint32_t)a->health->generation;
    }
}

/* Small enough to stay in the CPU caches: 4096 decisions, 8192 answers of 48 bytes. */
static int answerer_init(answerer_t *a, gd_snapshot_t *s, metrics_counters_t *counters)
{
    a->counters = counters;
    if (!(a->memo = route_memo_new(1 << 12)) || !(a->cache = geo_cache_new(1 << 13)))
        return -ENOMEM;
    gd_snapshot_ref(s);
    a->snap = s;
    answerer_env(a);
    return 0;
}

/* Swap to a new config snapshot (whose reference the caller hands over); drop the old one. A
 * health snapshot that was waiting for this config comes into force with it; one computed for
 * the old config cannot serve the new one (PoP indices may differ). */
static void answerer_take(answerer_t *a, gd_snapshot_t *s)
{
    gd_snapshot_t *old = a->snap;
    a->snap = s;
    if (a->next && a->next->cfg_generation == s->generation) {
        if (a->health)
            gd_health_unref(a->health);
        a->health = a->next;
        a->next = NULL;
    } else if (a->health && a->health->cfg_generation != s->generation) {
        gd_health_unref(a->health);
        a->health = NULL;
    }
    answerer_env(a);
    if (old)
        gd_snapshot_unref(old);
}

/* Take a new health snapshot (the caller hands over its reference). */
static void answerer_take_health(answerer_t *a, gd_health_t *h)
{
    gd_health_t **slot = h->cfg_generation == a->snap->generation ? &a->health : &a->next;
    if (*slot)
        gd_health_unref(*slot);
    *slot = h;
    answerer_env(a);
}

static void answerer_deinit(answerer_t *a, _Atomic(gd_snapshot_t *) *pending,
                            _Atomic(gd_health_t *) *pending_health)
{
    route_memo_free(a->memo);
    geo_cache_free(a->cache);
    if (a->snap)
        gd_snapshot_unref(a->snap);
    if (a->health)
        gd_health_unref(a->health);
    if (a->next)
        gd_health_unref(a->next);
    gd_snapshot_t *p = atomic_exchange(pending, NULL);
    if (p)
        gd_snapshot_unref(p);
    gd_health_t *h = atomic_exchange(pending_health, NULL);
    if (h)
        gd_health_unref(h);
}

/* Take what was published since the last look: the config first, then health (published before
 * its config, so seeing a config means its health is visible too). */
static void answerer_poll(answerer_t *a, _Atomic(gd_snapshot_t *) *pending,
                          _Atomic(gd_health_t *) *pending_health)
{
    if (atomic_load_explicit(pending, memory_order_acquire)) {
        gd_snapshot_t *s = atomic_exchange(pending, NULL);
        if (s)
            answerer_take(a, s);
    }
    if (atomic_load_explicit(pending_health, memory_order_acquire)) {
        gd_health_t *h = atomic_exchange(pending_health, NULL);
        if (h)
            answerer_take_health(a, h);
    }
}

/* One thread per UDP socket: it blocks in recvmmsg, answers the batch and sends it with one
 * sendmmsg, like gdnsd's UDP threads and the bare echo "ceiling": no event loop, no epoll_wait
 * or clock read per wake-up. It takes new snapshots between two batches. */
typedef struct udp_thread {
    uv_thread_t thread;
    bool started;
    int fd;
    bool pktinfo; /* bound to a wildcard address: reply from the address the query came to */
    const atomic_bool *stop;
    _Atomic(gd_snapshot_t *) pending;
    _Atomic(gd_health_t *) pending_health;
    answerer_t ans;
    metrics_counters_t counters;
    rrl_table_t *rrl; /* this thread's buckets; NULL while the config has no rrl: */
    struct mmsghdr rmsg[UDP_BATCH], smsg[UDP_BATCH];
    struct iovec riov[UDP_BATCH], siov[UDP_BATCH];
    struct sockaddr_storage raddr[UDP_BATCH];
    uint8_t rctl[UDP_BATCH][64], sctl[UDP_BATCH][64];
    uint16_t sqend[UDP_BATCH], sopt[UDP_BATCH]; /* each reply's query_meta_t qend, opt_off */
    uint8_t rbuf[UDP_BATCH][UDP_BUFSZ];
    uint8_t sbuf[UDP_BATCH][UDP_BUFSZ];
} udp_thread_t;

typedef struct conn conn_t;
struct conn {
    uv_tcp_t h;
    uv_timer_t timer;
    worker_t *w;
    conn_t *prev, *next; /* LRU list of open connections, oldest first; free list when unused */
    struct sockaddr_storage peer;
    size_t inlen;
    uint8_t *out;     /* pending write: allocated on the first backpressure, freed on close */
    uint8_t *xfr_out; /* a zone transfer being written: freed when written or on close */
    uv_write_t wreq;
    bool writing;
    bool closing;
    bool in_use;
    int open_handles;
    uint8_t in[TCP_INBUF];
};

struct worker {
    unsigned id;
    uv_thread_t thread;
    uv_loop_t loop;
    uv_async_t async;
    _Atomic(gd_snapshot_t *) pending;
    _Atomic(gd_health_t *) pending_health;
    atomic_bool stop;
    answerer_t ans;              /* for TCP */
    metrics_counters_t counters; /* the TCP answerer's */
    udp_thread_t *udp[GD_MAX_LISTEN];
    gd_acceptor_t tcp[GD_MAX_LISTEN];
    int udp_fd[GD_MAX_LISTEN], tcp_fd[GD_MAX_LISTEN];
    size_t nlisten;
    uint64_t idle_ms;
    conn_t *conns;
    size_t nconns;
    conn_t *free_list;
    conn_t *lru_head, *lru_tail;
    size_t open_conns;
    uint8_t tcp_out[TCP_MAXRESP + 2];
};

struct gd_server {
    worker_t **workers;
    unsigned nworkers;
    atomic_bool udp_stop;
    int claim_fd[GD_MAX_LISTEN]; /* per-address locks held for the process lifetime, or -1 */
    uv_poll_t claim_poll[GD_MAX_LISTEN]; /* on worker 0's loop: lets claim_holder() go */
    size_t nclaims;
};

/* ---- sockets ---- */

static bool addr_is_any(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
    return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

static int open_socket(const gd_listen_t *l, int type, char *err, size_t errlen)
{
    /* UDP sockets block (their thread waits in recvmmsg); TCP ones belong to libuv. */
    int fd = listen_socket(&l->ss, l->len, type);
    if (fd < 0) {
        errno = -fd;
        fd = -1;
        goto fail;
    }
    if (type == SOCK_DGRAM) {
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
         * Unfragmented IPv4 packets with DF also need no IP ID drawn from the shared
         * generator. */
        if (l->ss.ss_family == AF_INET) {
            int pmtu = IP_PMTUDISC_PROBE;
            (void)setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu));
        } else {
            int pmtu = IPV6_PMTUDISC_PROBE;
            (void)setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &pmtu, sizeof(pmtu));
            (void)setsockopt(fd, IPPROTO_IPV6, IPV6_DONTFRAG, &one, sizeof(one));
        }
        if (addr_is_any(&l->ss)) {
            if (l->ss.ss_family == AF_INET)
                (void)setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
            else
                (void)setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
        }
    }
    if (type == SOCK_STREAM && listen(fd, 1024))
        goto fail;
    return fd;
fail:
    snprintf(err, errlen, "cannot listen on %s/%s: %s", l->text, type == SOCK_DGRAM ? "udp" : "tcp",
             strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

/* ---- listen address claims ---- */

/* Every socket sets SO_REUSEPORT so that this process's workers can share a port; before any is
 * opened, each address is claimed (listen_claim: an abstract-socket lock "@geodnsd:ADDR:PORT"
 * plus a bind probe of UDP and TCP without SO_REUSEPORT), so that a second geodnsd, or any
 * other process on the port, is refused instead of silently taking half the traffic. */

/* Claim every listen address of cfg, each distinct address once; the locks go to srv. */
static int claim_all(gd_server_t *srv, const gd_config_t *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < cfg->nlisten; i++) {
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++)
            seen = cfg->listen[k].len == cfg->listen[i].len &&
                   !memcmp(&cfg->listen[k].ss, &cfg->listen[i].ss, cfg->listen[i].len);
        if (seen)
            continue;
        int rc =
            listen_claim("geodnsd", &cfg->listen[i].ss, cfg->listen[i].len, cfg->listen[i].text,
                         LISTEN_UDP | LISTEN_TCP, &srv->claim_fd[srv->nclaims], err, errlen);
        if (rc)
            return rc;
        srv->nclaims++;
    }
    return 0;
}

/* Another geodnsd connected to a lock to learn our pid: let it go. */
static void claim_on_asked(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    uv_os_fd_t lfd;
    if (uv_fileno((uv_handle_t *)p, &lfd) == 0)
        listen_claim_answer(lfd);
}

static void claim_release(gd_server_t *srv)
{
    for (size_t i = 0; i < srv->nclaims; i++)
        if (srv->claim_fd[i] >= 0)
            close(srv->claim_fd[i]);
    srv->nclaims = 0;
}

/* ---- snapshot swap ---- */

/* ---- UDP ---- */

/* Milliseconds of the coarse monotonic clock: read once per batch. CLOCK_MONOTONIC_COARSE is
 * served by the vDSO from the last timer tick (1-4 ms resolution), without a system call. */
static uint32_t coarse_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

/* Follow the rrl: setting of the current snapshot: a table of its size while it is on. Runs
 * between batches; a reload that changes table_size starts with empty buckets. */
static void udp_rrl_update(udp_thread_t *u)
{
    const rrl_config_t *c = &u->ans.snap->cfg.rrl;
    if (u->rrl && (!c->enabled || rrl_table_size(u->rrl) != c->table_size)) {
        rrl_table_free(u->rrl);
        u->rrl = NULL;
    }
    if (c->enabled && !u->rrl && !(u->rrl = rrl_table_new(c->table_size)))
        log_warn("rrl: no memory for %u buckets: this UDP thread does not limit", c->table_size);
}

/* Rate limiting of one response of len bytes in buf: the length to send, 0 to send nothing.
 * Exempt prefixes and clients proving their address with a server cookie are looked at only
 * when the bucket is empty, so the common case costs one bucket lookup. */
static size_t udp_rrl(udp_thread_t *u, uint8_t *buf, size_t len, const query_meta_t *meta,
                      const struct sockaddr *src, uint32_t now)
{
    const rrl_config_t *c = &u->ans.snap->cfg.rrl;
    rrl_verdict_t v = rrl_account(u->rrl, c, src, (rrl_class_t)meta->rrl_class, now);
    if (v == RRL_PASS || (c->cookies && meta->cookie_valid) || rrl_exempt(c, src))
        return len;
    if (v == RRL_DROP) {
        metrics_inc(&u->counters.rrl_dropped);
        return 0;
    }
    metrics_inc(&u->counters.rrl_slipped);
    return rrl_truncate(buf, len, meta->qend, meta->opt_off);
}

/* Send the batch's ns replies with as few sendmmsg calls as possible. sendmmsg stops at the
 * first datagram it cannot send: a reply larger than the link's MTU (EMSGSIZE, the socket sets
 * DF) is cut to its header, question and OPT with TC set, so the client retries over TCP, and
 * sent again; any other error (an unreachable destination) skips that datagram. */
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
        size_t cut = r < 0 && errno == EMSGSIZE
                         ? rrl_truncate(v->iov_base, v->iov_len, u->sqend[sent], u->sopt[sent])
                         : v->iov_len;
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
static void udp_answer_batch(udp_thread_t *u, int n, uint32_t now)
{
    int ns = 0;
    for (int i = 0; i < n; i++) {
        struct msghdr *m = &u->rmsg[i].msg_hdr;
        if (m->msg_flags & MSG_TRUNC)
            continue; /* a query larger than any we accept */
        query_meta_t meta;
        const struct sockaddr *src = (const struct sockaddr *)&u->raddr[i];
        size_t len = query_process_meta(&u->ans.env, u->rbuf[i], u->rmsg[i].msg_len, u->sbuf[ns],
                                        UDP_BUFSZ, 0, src, &meta);
        if (len && u->rrl)
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

static void udp_thread_main(void *arg)
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
        gd_snapshot_t *before = u->ans.snap;
        answerer_poll(&u->ans, &u->pending, &u->pending_health);
        if (u->ans.snap != before)
            udp_rrl_update(u);
        uint32_t now = u->rrl ? coarse_ms() : 0;
        if (n > 0)
            udp_answer_batch(u, n, now);
    }
}

static void udp_thread_free(udp_thread_t *u)
{
    if (!u)
        return;
    answerer_deinit(&u->ans, &u->pending, &u->pending_health);
    rrl_table_free(u->rrl);
    free(u);
}

/* ---- TCP ---- */

static void lru_unlink(worker_t *w, conn_t *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        w->lru_head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        w->lru_tail = c->prev;
    c->prev = c->next = NULL;
}

static void lru_push(worker_t *w, conn_t *c)
{
    c->prev = w->lru_tail;
    c->next = NULL;
    if (w->lru_tail)
        w->lru_tail->next = c;
    else
        w->lru_head = c;
    w->lru_tail = c;
}

static void conn_on_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    if (--c->open_handles > 0)
        return;
    worker_t *w = c->w;
    free(c->out);
    c->out = NULL;
    free(c->xfr_out);
    c->xfr_out = NULL;
    c->in_use = false;
    c->next = w->free_list;
    w->free_list = c;
    w->open_conns--;
}

static void conn_close(conn_t *c)
{
    if (c->closing)
        return;
    c->closing = true;
    lru_unlink(c->w, c);
    c->open_handles = 2;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, conn_on_closed);
    uv_close((uv_handle_t *)&c->h, conn_on_closed);
}

static void conn_on_timeout(uv_timer_t *t)
{
    conn_close(t->data);
}

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    conn_t *c = h->data;
    buf->base = (char *)c->in + c->inlen;
    buf->len = TCP_INBUF - c->inlen;
}

static void conn_process(conn_t *c);
static void conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void conn_on_written(uv_write_t *req, int status)
{
    conn_t *c = req->data;
    c->writing = false;
    free(c->xfr_out);
    c->xfr_out = NULL;
    if (c->closing)
        return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    conn_process(c);
    if (!c->writing && !c->closing)
        uv_read_start((uv_stream_t *)&c->h, conn_alloc, conn_on_read);
}

/* Transfers out, counted over all workers for the log lines. */
static atomic_ulong xfr_seq;

/* A zone transfer request: the whole response (one frame per message) is written in one go
 * from its own buffer; reading waits until it is out. Returns -1 when the connection closed. */
static int conn_transfer(conn_t *c, const uint8_t *pkt, size_t len)
{
    uint8_t *out;
    size_t outlen;
    xfr_result_t r;
    char peer[INET6_ADDRSTRLEN + 8] = "?";
    const struct sockaddr *sa = (const struct sockaddr *)&c->peer;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, peer, sizeof(peer));
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, peer, sizeof(peer));
    if (xfr_process(&c->w->ans.env, pkt, len, sa, (uint64_t)time(NULL), &out, &outlen, &r)) {
        conn_close(c);
        return -1;
    }
    unsigned long n = atomic_fetch_add(&xfr_seq, 1) + 1;
    metrics_inc(&c->w->counters.transfers[r.allowed ? 1 : 0]);
    if (r.allowed)
        log_info("transfer #%lu allowed: %s of %s serial %u to %s%s%s: %zu messages, %zu records",
                 n, r.qtype == DNS_TYPE_IXFR ? "IXFR (sent as AXFR)" : "AXFR", r.zone, r.serial,
                 peer, r.key ? " key " : "", r.key ? r.key : "", r.messages, r.records);
    else
        log_info("transfer #%lu refused: %s of %s serial %u to %s%s%s: rcode %u tsig error %u", n,
                 r.qtype == DNS_TYPE_IXFR ? "IXFR" : "AXFR", r.zone, r.serial, peer,
                 r.key ? " key " : "", r.key ? r.key : "", r.rcode, r.tsig_error);
    c->xfr_out = out;
    uv_buf_t b = uv_buf_init((char *)out, (unsigned)outlen);
    c->wreq.data = c;
    if (uv_write(&c->wreq, (uv_stream_t *)&c->h, &b, 1, conn_on_written)) {
        conn_close(c);
        return -1;
    }
    c->writing = true;
    uv_read_stop((uv_stream_t *)&c->h);
    return 0;
}

/* Answer every complete frame in the input buffer; stop when a write has to wait. */
static void conn_process(conn_t *c)
{
    worker_t *w = c->w;
    size_t off = 0;
    while (!c->writing && !c->closing && c->inlen - off >= 2) {
        size_t flen = ((size_t)c->in[off] << 8) | c->in[off + 1];
        if (flen == 0 || flen > TCP_INBUF - 2) {
            conn_close(c); /* an empty frame or one larger than any query we accept */
            return;
        }
        if (c->inlen - off < 2 + flen)
            break;
        if (query_is_transfer(c->in + off + 2, flen)) {
            int tr = conn_transfer(c, c->in + off + 2, flen);
            off += 2 + flen;
            if (tr)
                return;
            uv_timer_again(&c->timer);
            continue;
        }
        size_t rlen = query_process(&w->ans.env, c->in + off + 2, flen, w->tcp_out + 2, TCP_MAXRESP,
                                    QUERY_TCP, (const struct sockaddr *)&c->peer);
        off += 2 + flen;
        uv_timer_again(&c->timer);
        lru_unlink(w, c);
        lru_push(w, c);
        if (!rlen)
            continue;
        w->tcp_out[0] = (uint8_t)(rlen >> 8);
        w->tcp_out[1] = (uint8_t)rlen;
        uv_buf_t b = uv_buf_init((char *)w->tcp_out, (unsigned)(rlen + 2));
        int r = uv_try_write((uv_stream_t *)&c->h, &b, 1);
        if (r == (int)(rlen + 2))
            continue;
        if (r < 0 && r != UV_EAGAIN) {
            conn_close(c);
            return;
        }
        size_t done = r > 0 ? (size_t)r : 0;
        if (!c->out && !(c->out = malloc(TCP_MAXRESP + 2))) {
            conn_close(c);
            return;
        }
        memcpy(c->out, w->tcp_out + done, rlen + 2 - done);
        uv_buf_t rest = uv_buf_init((char *)c->out, (unsigned)(rlen + 2 - done));
        c->wreq.data = c;
        if (uv_write(&c->wreq, (uv_stream_t *)&c->h, &rest, 1, conn_on_written)) {
            conn_close(c);
            return;
        }
        c->writing = true;
        uv_read_stop((uv_stream_t *)&c->h); /* backpressure: read more when this is out */
    }
    if (off && !c->closing) {
        memmove(c->in, c->in + off, c->inlen - off);
        c->inlen -= off;
    }
}

static void conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    conn_t *c = s->data;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (nread == 0)
        return;
    c->inlen += (size_t)nread;
    conn_process(c);
    if (!c->closing && c->inlen == TCP_INBUF)
        conn_close(c); /* a full buffer without a complete frame */
}

/* Give the accepted socket fd a free slot (the caller checked there is one). */
static void conn_open(worker_t *w, int fd, const struct sockaddr_storage *peer, socklen_t plen)
{
    conn_t *c = w->free_list;
    w->free_list = c->next;
    memset(c, 0, offsetof(conn_t, in));
    c->w = w;
    c->in_use = true;
    memcpy(&c->peer, peer, plen);
    w->open_conns++;
    uv_tcp_init(&w->loop, &c->h);
    uv_timer_init(&w->loop, &c->timer);
    c->h.data = c;
    c->timer.data = c;
    lru_push(w, c);
    /* The pool has one spare slot: when the last free one is taken, the connection idle the
     * longest is closed, so a new connection always finds room. */
    if (!w->free_list && w->lru_head != c)
        conn_close(w->lru_head);
    if (uv_tcp_open(&c->h, fd)) {
        close(fd); /* not the handle's yet */
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->h, 1);
    uv_timer_start(&c->timer, conn_on_timeout, w->idle_ms, w->idle_ms);
    uv_read_start((uv_stream_t *)&c->h, conn_alloc, conn_on_read);
}

static bool tcp_has_slot(void *ctx)
{
    return ((worker_t *)ctx)->free_list != NULL;
}

static void tcp_take(void *ctx, int fd, const struct sockaddr_storage *peer, socklen_t plen)
{
    conn_open(ctx, fd, peer, plen);
}

/* ---- worker lifecycle ---- */

static void close_walk(uv_handle_t *h, void *arg)
{
    worker_t *w = arg;
    if (uv_is_closing(h))
        return;
    conn_t *c = h->data;
    if (c >= w->conns && c < w->conns + w->nconns) {
        if (h->type == UV_TCP)
            conn_close(c); /* its timer closes with it */
        return;
    }
    uv_close(h, NULL); /* the async handle, the listeners' polls and timers */
}

static void worker_on_async(uv_async_t *a)
{
    worker_t *w = a->data;
    answerer_poll(&w->ans, &w->pending, &w->pending_health);
    if (atomic_load(&w->stop))
        uv_walk(&w->loop, close_walk, w);
}

static void worker_main(void *arg)
{
    worker_t *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
}

static void worker_free(worker_t *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->nconns; i++)
        free(w->conns[i].out);
    free(w->conns);
    for (size_t j = 0; j < GD_MAX_LISTEN; j++)
        udp_thread_free(w->udp[j]);
    answerer_deinit(&w->ans, &w->pending, &w->pending_health);
    free(w);
}

int gd_server_start(gd_server_t **out, gd_snapshot_t *snap, unsigned nworkers, char *err,
                    size_t errlen)
{
    const gd_config_t *cfg = &snap->cfg;
    gd_server_t *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return -ENOMEM;
    srv->workers = calloc(nworkers, sizeof(*srv->workers));
    if (!srv->workers) {
        free(srv);
        return -ENOMEM;
    }
    /* Once per process: a reload publishes a new snapshot and never comes back here. */
    int rc = claim_all(srv, cfg, err, errlen);
    if (rc)
        goto fail;
    for (unsigned i = 0; i < nworkers; i++) {
        worker_t *w = calloc(1, sizeof(*w));
        if (!w) {
            rc = -ENOMEM;
            goto fail;
        }
        srv->workers[srv->nworkers++] = w;
        w->id = i;
        w->idle_ms = cfg->tcp_idle_ms;
        w->nlisten = cfg->nlisten;
        for (size_t j = 0; j < GD_MAX_LISTEN; j++)
            w->udp_fd[j] = w->tcp_fd[j] = -1;
        for (size_t j = 0; j < cfg->nlisten; j++) {
            if ((w->udp_fd[j] = open_socket(&cfg->listen[j], SOCK_DGRAM, err, errlen)) < 0 ||
                (w->tcp_fd[j] = open_socket(&cfg->listen[j], SOCK_STREAM, err, errlen)) < 0) {
                rc = -EADDRINUSE;
                goto fail;
            }
        }
        w->nconns = (size_t)cfg->tcp_max_conns + 1;
        w->conns = calloc(w->nconns, sizeof(conn_t));
        if (!w->conns) {
            rc = -ENOMEM;
            goto fail;
        }
        for (size_t j = w->nconns; j-- > 0;) {
            w->conns[j].next = w->free_list;
            w->free_list = &w->conns[j];
        }
        if (answerer_init(&w->ans, snap, &w->counters)) {
            rc = -ENOMEM;
            goto fail;
        }
        for (size_t j = 0; j < cfg->nlisten; j++) {
            udp_thread_t *u = calloc(1, sizeof(*u));
            if (!u)
                goto nomem;
            w->udp[j] = u;
            u->fd = w->udp_fd[j];
            u->pktinfo = addr_is_any(&cfg->listen[j].ss);
            u->stop = &srv->udp_stop;
            if (answerer_init(&u->ans, snap, &u->counters))
                goto nomem;
            if (cfg->rrl.enabled && !(u->rrl = rrl_table_new(cfg->rrl.table_size)))
                goto nomem;
        }
    }
    for (unsigned i = 0; i < srv->nworkers; i++) {
        worker_t *w = srv->workers[i];
        uv_loop_init(&w->loop);
        uv_async_init(&w->loop, &w->async, worker_on_async);
        w->async.data = w;
        for (size_t k = 0; i == 0 && k < srv->nclaims; k++) {
            if (srv->claim_fd[k] >= 0 &&
                uv_poll_init(&w->loop, &srv->claim_poll[k], srv->claim_fd[k]) == 0)
                uv_poll_start(&srv->claim_poll[k], UV_READABLE, claim_on_asked);
        }
        for (size_t j = 0; j < w->nlisten; j++) {
            udp_thread_t *u = w->udp[j];
            if (uv_thread_create(&u->thread, udp_thread_main, u)) {
                snprintf(err, errlen, "cannot start a UDP thread");
                rc = -EAGAIN;
                goto fail; /* not reached in practice; the process exits */
            }
            u->started = true;
            gd_acceptor_t *t = &w->tcp[j];
            t->fd = w->tcp_fd[j];
            t->batch = TCP_ACCEPT_BATCH;
            t->pause_ms = TCP_ACCEPT_PAUSE_MS;
            snprintf(t->what, sizeof(t->what), "worker %u, %s/tcp", w->id, cfg->listen[j].text);
            t->has_slot = tcp_has_slot;
            t->take = tcp_take;
            t->ctx = w;
            if (gd_acceptor_start(t, &w->loop)) {
                snprintf(err, errlen, "cannot watch %s/tcp", cfg->listen[j].text);
                rc = -EINVAL;
                goto fail; /* not reached in practice; the process exits */
            }
        }
        if (uv_thread_create(&w->thread, worker_main, w)) {
            snprintf(err, errlen, "cannot start worker thread %u", i);
            rc = -EAGAIN;
            goto fail; /* not reached in practice; earlier workers keep running until exit */
        }
    }
    *out = srv;
    return 0;
nomem:
    rc = -ENOMEM;
fail:
    for (unsigned i = 0; i < srv->nworkers; i++) {
        worker_t *w = srv->workers[i];
        for (size_t j = 0; j < GD_MAX_LISTEN; j++) {
            if (w->udp_fd[j] >= 0)
                close(w->udp_fd[j]);
            if (w->tcp_fd[j] >= 0)
                close(w->tcp_fd[j]);
        }
        worker_free(w);
    }
    claim_release(srv);
    free(srv->workers);
    free(srv);
    return rc;
}

static void publish_slot(_Atomic(gd_snapshot_t *) *slot, gd_snapshot_t *snap)
{
    gd_snapshot_ref(snap);
    gd_snapshot_t *old = atomic_exchange(slot, snap);
    if (old)
        gd_snapshot_unref(old);
}

static void publish_health_slot(_Atomic(gd_health_t *) *slot, gd_health_t *h)
{
    gd_health_ref(h);
    gd_health_t *old = atomic_exchange(slot, h);
    if (old)
        gd_health_unref(old);
}

void gd_server_publish(gd_server_t *srv, gd_snapshot_t *snap, gd_health_t *health)
{
    for (unsigned i = 0; i < srv->nworkers; i++) {
        worker_t *w = srv->workers[i];
        /* Health first: a worker takes the config slot before the health slot, so one that
         * sees a config also sees the health published before it (answerer_poll). */
        if (health) {
            publish_health_slot(&w->pending_health, health);
            for (size_t j = 0; j < w->nlisten; j++)
                publish_health_slot(&w->udp[j]->pending_health, health);
        }
        if (snap) {
            publish_slot(&w->pending, snap);
            for (size_t j = 0; j < w->nlisten; j++)
                publish_slot(&w->udp[j]->pending, snap); /* taken before its next batch */
        }
        uv_async_send(&w->async);
    }
}

void gd_server_counters(const gd_server_t *srv, metrics_counters_t *sum)
{
    memset(sum, 0, sizeof(*sum));
    for (unsigned i = 0; i < srv->nworkers; i++) {
        const worker_t *w = srv->workers[i];
        metrics_counters_add(sum, &w->counters);
        for (size_t j = 0; j < w->nlisten; j++)
            metrics_counters_add(sum, &w->udp[j]->counters);
    }
}

void gd_server_stop(gd_server_t *srv)
{
    /* UDP threads: the flag, then wake every one blocked in recvmmsg. */
    atomic_store(&srv->udp_stop, true);
    for (unsigned i = 0; i < srv->nworkers; i++)
        for (size_t j = 0; j < srv->workers[i]->nlisten; j++)
            shutdown(srv->workers[i]->udp_fd[j], SHUT_RDWR);
    for (unsigned i = 0; i < srv->nworkers; i++)
        for (size_t j = 0; j < srv->workers[i]->nlisten; j++)
            if (srv->workers[i]->udp[j]->started)
                uv_thread_join(&srv->workers[i]->udp[j]->thread);
    for (unsigned i = 0; i < srv->nworkers; i++) {
        atomic_store(&srv->workers[i]->stop, true);
        uv_async_send(&srv->workers[i]->async);
    }
    for (unsigned i = 0; i < srv->nworkers; i++) {
        worker_t *w = srv->workers[i];
        uv_thread_join(&w->thread);
        uv_loop_close(&w->loop);
        for (size_t j = 0; j < w->nlisten; j++) {
            close(w->udp_fd[j]);
            close(w->tcp_fd[j]); /* the listener's poll handle did not own it */
        }
        worker_free(w);
    }
    claim_release(srv); /* last: the address is ours until every socket on it is closed */
    free(srv->workers);
    free(srv);
}
