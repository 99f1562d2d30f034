/* test_pops_url.c: pops_url_split on probe and status URLs: host (an IPv6 address kept in
 * brackets, as the Host header wants it), port (80 by default) and path; malformed URLs
 * refused. */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "pops.h"

static void ok(const char *url, const char *want_host, unsigned want_port, const char *want_path)
{
    char host[64] = "", path[64] = "";
    uint16_t port = 0;
    int rc = pops_url_split(url, host, sizeof(host), &port, path, sizeof(path));
    CHECK(rc == 0 && !strcmp(host, want_host) && port == want_port && !strcmp(path, want_path),
          "%s: rc %d host '%s' port %u path '%s'", url, rc, host, (unsigned)port, path);
}

static void bad(const char *url)
{
    char host[64], path[64];
    uint16_t port;
    CHECK(pops_url_split(url, host, sizeof(host), &port, path, sizeof(path)) == -EINVAL,
          "%s accepted", url);
}

int main(void)
{
    ok("http://127.0.1.1:8080/healthz", "127.0.1.1", 8080, "/healthz");
    ok("http://127.0.1.1/healthz", "127.0.1.1", 80, "/healthz");
    ok("http://edge.example.test", "edge.example.test", 80, "/");
    ok("http://edge.example.test:81/s?x=1", "edge.example.test", 81, "/s?x=1");
    ok("http://[::1]:8080/healthz", "[::1]", 8080, "/healthz");
    ok("http://[2001:db8::1]/", "[2001:db8::1]", 80, "/");

    bad("https://127.0.0.1/");
    bad("http:///healthz");      /* no host */
    bad("http://:8080/healthz"); /* no host */
    bad("http://h:/x");          /* empty port */
    bad("http://h:0/x");         /* port 0 */
    bad("http://h:65536/x");     /* port too large */
    bad("http://h:8o/x");        /* not digits */
    bad("http://::1:8080/x");    /* IPv6 without brackets */
    bad("http://[::1/x");        /* no ']' */
    bad("http://[::1]x/");       /* junk after ']' */
    bad("http://[]:80/");        /* empty brackets */
    bad("http://h/a b");         /* space in the path */
    bad("http://h/a\x01");       /* control byte in the path */

    /* The host must fit the caller's buffer. */
    char host[8], path[16];
    uint16_t port;
    CHECK(pops_url_split("http://longer-than-8/", host, sizeof(host), &port, path, sizeof(path)) ==
          -EINVAL);
    CHECK(pops_url_split("http://[::1]/", host, 5, &port, path, sizeof(path)) == -EINVAL);
    CHECK(pops_url_split("http://[::1]/", host, 6, &port, path, sizeof(path)) == 0 &&
          !strcmp(host, "[::1]"));
    return check_report();
}
