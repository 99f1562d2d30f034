/* listen.c: SO_REUSEPORT listen sockets, the per-address claim and unread input (see listen.h). */
#include "listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/un.h>
#include <unistd.h>

#include "portowner.h"

/* The advice that ends a message about an address in use, for the config key key ("listen",
 * "status_listen"): its command-line option is the key with '-' for '_'. */
static const char *claim_fix(const char *key, char *buf, size_t size)
{
    char opt[32];
    size_t i = 0;
    for (; key[i] && i + 1 < sizeof(opt); i++) {
        opt[i] = key[i] == '_' ? '-' : key[i];
    }
    opt[i] = '\0';
    snprintf(buf, size, "stop it or change %s: in the config (or --%s)", key, opt);
    return buf;
}

/* Fill un with the abstract name, e.g. "\0geodnsd:127.0.0.1:5353"; return its length. */
static socklen_t claim_name(const char *prog, const struct sockaddr_storage *ss,
                            struct sockaddr_un *un)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &v4->sin_addr, host, sizeof(host));
        port = ntohs(v4->sin_port);
    } else {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof(host));
        port = ntohs(v6->sin6_port);
    }
    memset(un, 0, sizeof(*un));
    un->sun_family = AF_UNIX;
    int n = snprintf(un->sun_path + 1, sizeof(un->sun_path) - 1, "%s:%s%s%s:%u", prog,
                     ss->ss_family == AF_INET6 ? "[" : "", host,
                     ss->ss_family == AF_INET6 ? "]" : "", port);
    if (n < 0 || (size_t)n >= sizeof(un->sun_path) - 1) {
        n = (int)sizeof(un->sun_path) - 2;
    }
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

/* The process holding the lock un, or 0 when it cannot be told (SO_PEERCRED of a connection to
 * it gives its pid as of its listen(); the holder accepts and closes such connections in
 * listen_claim_answer, so its small backlog never fills). */
static int claim_holder(const struct sockaddr_un *un, socklen_t len)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return 0;
    }
    struct ucred cred = {0};
    socklen_t clen = sizeof(cred);
    if (connect(fd, (const struct sockaddr *)un, len) ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen)) {
        cred.pid = 0;
    }
    close(fd);
    return cred.pid;
}

/* Bind ss for one protocol without SO_REUSEPORT and close it again. */
static int claim_probe(const char *key, const struct sockaddr_storage *ss, socklen_t len,
                       const char *text, int type, char *err, size_t errlen)
{
    const char *proto = type == SOCK_DGRAM ? "udp" : "tcp";
    int one = 1;
    int fd = socket(ss->ss_family, type | SOCK_CLOEXEC, 0);
    if (fd < 0 ||
        (type == SOCK_STREAM && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one))) ||
        (ss->ss_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
        bind(fd, (const struct sockaddr *)ss, len)) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
        }
        if (e == EADDRINUSE) {
            char fix[96], who[96], hint[160];
            char flag = type == SOCK_DGRAM ? 'u' : 't';
            if (portowner_find(ss, type, who, sizeof(who)) != 0) {
                snprintf(hint, sizeof(hint), "`ss -l%cnp` as root names it", flag);
            } else if (strncmp(who, "of ", 3) == 0) {
                /* Another user's process: the socket's owner is in /proc/net for everyone, the
                 * process's fds are not ours to read. */
                snprintf(hint, sizeof(hint), "%s; `ss -l%cnp` as root names it", who, flag);
            } else {
                snprintf(hint, sizeof(hint), "%s", who);
            }
            snprintf(err, errlen, "%s/%s is in use: another process (%s) is already serving it; %s",
                     text, proto, hint, claim_fix(key, fix, sizeof(fix)));
        } else {
            snprintf(err, errlen, "cannot listen on %s/%s: %s", text, proto, strerror(e));
        }
        return -e;
    }
    close(fd);
    return 0;
}

int listen_claim(const char *prog, const char *key, const struct sockaddr_storage *ss,
                 socklen_t len, const char *text, int protos, int *lock_fd, char *err,
                 size_t errlen)
{
    char fix[96];
    struct sockaddr_un un;
    socklen_t ulen = claim_name(prog, ss, &un);
    *lock_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (*lock_fd >= 0 &&
        (bind(*lock_fd, (const struct sockaddr *)&un, ulen) || listen(*lock_fd, 1))) {
        int e = errno;
        close(*lock_fd);
        *lock_fd = -1;
        if (e == EADDRINUSE) {
            int pid = claim_holder(&un, ulen);
            char who[32] = "";
            if (pid > 0) {
                snprintf(who, sizeof(who), " (pid %d)", pid);
            }
            const char *what = protos == (LISTEN_TCP | LISTEN_UDP) ? "udp and tcp"
                               : protos == LISTEN_UDP              ? "udp"
                                                                   : "tcp";
            snprintf(err, errlen, "%s is in use: another %s%s is already serving it (%s); %s", text,
                     prog, who, what, claim_fix(key, fix, sizeof(fix)));
            return -EADDRINUSE;
        }
    }
    int rc = 0;
    if (protos & LISTEN_UDP) {
        rc = claim_probe(key, ss, len, text, SOCK_DGRAM, err, errlen);
    }
    if (rc == 0 && (protos & LISTEN_TCP)) {
        rc = claim_probe(key, ss, len, text, SOCK_STREAM, err, errlen);
    }
    if (rc && *lock_fd >= 0) {
        close(*lock_fd);
        *lock_fd = -1;
    }
    return rc;
}

void listen_claim_answer(int lock_fd)
{
    int fd;
    while ((fd = accept4(lock_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
        close(fd);
    }
}

int listen_socket(const struct sockaddr_storage *ss, socklen_t len, int type)
{
    int fd =
        socket(ss->ss_family, type | (type == SOCK_STREAM ? SOCK_NONBLOCK : 0) | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
        (ss->ss_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
        bind(fd, (const struct sockaddr *)ss, len)) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

size_t listen_conn_unread(int fd)
{
    int n = 0;
    if (ioctl(fd, FIONREAD, &n) != 0 || n < 0) {
        return 0;
    }
    return (size_t)n;
}

int listen_nofile_spare(unsigned n)
{
    int fds[16];
    if (n > sizeof(fds) / sizeof(fds[0]))
        return -EINVAL;
    unsigned got = 0;
    int rc = 0;
    while (got < n) {
        int fd = got ? fcntl(fds[0], F_DUPFD_CLOEXEC, 0) : open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            rc = -errno;
            break;
        }
        fds[got++] = fd;
    }
    while (got)
        close(fds[--got]);
    return rc;
}

bool listen_nofile_raise(uint64_t need, uint64_t *was, uint64_t *soft, uint64_t *hard)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        *was = *soft = *hard = UINT64_MAX; /* nothing known: nothing to say */
        return false;
    }
    *was = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
    bool raised = false;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        rlim_t before = rl.rlim_cur;
        rl.rlim_cur =
            rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? (rlim_t)need : rl.rlim_max;
        raised = rl.rlim_cur > before && setrlimit(RLIMIT_NOFILE, &rl) == 0;
        if (!raised) {
            rl.rlim_cur = before;
        }
    }
    *soft = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
    *hard = rl.rlim_max == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_max;
    return raised;
}
