/* hc_round.c: one round of healthcheck: probe every address of every probed PoP with bounded
 * concurrency under a round deadline, apply the anti-flap thresholds, then read the PoPs' load. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hc_internal.h"
#include "hc_load.h"
#include "log.h"

#define ROUND_NS_PER_MS       1000000u
#define ROUND_DEADLINE_REASON "timeout (round deadline)"
#define ROUND_NOT_STARTED     "timeout (round deadline, not started)"
#define ROUND_NOT_PROBED      "not probed" /* "not probed (too many open files)" */
#define ROUND_EXPECT_TEXT_MAX 64
#define ROUND_KIB             1024
#define ROUND_HOST_MAX        (POPS_HOST_MAX + sizeof("[]:65535")) /* a Host header value */

/* Every status body the probe reads can be parsed for the load. */
_Static_assert(HC_RESPONSE_MAX <= HC_LOAD_BODY_MAX, "HC_RESPONSE_MAX exceeds HC_LOAD_BODY_MAX");

typedef enum hc_job_kind {
    JOB_ADDR = 0, /* the health probe of one address */
    JOB_LOAD,     /* the status page of a PoP, from its first address up that answered */
} hc_job_kind_t;

typedef enum hc_job_state {
    JOB_WAITING = 0,
    JOB_RUNNING,
    JOB_DONE,
} hc_job_state_t;

typedef struct hc_job {
    hc_round_t *r;
    hc_job_kind_t kind;
    hc_job_state_t state;
    size_t pop;  /* index into hf->pops and r->rp */
    size_t addr; /* index into hf->pops[pop].addrs */
    hc_probe_t *probe;
} hc_job_t;

/* A probed PoP: its model and its two requests. */
typedef struct hc_rpop {
    const pops_pop_t *pp;
    char request[HC_REQUEST_MAX], status_request[HC_REQUEST_MAX];
    size_t request_len, status_request_len;
} hc_rpop_t;

struct hc_round {
    uv_loop_t *loop;
    uv_timer_t deadline;
    health_file_t *hf;
    hc_rpop_t *rp;  /* [hf->npops] */
    hc_job_t *jobs; /* address jobs, then load jobs */
    size_t njobs, next, running, done;
    unsigned concurrency;
    bool pumping, load_phase, expired, finished;
    bool fd_limited; /* a probe had to wait for a file descriptor (logged once per round) */
    /* A probe found no descriptor or memory while none of the round's own was running to free
     * one: the libuv error. Nothing more starts this round (waiting would only wait out the
     * deadline); the jobs left are not probed. */
    int starved;
    uint64_t start_ns, deadline_ms;
    hc_round_stats_t stats;
    hc_round_cb cb;
    void *ctx;
};

static void round_check(hc_round_t *r);
static void round_pump(hc_round_t *r);
static void round_on_deadline(uv_timer_t *t);

static void round_on_close(uv_handle_t *h)
{
    hc_round_t *r = h->data;
    health_file_free(r->hf);
    free(r->rp);
    free(r->jobs);
    free(r);
}

/* ------------------------------------------------------------------ requests */

/* The Host header: the status URL's for the status request, else the probe's, else the address
 * and port (a tcp probe has no URL). */
static void round_host(const hc_rpop_t *rp, hc_job_kind_t kind, const health_addr_t *a,
                       uint16_t port, char *out, size_t n)
{
    const pops_probe_t *pr = &rp->pp->probe;
    char text[HEALTH_ADDR_STRLEN];
    if (kind == JOB_LOAD && pr->status_host[0])
        snprintf(out, n, "%s", pr->status_host);
    else if (pr->host[0])
        snprintf(out, n, "%s", pr->host);
    else if (a->family == AF_INET6)
        snprintf(out, n, "[%s]:%u", health_addr_format(a, text), port);
    else
        snprintf(out, n, "%s:%u", health_addr_format(a, text), port);
}

static size_t round_request(char *out, const char *path, const char *host)
{
    int n = snprintf(out, HC_REQUEST_MAX,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: " HC_USER_AGENT
                     "\r\nAccept: */*\r\nConnection: close\r\n\r\n",
                     path, host);
    return n < 0 || n >= HC_REQUEST_MAX ? 0 : (size_t)n;
}

static void round_sockaddr(const health_addr_t *a, uint16_t port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (a->family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        memcpy(&s6->sin6_addr, a->addr, sizeof(s6->sin6_addr));
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        memcpy(&s4->sin_addr, a->addr, sizeof(s4->sin_addr));
    }
}

/* ------------------------------------------------------------------ results */

static void round_expect_text(const pops_probe_t *pr, char *out, size_t n)
{
    size_t off = 0;
    out[0] = '\0';
    for (size_t i = 0; i < pr->nexpect && off < n; i++) {
        int w = snprintf(out + off, n - off, "%s%u", i ? "," : "", (unsigned)pr->expect[i]);
        if (w < 0)
            break;
        off += (size_t)w;
    }
}

/* Judge an address probe: success, and the reason recorded either way. */
static bool round_judge(const pops_probe_t *pr, const hc_outcome_t *o, char *reason, size_t n)
{
    if (!o->ok) {
        snprintf(reason, n, "%s", o->reason);
        return false;
    }
    if (pr->kind == POPS_PROBE_TCP) {
        snprintf(reason, n, "tcp connect");
        return true;
    }
    bool status_ok = false;
    for (size_t i = 0; i < pr->nexpect; i++)
        status_ok |= pr->expect[i] == o->status;
    if (!status_ok) {
        char want[ROUND_EXPECT_TEXT_MAX];
        round_expect_text(pr, want, sizeof(want));
        snprintf(reason, n, "http %d (expected %s)", o->status, want);
        return false;
    }
    if (pr->body[0] && !memmem(o->body, o->body_len, pr->body, strlen(pr->body))) {
        if (o->cut)
            snprintf(reason, n, "http %d, body lacks \"%.48s\" in its first %d KiB", o->status,
                     pr->body, HC_RESPONSE_MAX / ROUND_KIB);
        else
            snprintf(reason, n, "http %d, body lacks \"%.48s\"", o->status, pr->body);
        return false;
    }
    snprintf(reason, n, "http %d", o->status);
    return true;
}

static void round_addr_record(hc_round_t *r, hc_job_t *j, bool ok, const char *reason,
                              double rtt_ms)
{
    health_pop_t *p = &r->hf->pops[j->pop];
    health_addr_t *a = &p->addrs[j->addr];
    health_state_t was = a->state;
    if (!health_addr_record(a, &r->rp[j->pop].pp->probe, ok, reason, rtt_ms, (int64_t)time(NULL)))
        return;
    char text[HEALTH_ADDR_STRLEN];
    r->stats.changes++;
    log_msg(a->state == HEALTH_DOWN ? LOG_LEVEL_WARN : LOG_LEVEL_INFO, "%s %s: %s -> %s (%s)",
            p->name, health_addr_format(a, text), health_state_name(was),
            health_state_name(a->state), a->reason);
}

static void round_load_record(hc_round_t *r, hc_job_t *j, const hc_outcome_t *o)
{
    health_pop_t *p = &r->hf->pops[j->pop];
    const pops_probe_t *pr = &r->rp[j->pop].pp->probe;
    if (!o->ok) {
        snprintf(p->load_reason, sizeof(p->load_reason), "%s", o->reason);
    } else if (o->status < 200 || o->status > 299) {
        snprintf(p->load_reason, sizeof(p->load_reason), "status %d", o->status);
    } else if (o->cut) { /* not the end of a document: say so, rather than where JSON broke */
        snprintf(p->load_reason, sizeof(p->load_reason), "status body larger than %d KiB",
                 HC_RESPONSE_MAX / ROUND_KIB);
    } else if (!hc_load_read(pr->status_path, o->body, o->body_len, pr->load_field, HEALTH_LOAD_MAX,
                             &p->load, p->load_reason, sizeof(p->load_reason))) {
        p->has_load = true;
        p->load_reason[0] = '\0';
        r->stats.loads_read++;
    }
}

static void round_on_probe(const hc_outcome_t *o, void *ctx)
{
    hc_job_t *j = ctx;
    hc_round_t *r = j->r;
    j->state = JOB_DONE;
    j->probe = NULL;
    r->running--;
    r->done++;
    if (r->finished)
        return; /* aborted */
    if (j->kind == JOB_ADDR) {
        char reason[HEALTH_REASON_MAX];
        bool ok = round_judge(&r->rp[j->pop].pp->probe, o, reason, sizeof(reason));
        if (!strcmp(o->reason, ROUND_DEADLINE_REASON))
            r->stats.deadline++;
        round_addr_record(r, j, ok, reason, o->rtt_ms);
    } else {
        round_load_record(r, j, o);
    }
    if (!r->pumping)
        round_pump(r);
}

/* ------------------------------------------------------------------ scheduling */

/* What a probe lacked, by its libuv error: UV_ENOMEM, else UV_EMFILE or UV_ENFILE. */
static const char *round_lack(int rc)
{
    return rc == UV_ENOMEM ? "memory" : "file descriptor";
}

/* Start job j; returns false when it was put back to wait for a free file descriptor. */
static bool round_job_start(hc_round_t *r, hc_job_t *j)
{
    const health_pop_t *p = &r->hf->pops[j->pop];
    const health_addr_t *a = &p->addrs[j->addr];
    const hc_rpop_t *rp = &r->rp[j->pop];
    const pops_probe_t *pr = &rp->pp->probe;
    hc_probe_spec_t spec;
    memset(&spec, 0, sizeof(spec));
    spec.timeout_ms = pr->timeout_ms;
    if (j->kind == JOB_ADDR) {
        round_sockaddr(a, pr->port, &spec.addr);
        spec.http = pr->kind == POPS_PROBE_HTTP;
        spec.request = rp->request;
        spec.request_len = rp->request_len;
    } else {
        round_sockaddr(a, pr->status_port ? pr->status_port : pr->port, &spec.addr);
        spec.http = true;
        spec.request = rp->status_request;
        spec.request_len = rp->status_request_len;
    }
    j->state = JOB_RUNNING;
    r->running++;
    int rc = hc_probe_start(r->loop, &spec, round_on_probe, j, &j->probe);
    if (rc == UV_EMFILE || rc == UV_ENFILE || rc == UV_ENOMEM) {
        /* The prober is out of descriptors or memory, not the address out of order: never a
         * failure of the address. The job waits for a running probe to end and free what it
         * held; with none running, nothing in this round ever will. */
        r->running--;
        j->state = JOB_WAITING;
        if (!r->running) {
            r->starved = rc;
            return false;
        }
        if (!r->fd_limited)
            log_warn("no %s for a probe (%s) with %zu running: the others wait (%s)",
                     round_lack(rc), uv_strerror(rc), r->running,
                     rc == UV_ENOMEM
                         ? "lower --concurrency"
                         : "raise the open-file limit, ulimit -n, or lower --concurrency");
        r->fd_limited = true;
        return false;
    }
    if (rc) {
        hc_outcome_t o;
        memset(&o, 0, sizeof(o));
        snprintf(o.reason, sizeof(o.reason), "cannot start: %s", uv_strerror(rc));
        round_on_probe(&o, j);
    }
    return true;
}

/* After starvation: the jobs not started are done without a result. An address keeps its state
 * and history (it was not measured, so it is neither up nor down by this round); a load is not
 * read. */
static void round_jobs_unprobed(hc_round_t *r)
{
    const char *why = uv_strerror(r->starved);
    for (; r->next < r->njobs; r->next++) {
        hc_job_t *j = &r->jobs[r->next];
        health_pop_t *p = &r->hf->pops[j->pop];
        j->state = JOB_DONE;
        r->done++;
        if (j->kind == JOB_ADDR) {
            r->stats.unprobed++;
            snprintf(p->addrs[j->addr].reason, HEALTH_REASON_MAX, ROUND_NOT_PROBED " (%s)", why);
        } else {
            snprintf(p->load_reason, HEALTH_REASON_MAX, "not read (%s)", why);
        }
    }
}

/* Start waiting jobs up to the concurrency bound and while descriptors last. */
static void round_start_jobs(hc_round_t *r)
{
    r->pumping = true;
    while (!r->expired && !r->starved && r->running < r->concurrency && r->next < r->njobs) {
        if (!round_job_start(r, &r->jobs[r->next]))
            break;
        r->next++;
    }
    if (r->starved && r->next < r->njobs) {
        if (!r->stats.starved)
            log_error("no %s for a probe (%s) and none of this round's own probes running to "
                      "free one: the probes left are not made, their addresses keep their state "
                      "(%s)",
                      round_lack(r->starved), uv_strerror(r->starved),
                      r->starved == UV_ENOMEM ? "out of memory"
                                              : "raise the open-file limit, ulimit -n");
        r->stats.starved = r->starved;
        round_jobs_unprobed(r);
    }
    r->pumping = false;
}

/* Start what can start, then see whether the phase is over. */
static void round_pump(hc_round_t *r)
{
    round_start_jobs(r);
    round_check(r);
}

static void round_pop_states(hc_round_t *r)
{
    for (size_t i = 0; i < r->hf->npops; i++) {
        health_pop_t *p = &r->hf->pops[i];
        size_t up = 0, down = 0;
        for (size_t k = 0; k < p->naddrs; k++) {
            up += p->addrs[k].state == HEALTH_UP;
            down += p->addrs[k].state == HEALTH_DOWN;
        }
        p->state = up ? HEALTH_UP : down == p->naddrs ? HEALTH_DOWN : HEALTH_UNKNOWN;
        r->stats.up += up;
        r->stats.down += down;
    }
}

/* After the address probes: one load job per PoP with a status path and an address up. */
static void round_load_jobs(hc_round_t *r)
{
    for (size_t i = 0; i < r->hf->npops; i++) {
        health_pop_t *p = &r->hf->pops[i];
        hc_rpop_t *rp = &r->rp[i];
        const pops_probe_t *pr = &rp->pp->probe;
        if (!pr->status_path[0])
            continue;
        r->stats.loads++;
        /* The first address up whose probe succeeded this round: one that just failed may still
         * read up (anti-flap) for down_after - 1 rounds, and its status page would fail too. */
        size_t k = p->naddrs;
        for (size_t m = 0; m < p->naddrs && k == p->naddrs; m++)
            if (p->addrs[m].state == HEALTH_UP && p->addrs[m].nhistory && p->addrs[m].history & 1u)
                k = m;
        for (size_t m = 0; m < p->naddrs && k == p->naddrs; m++)
            if (p->addrs[m].state == HEALTH_UP)
                k = m;
        if (k == p->naddrs) {
            snprintf(p->load_reason, sizeof(p->load_reason), "no address up");
            continue;
        }
        char host[ROUND_HOST_MAX];
        round_host(rp, JOB_LOAD, &p->addrs[k], pr->status_port, host, sizeof(host));
        rp->status_request_len = round_request(rp->status_request, pr->status_path, host);
        hc_job_t *j = &r->jobs[r->njobs++];
        memset(j, 0, sizeof(*j));
        j->r = r;
        j->kind = JOB_LOAD;
        j->pop = i;
        j->addr = k;
    }
}

static void round_finish(hc_round_t *r)
{
    r->finished = true;
    uv_timer_stop(&r->deadline);
    health_file_t *hf = r->hf;
    r->hf = NULL;
    hf->time = (int64_t)time(NULL);
    hf->round_ms = (uint32_t)((uv_hrtime() - r->start_ns) / ROUND_NS_PER_MS);
    r->stats.pops = hf->npops;
    r->cb(hf, &r->stats, r->ctx);
    uv_close((uv_handle_t *)&r->deadline, round_on_close);
}

static void round_check(hc_round_t *r)
{
    if (r->finished || r->done < r->njobs)
        return;
    if (!r->load_phase) {
        r->load_phase = true;
        round_pop_states(r);
        if (r->expired) {
            for (size_t i = 0; i < r->hf->npops; i++)
                if (r->rp[i].pp->probe.status_path[0])
                    snprintf(r->hf->pops[i].load_reason, HEALTH_REASON_MAX, "round deadline");
        } else {
            round_load_jobs(r);
        }
        if (r->next < r->njobs) {
            round_pump(r);
            return;
        }
    }
    round_finish(r);
}

/* The round's first step, from the loop (the callback never runs inside hc_round_start): arm the
 * deadline, start the first probes. With nothing to probe, or nothing that can start, the round
 * ends here. */
static void round_on_begin(uv_timer_t *t)
{
    hc_round_t *r = t->data;
    uv_timer_start(&r->deadline, round_on_deadline, r->deadline_ms, 0);
    round_pump(r);
}

static void round_on_deadline(uv_timer_t *t)
{
    hc_round_t *r = t->data;
    r->expired = true;
    /* Jobs never started fail first, so that the round ends with the last running one. */
    for (; r->next < r->njobs; r->next++) {
        hc_job_t *j = &r->jobs[r->next];
        j->state = JOB_DONE;
        r->done++;
        r->stats.deadline++;
        if (j->kind == JOB_ADDR)
            round_addr_record(r, j, false, ROUND_NOT_STARTED, 0);
        else
            snprintf(r->hf->pops[j->pop].load_reason, HEALTH_REASON_MAX, "round deadline");
    }
    r->pumping = true;
    for (size_t i = 0; i < r->njobs; i++)
        if (r->jobs[i].state == JOB_RUNNING)
            hc_probe_cancel(r->jobs[i].probe, ROUND_DEADLINE_REASON);
    r->pumping = false;
    round_check(r);
}

/* ------------------------------------------------------------------ set-up */

/* Whether the k-th address of pp (v4, then v6) is probed: probe.addresses may pick a subset; the
 * others are not judged and stay out of the state file (they follow their PoP). */
static bool round_addr_probed(const pops_pop_t *pp, size_t k)
{
    return k < pp->n4 ? (pp->probe.mask4 >> k) & 1u : (pp->probe.mask6 >> (k - pp->n4)) & 1u;
}

static size_t round_addr_count(const pops_pop_t *pp)
{
    size_t n = 0;
    for (size_t k = 0; k < pp->n4 + pp->n6; k++)
        n += round_addr_probed(pp, k);
    return n;
}

/* Fill the new state of one PoP: its probed addresses (v4, then v6) with their previous history. */
static void round_pop_init(health_pop_t *p, const pops_pop_t *pp, const health_file_t *prev)
{
    const health_pop_t *old = prev ? health_file_pop(prev, pp->name) : NULL;
    p->state = HEALTH_UNKNOWN;
    for (size_t k = 0; k < pp->n4 + pp->n6; k++) {
        if (!round_addr_probed(pp, k))
            continue;
        health_addr_t *a = &p->addrs[p->naddrs++];
        int family = k < pp->n4 ? AF_INET : AF_INET6;
        const uint8_t *bytes = k < pp->n4 ? pp->v4[k] : pp->v6[k - pp->n4];
        size_t alen = family == AF_INET ? 4 : 16;
        memset(a, 0, sizeof(*a));
        for (size_t m = 0; old && m < old->naddrs; m++)
            if (old->addrs[m].family == family && !memcmp(old->addrs[m].addr, bytes, alen))
                *a = old->addrs[m];
        if (!a->family) {
            a->rtt_ms = -1;
            a->state = HEALTH_UNKNOWN;
        }
        a->family = family;
        memcpy(a->addr, bytes, alen);
    }
}

int hc_round_start(uv_loop_t *loop, const pops_t *pops, const health_file_t *prev,
                   const char *vantage, unsigned concurrency, uint64_t deadline_ms, hc_round_cb cb,
                   void *ctx, hc_round_t **out)
{
    hc_round_t *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    size_t npops = 0, naddrs = 0;
    for (size_t i = 0; i < pops->npops; i++) {
        const pops_pop_t *pp = &pops->pop[i];
        if (pp->probe.kind == POPS_PROBE_NONE)
            continue;
        if (round_addr_count(pp) == 0) {
            r->stats.skipped++;
            continue;
        }
        npops++;
        naddrs += round_addr_count(pp);
    }
    r->hf = health_file_new(npops, naddrs);
    r->rp = calloc(npops ? npops : 1, sizeof(*r->rp));
    /* Address jobs, then at most one load job per PoP. */
    r->jobs = calloc(naddrs + npops ? naddrs + npops : 1, sizeof(*r->jobs));
    if (!r->hf || !r->rp || !r->jobs) {
        health_file_free(r->hf);
        free(r->rp);
        free(r->jobs);
        free(r);
        return -ENOMEM;
    }
    health_file_t *hf = r->hf;
    snprintf(hf->vantage, sizeof(hf->vantage), "%s", vantage);
    for (size_t i = 0; i < pops->npops; i++) {
        const pops_pop_t *pp = &pops->pop[i];
        if (pp->probe.kind == POPS_PROBE_NONE || round_addr_count(pp) == 0)
            continue;
        size_t ip = hf->npops;
        hc_rpop_t *rp = &r->rp[ip];
        /* Room was counted above for exactly these PoPs and addresses. */
        health_pop_t *p = health_file_add_pop(hf, pp->name, round_addr_count(pp));
        rp->pp = pp;
        round_pop_init(p, pp, prev);
        if (pp->probe.kind == POPS_PROBE_HTTP) {
            char host[ROUND_HOST_MAX];
            round_host(rp, JOB_ADDR, &p->addrs[0], pp->probe.port, host, sizeof(host));
            rp->request_len = round_request(rp->request, pp->probe.path, host);
        }
        for (size_t k = 0; k < p->naddrs; k++) {
            hc_job_t *j = &r->jobs[r->njobs++];
            j->r = r;
            j->kind = JOB_ADDR;
            j->pop = ip;
            j->addr = k;
        }
    }
    r->stats.addrs = r->njobs;
    r->loop = loop;
    r->concurrency = concurrency ? concurrency : 1;
    r->cb = cb;
    r->ctx = ctx;
    r->start_ns = uv_hrtime();
    r->deadline_ms = deadline_ms;
    uv_timer_init(loop, &r->deadline);
    r->deadline.data = r;
    uv_timer_start(&r->deadline, round_on_begin, 0, 0);
    *out = r;
    return 0;
}

void hc_round_abort(hc_round_t *r)
{
    if (r->finished)
        return;
    r->finished = true;
    uv_timer_stop(&r->deadline);
    for (size_t i = 0; i < r->njobs; i++)
        if (r->jobs[i].state == JOB_RUNNING)
            hc_probe_cancel(r->jobs[i].probe, "aborted");
    uv_close((uv_handle_t *)&r->deadline, round_on_close);
}
