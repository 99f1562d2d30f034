/* test_hostport.c: hostport_parse: the accepted forms, and malformed input refused with the
 * outputs untouched. */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "hostport.h"

static void ok(const char *s, const char *want_host, unsigned want_port)
{
    char host[64] = "";
    uint16_t port = 0;
    int rc = hostport_parse(s, host, sizeof(host), &port);
    CHECK(rc == 0 && !strcmp(host, want_host) && port == want_port, "'%s': rc %d host '%s' port %u",
          s, rc, host, (unsigned)port);
}

static void bad(const char *s)
{
    char host[64] = "untouched";
    uint16_t port = 4242;
    int rc = hostport_parse(s, host, sizeof(host), &port);
    CHECK(rc == -EINVAL && !strcmp(host, "untouched") && port == 4242,
          "'%s' accepted or outputs changed: rc %d host '%s' port %u", s, rc, host, (unsigned)port);
}

int main(void)
{
    ok("127.0.0.1:53", "127.0.0.1", 53);
    ok("[::1]:5353", "::1", 5353);
    ok("[fe80::1%lo]:8080", "fe80::1%lo", 8080);
    ok("origin.example.test:80", "origin.example.test", 80);
    ok("0.0.0.0:65535", "0.0.0.0", 65535);
    ok("h:1", "h", 1);
    ok("h:00080", "h", 80);

    bad("");
    bad("127.0.0.1");  /* no port */
    bad("127.0.0.1:"); /* empty port */
    bad(":53");        /* empty host */
    bad("a]:1");       /* a bracket outside [IPv6] */
    bad("a[b:1");
    bad("[]:53");            /* empty host in brackets */
    bad("::1:53");           /* IPv6 without brackets: ambiguous */
    bad("[::1]53");          /* no ':' after ']' */
    bad("[::1:53");          /* no ']' */
    bad("[[::1]]:53");       /* nested bracket */
    bad("[::1]:53:54");      /* two ports */
    bad("127.0.0.1:0");      /* port 0 */
    bad("127.0.0.1:65536");  /* over 65535 */
    bad("127.0.0.1:999999"); /* over 5 digits */
    bad("127.0.0.1:+53");    /* sign */
    bad("127.0.0.1: 53");    /* space */
    bad("127.0.0.1:53 ");    /* trailing space */
    bad("127.0.0.1:0x35");   /* not decimal */
    bad("127.0.0.1:-1");     /* negative */

    /* The host must fit: 63 bytes do in 64, 64 do not. */
    char s[100], want[64];
    memset(want, 'a', 63);
    want[63] = 0;
    snprintf(s, sizeof(s), "%s:1", want);
    ok(s, want, 1);
    snprintf(s, sizeof(s), "a%s:1", want);
    bad(s);
    return check_report();
}
