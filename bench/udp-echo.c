/* udp-echo: a bare UDP "server" for bench/dns-geo.sh's ceiling when ../shared/peers/ceiling is
 * not next to the repository: it sends every datagram back with the QR bit set and nothing else
 * changed (no parsing, no lookup, no answer), a batch at a time with recvmmsg (MSG_WAITFORONE)
 * and sendmmsg, on THREADS SO_REUSEPORT sockets bound to 127.0.0.1:PORT. What a DNS server
 * cannot go below on this machine with these system calls.
 *
 *   udp-echo PORT [THREADS]        (THREADS 1..64, default 1) */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* recvmmsg, sendmmsg */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ECHO_BATCH   64
#define ECHO_DGRAM   4096 /* longer datagrams are cut (MSG_TRUNC): a DNS query is far shorter */
#define ECHO_THREADS 64

static unsigned short echo_port;

static int echo_socket(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0), one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(echo_port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
        fprintf(stderr, "udp-echo: 127.0.0.1:%u: %s\n", echo_port, strerror(errno));
        exit(1);
    }
    return fd;
}

static void *echo_loop(void *arg)
{
    int fd = (int)(long)arg;
    static __thread unsigned char buf[ECHO_BATCH][ECHO_DGRAM];
    static __thread struct sockaddr_in peer[ECHO_BATCH];
    struct iovec iov[ECHO_BATCH];
    struct mmsghdr msg[ECHO_BATCH];
    for (;;) {
        memset(msg, 0, sizeof(msg));
        for (int i = 0; i < ECHO_BATCH; i++) {
            iov[i] = (struct iovec){.iov_base = buf[i], .iov_len = ECHO_DGRAM};
            msg[i].msg_hdr = (struct msghdr){.msg_name = &peer[i],
                                             .msg_namelen = sizeof(peer[i]),
                                             .msg_iov = &iov[i],
                                             .msg_iovlen = 1};
        }
        int n = recvmmsg(fd, msg, ECHO_BATCH, MSG_WAITFORONE, NULL);
        if (n <= 0)
            continue;
        for (int i = 0; i < n; i++) {
            iov[i].iov_len = msg[i].msg_len;
            if (msg[i].msg_len >= 3)
                buf[i][2] |= 0x80; /* QR */
        }
        for (int sent = 0; sent < n;) {
            int k = sendmmsg(fd, msg + sent, (unsigned)(n - sent), 0);
            if (k <= 0)
                break; /* a full send buffer: drop the rest, as a server under load does */
            sent += k;
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    long port = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
    long threads = argc > 2 ? strtol(argv[2], NULL, 10) : 1;
    if (argc < 2 || argc > 3 || port < 1 || port > 65535 || threads < 1 || threads > ECHO_THREADS) {
        fprintf(stderr, "usage: udp-echo PORT [THREADS]   (PORT 1..65535, THREADS 1..%d)\n",
                ECHO_THREADS);
        return 2;
    }
    echo_port = (unsigned short)port;
    pthread_t t[ECHO_THREADS];
    for (long i = 0; i < threads; i++) {
        int fd = echo_socket(); /* every socket bound before any thread serves */
        if (pthread_create(&t[i], NULL, echo_loop, (void *)(long)fd)) {
            fprintf(stderr, "udp-echo: cannot start thread %ld\n", i);
            return 1;
        }
    }
    pthread_join(t[0], NULL);
    return 0;
}
