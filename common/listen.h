/* listen.h: listen sockets shared by a process's workers (SO_REUSEPORT), the claim that keeps a
 * second process off an address those sockets would otherwise let it share, and what is left
 * unread on a connection they accepted. */
#ifndef COMMON_LISTEN_H
#define COMMON_LISTEN_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Protocols a claim probes. */
enum { LISTEN_TCP = 1, LISTEN_UDP = 2 };

/* Claim the address ss (len bytes; text is how the user wrote it, for messages) for this
 * process before any shared socket is opened:
 *  - a lock: an abstract AF_UNIX socket "@PROG:ADDR:PORT". It lives in no file system, is
 *    released by the kernel when the process ends however it ends, and is per network namespace
 *    like the ports. Another PROG on the address finds it taken and learns the holder's pid.
 *  - a probe: bind each protocol in protos without SO_REUSEPORT (TCP with SO_REUSEADDR, so
 *    connections in TIME_WAIT do not block a restart) and close again. Any other process on the
 *    port, or on the wildcard address of the same port, makes that bind fail.
 * On success *lock_fd is the lock to keep for the process lifetime (-1 where the system has no
 * abstract sockets; then only the probe protects). Returns 0, or a negative errno with a message
 * in err (-EADDRINUSE: another process serves the address), whose advice names the config key
 * key ("listen") and its option (--listen). */
int listen_claim(const char *prog, const char *key, const struct sockaddr_storage *ss,
                 socklen_t len, const char *text, int protos, int *lock_fd, char *err,
                 size_t errlen);

/* Let go of processes that connected to a held lock to learn its pid (call when lock_fd is
 * readable; it is non-blocking). */
void listen_claim_answer(int lock_fd);

/* A socket of type (SOCK_STREAM non-blocking, SOCK_DGRAM blocking) bound to ss with
 * SO_REUSEPORT and SO_REUSEADDR (IPV6_V6ONLY for IPv6), close-on-exec; not yet listening.
 * Returns the fd or a negative errno. */
int listen_socket(const struct sockaddr_storage *ss, socklen_t len, int type);

/* Raise the soft open-file limit toward need (the sockets and files the configured bounds let
 * clients hold at once), up to the hard limit. *was is the soft limit before, *soft and *hard the
 * limits after (UINT64_MAX for unlimited). Returns true when the soft limit was raised; the
 * caller logs that, and warns when *soft is still below need (past it accept fails). */
bool listen_nofile_raise(uint64_t need, uint64_t *was, uint64_t *soft, uint64_t *hard);

/* Can n more files be opened now? libuv aborts the process when it cannot make the pipe of its
 * first loop's signal handling, so each program asks this before its first loop with the few
 * descriptors that takes, and says a limit too low as an error instead. Returns 0, or a negative
 * errno (-EMFILE, -ENFILE) when fewer than n are left. */
int listen_nofile_spare(unsigned n);
/* What a program's first libuv loop takes: epoll, the signal pipes (libuv's global one and the
 * loop's), the async eventfd. */
#define LISTEN_LOOP_FDS 6
/* What to add to an error for want of descriptors (rc a negative errno, as libuv's codes are). */
#define LISTEN_NOFILE_HINT(rc)                                                                   \
    ((rc) == -EMFILE || (rc) == -ENFILE ? " (raise the open-file limit: ulimit -n, LimitNOFILE)" \
                                        : "")

/* Bytes waiting unread in the receive queue of fd, a connection accepted on such a socket (0
 * when that cannot be told). Closing a connection with unread input makes the kernel reset it:
 * the servers' lingering closes ask this before closing. */
size_t listen_conn_unread(int fd);

#endif
