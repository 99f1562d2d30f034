/* portowner.h: which process holds a local address, for the message of a server that cannot
 * bind it: the sockets of /proc/net/{udp,udp6,tcp,tcp6} a bind of that address clashes with,
 * matched to a process through the socket links in /proc/PID/fd. */
#ifndef COMMON_PORTOWNER_H
#define COMMON_PORTOWNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* One line of a /proc/net socket table. */
typedef struct portowner_sock {
    int family;       /* AF_INET (tcp, udp) or AF_INET6 (tcp6, udp6) */
    uint8_t addr[16]; /* local address, network order (4 bytes used for AF_INET) */
    unsigned port;    /* local port */
    unsigned state;   /* the kernel's TCP state number (0x0A listening; 0x07 an unconnected UDP) */
    unsigned uid;     /* the socket's owner */
    unsigned long inode;
} portowner_sock_t;

/* Parse one socket line of a /proc/net table of family into *out ("  12: 0100007F:14E9
 * 00000000:0000 07 ... inode ..."). Returns 0, or -EINVAL for the header and anything else. */
int portowner_parse_line(const char *line, int family, portowner_sock_t *out);

/* Would a bind of ss (type SOCK_DGRAM or SOCK_STREAM) clash with s: the same port, s listening
 * (TCP) or bound (UDP), and its address the same or a wildcard on either side (an IPv6 wildcard
 * also covers IPv4, as a dual-stack socket does). */
bool portowner_clashes(const portowner_sock_t *s, const struct sockaddr_storage *ss, int type);

/* Who holds a socket that ss clashes with, in who (size n): "NAME, pid N" for its process, or,
 * when that is not visible to this user (another user's /proc/PID/fd cannot be read without
 * privileges), "of user NAME" for the socket's owner. Returns 0, or -ENOENT when no such socket
 * is found. Reads /proc: for a failed start only. */
int portowner_find(const struct sockaddr_storage *ss, int type, char *who, size_t n);

#endif
