/* test_portowner.c: common/portowner.h: /proc/net lines of both families (and the header and
 * malformed lines refused), which sockets a bind clashes with, and the lookup of a real socket
 * held by this test's own child process. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "portowner.h"

static struct sockaddr_storage v4(const char *a, unsigned port)
{
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *s = (struct sockaddr_in *)&ss;
    s->sin_family = AF_INET;
    s->sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, a, &s->sin_addr);
    return ss;
}

static struct sockaddr_storage v6(const char *a, unsigned port)
{
    struct sockaddr_storage ss = {0};
    struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
    s->sin6_family = AF_INET6;
    s->sin6_port = htons((uint16_t)port);
    inet_pton(AF_INET6, a, &s->sin6_addr);
    return ss;
}

static void test_parse(void)
{
    portowner_sock_t s;
    CHECK(portowner_parse_line(" 9126: 0100007F:B043 00000000:0000 07 00000000:00000000 "
                               "00:00000000 00000000     0        0 1627657 2 000000003e6f3958 0",
                               AF_INET, &s) == 0);
    CHECK(s.family == AF_INET && s.port == 0xB043 && s.state == 7 && s.inode == 1627657 &&
          s.uid == 0);
    struct sockaddr_storage lo = v4("127.0.0.1", 0xB043);
    CHECK(memcmp(s.addr, &((struct sockaddr_in *)&lo)->sin_addr, 4) == 0, "127.0.0.1");
    CHECK(portowner_parse_line("   0: 00000000000000000000000001000000:B044 "
                               "00000000000000000000000000000000:0000 0A 00000000:00000000 "
                               "00:00000000 00000000     0        0 1627658 1 00000000b11583b1 100 "
                               "0 0 10 0",
                               AF_INET6, &s) == 0);
    struct sockaddr_storage l6 = v6("::1", 0xB044);
    CHECK(s.family == AF_INET6 && s.state == 0x0A && s.inode == 1627658 &&
              memcmp(s.addr, ((struct sockaddr_in6 *)&l6)->sin6_addr.s6_addr, 16) == 0,
          "::1 listening");
    CHECK(portowner_parse_line(" 40: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 "
                               "00000000   108        0 20811 2 0000000000000000 0",
                               AF_INET, &s) == 0 &&
              s.uid == 108 && s.port == 5353 && s.inode == 20811,
          "avahi's 0.0.0.0:5353, uid 108");
    /* The header, a line of the other family, truncated and garbage lines. */
    CHECK(portowner_parse_line("  sl  local_address rem_address   st tx_queue rx_queue tr "
                               "tm->when retrnsmt   uid  timeout inode",
                               AF_INET, &s) == -EINVAL);
    CHECK(portowner_parse_line(" 1: 0100007F:B043 00000000:0000 07 00000000:00000000 00:00000000 "
                               "00000000 0 0 5 2",
                               AF_INET6, &s) == -EINVAL);
    CHECK(portowner_parse_line(" 1: 0100007F:B043 00000000:0000 07", AF_INET, &s) == -EINVAL);
    CHECK(portowner_parse_line(" 1: 0100007G:B043 00000000:0000 07 00000000:00000000 00:00000000 "
                               "00000000 0 0 5 2",
                               AF_INET, &s) == -EINVAL);
    CHECK(portowner_parse_line("", AF_INET, &s) == -EINVAL);
}

static portowner_sock_t sock_of(const struct sockaddr_storage *ss, unsigned state)
{
    portowner_sock_t s = {.family = ss->ss_family, .state = state, .inode = 1};
    if (ss->ss_family == AF_INET) {
        memcpy(s.addr, &((const struct sockaddr_in *)ss)->sin_addr, 4);
        s.port = ntohs(((const struct sockaddr_in *)ss)->sin_port);
    } else {
        memcpy(s.addr, ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr, 16);
        s.port = ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
    }
    return s;
}

static void test_clashes(void)
{
    struct sockaddr_storage a = v4("127.0.0.1", 5353), b = v4("127.0.0.2", 5353),
                            any = v4("0.0.0.0", 5353), other = v4("127.0.0.1", 5354),
                            a6 = v6("::1", 5353), any6 = v6("::", 5353);
    portowner_sock_t s = sock_of(&a, 7);
    CHECK(portowner_clashes(&s, &a, SOCK_DGRAM), "same address and port");
    CHECK(!portowner_clashes(&s, &b, SOCK_DGRAM), "another address of the port");
    CHECK(portowner_clashes(&s, &any, SOCK_DGRAM), "our wildcard covers it");
    CHECK(!portowner_clashes(&s, &other, SOCK_DGRAM), "another port");
    CHECK(!portowner_clashes(&s, &a6, SOCK_DGRAM), "an IPv6 address");
    s = sock_of(&any, 7);
    CHECK(portowner_clashes(&s, &b, SOCK_DGRAM), "its wildcard covers ours");
    s = sock_of(&any6, 0x0A);
    CHECK(portowner_clashes(&s, &a, SOCK_STREAM), "[::] (dual-stack) covers IPv4");
    CHECK(portowner_clashes(&s, &a6, SOCK_STREAM), "[::] covers ::1");
    s = sock_of(&a, 1);
    CHECK(!portowner_clashes(&s, &a, SOCK_STREAM), "a TCP connection, not a listener");
    s = sock_of(&a6, 0x0A);
    CHECK(!portowner_clashes(&s, &a, SOCK_STREAM), "::1 does not hold 127.0.0.1");
}

/* A child holds a UDP socket on a free loopback port: the lookup names it. */
static void test_find(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_storage ss = v4("127.0.0.1", 0);
    socklen_t len = sizeof(struct sockaddr_in);
    CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&ss, len) == 0 &&
          getsockname(fd, (struct sockaddr *)&ss, &len) == 0);
    int ready[2];
    CHECK(pipe(ready) == 0);
    pid_t child = fork();
    if (child == 0) {
        close(ready[0]);
        if (write(ready[1], "x", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    close(fd); /* only the child holds it now */
    close(ready[1]);
    char c;
    CHECK(read(ready[0], &c, 1) == 1);
    char who[96], want[64];
    CHECK(portowner_find(&ss, SOCK_DGRAM, who, sizeof(who)) == 0, "found");
    snprintf(want, sizeof(want), ", pid %d", (int)child);
    CHECK(strstr(who, want) != NULL, "the child's pid: %s", who);
    CHECK(strncmp(who, "test_portowner", 14) == 0, "its name: %s", who);
    CHECK(portowner_find(&ss, SOCK_STREAM, who, sizeof(who)) == -ENOENT, "no TCP listener there");
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    close(ready[0]);
    CHECK(portowner_find(&ss, SOCK_DGRAM, who, sizeof(who)) == -ENOENT, "gone with the child");
}

int main(void)
{
    test_parse();
    test_clashes();
    test_find();
    return check_report();
}
