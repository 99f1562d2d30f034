/* portowner.c: which process holds a local address (see portowner.h). */
#include "portowner.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PORTOWNER_MAX_INODES 32 /* sockets that clash, at most, looked for among the processes */
#define TCP_LISTEN           0x0A

/* hex digits s[0..2*len) of the kernel's %08X words into len bytes of out. */
static int parse_addr(const char *s, size_t len, uint8_t *out)
{
    for (size_t w = 0; w < len / 4; w++) {
        uint32_t v = 0;
        for (size_t i = 0; i < 8; i++) {
            int c = s[8 * w + i];
            if (!isxdigit(c))
                return -EINVAL;
            v = v << 4 | (uint32_t)(isdigit(c) ? c - '0' : tolower(c) - 'a' + 10);
        }
        /* The kernel prints each 32-bit word of the address as read in host order: copying the
         * value back gives the bytes as they were. */
        memcpy(out + 4 * w, &v, 4);
    }
    return 0;
}

int portowner_parse_line(const char *line, int family, portowner_sock_t *out)
{
    char local[40];
    unsigned port, state, uid;
    unsigned long inode;
    size_t alen = family == AF_INET ? 4 : 16;
    if (sscanf(line, " %*u: %39[0-9A-Fa-f]:%4x %*[0-9A-Fa-f]:%*4x %2x %*s %*s %*s %u %*u %lu",
               local, &port, &state, &uid, &inode) != 5 ||
        strlen(local) != 2 * alen)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    if (parse_addr(local, alen, out->addr))
        return -EINVAL;
    out->family = family;
    out->port = port;
    out->state = state;
    out->uid = uid;
    out->inode = inode;
    return 0;
}

static bool all_zero(const uint8_t *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i])
            return false;
    return true;
}

bool portowner_clashes(const portowner_sock_t *s, const struct sockaddr_storage *ss, int type)
{
    const uint8_t *a;
    unsigned port;
    size_t alen;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)ss;
        a = (const uint8_t *)&v4->sin_addr;
        port = ntohs(v4->sin_port);
        alen = 4;
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)ss;
        a = v6->sin6_addr.s6_addr;
        port = ntohs(v6->sin6_port);
        alen = 16;
    } else {
        return false;
    }
    if (s->port != port || (type == SOCK_STREAM && s->state != TCP_LISTEN))
        return false;
    bool s_wild = all_zero(s->addr, s->family == AF_INET ? 4 : 16);
    if (s->family == AF_INET6 && s_wild)
        return true; /* [::] of the port: IPv6, and IPv4 too when dual-stack */
    if (s->family != (int)ss->ss_family)
        return false;
    return s_wild || all_zero(a, alen) || memcmp(s->addr, a, alen) == 0;
}

/* The inodes of the sockets of one /proc/net table that ss clashes with, appended to inodes;
 * *uid the owner of the first. */
static void table_inodes(const char *path, int family, const struct sockaddr_storage *ss, int type,
                         unsigned long *inodes, size_t *n, unsigned *uid)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[512];
    portowner_sock_t s;
    while (*n < PORTOWNER_MAX_INODES && fgets(line, sizeof(line), f))
        if (portowner_parse_line(line, family, &s) == 0 && s.inode &&
            portowner_clashes(&s, ss, type)) {
            if (*n == 0)
                *uid = s.uid;
            inodes[(*n)++] = s.inode;
        }
    fclose(f);
}

/* Does process pid (a /proc entry) hold one of the inodes? */
static bool holds(const char *pid, const unsigned long *inodes, size_t n)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%.20s/fd", pid);
    DIR *d = opendir(path);
    if (!d)
        return false; /* gone, or another user's */
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        char link[128], target[64];
        snprintf(link, sizeof(link), "%s/%.32s", path, e->d_name);
        ssize_t len = readlink(link, target, sizeof(target) - 1);
        unsigned long ino;
        if (len <= 0)
            continue;
        target[len] = '\0';
        if (sscanf(target, "socket:[%lu]", &ino) != 1)
            continue;
        for (size_t i = 0; i < n && !found; i++)
            found = inodes[i] == ino;
    }
    closedir(d);
    return found;
}

int portowner_find(const struct sockaddr_storage *ss, int type, char *who, size_t n)
{
    unsigned long inodes[PORTOWNER_MAX_INODES];
    size_t ni = 0;
    unsigned uid = 0;
    const char *t = type == SOCK_DGRAM ? "udp" : "tcp";
    char path[32];
    snprintf(path, sizeof(path), "/proc/net/%s", t);
    table_inodes(path, AF_INET, ss, type, inodes, &ni, &uid);
    snprintf(path, sizeof(path), "/proc/net/%s6", t);
    table_inodes(path, AF_INET6, ss, type, inodes, &ni, &uid);
    if (ni == 0)
        return -ENOENT;
    /* Without the process: its owner, which /proc/net shows every user. */
    struct passwd pw, *res = NULL;
    char pwbuf[1024];
    if (getpwuid_r((uid_t)uid, &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res)
        snprintf(who, n, "of user %s", res->pw_name);
    else
        snprintf(who, n, "of uid %u", uid);
    DIR *proc = opendir("/proc");
    if (!proc)
        return 0;
    int rc = -ENOENT;
    struct dirent *e;
    while (rc && (e = readdir(proc))) {
        if (!isdigit((unsigned char)e->d_name[0]) || atol(e->d_name) == (long)getpid() ||
            !holds(e->d_name, inodes, ni))
            continue;
        char comm[64] = "?";
        snprintf(path, sizeof(path), "/proc/%.16s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (f) {
            if (!fgets(comm, sizeof(comm), f))
                snprintf(comm, sizeof(comm), "?");
            fclose(f);
        }
        comm[strcspn(comm, "\n")] = '\0';
        snprintf(who, n, "%s, pid %.20s", comm, e->d_name);
        rc = 0;
    }
    closedir(proc);
    return 0;
}
