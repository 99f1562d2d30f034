/* test_pops_url.c: pops_url_split on probe and status URLs: host (an IPv6 address kept in
 * brackets, as the Host header wants it), port (80 by default) and path; malformed URLs
 * refused. Then the probe's URLs in a PoP file: the Host headers and ports of the probe and of
 * the status request, and paths or hosts that would break the request refused with file:line:col.
 */
#include <errno.h>
#include <stdio.h>
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

/* The PoP file of one PoP "fra" on 127.0.0.1 with the given probe mapping, parsed; NULL with err
 * set when refused. The probe mapping starts at line 3, column 17. */
static pops_t *probe_parse(const char *probe, char *err, size_t errlen)
{
    char yaml[1024];
    snprintf(yaml, sizeof(yaml),
             "pops:\n  fra: {location: [50, 8], addresses: [127.0.0.1],\n         probe: %s}\n",
             probe);
    yt_doc_t *doc = NULL;
    pops_t *p = NULL;
    err[0] = '\0';
    if (!yt_doc_load_buffer("pops.yaml", yaml, strlen(yaml), &doc, err, errlen))
        pops_parse(yt_doc_root(doc), &p, err, errlen);
    yt_doc_free(doc);
    return p;
}

/* The probe's Host header and port, and the status request's path, Host header and port. */
static void probe_ok(const char *probe, const char *host, unsigned port, const char *status_path,
                     const char *status_host, unsigned status_port)
{
    char err[512];
    pops_t *p = probe_parse(probe, err, sizeof(err));
    CHECK(p, "%s: %s", probe, err);
    if (!p)
        return;
    const pops_probe_t *pr = &p->pop[0].probe;
    CHECK(!strcmp(pr->host, host) && pr->port == port, "%s: host '%s' port %u", probe, pr->host,
          (unsigned)pr->port);
    CHECK(!strcmp(pr->status_path, status_path) && !strcmp(pr->status_host, status_host) &&
              pr->status_port == status_port,
          "%s: status path '%s' host '%s' port %u", probe, pr->status_path, pr->status_host,
          (unsigned)pr->status_port);
    pops_free(p);
}

static void probe_bad(const char *probe, const char *want)
{
    char err[512];
    pops_t *p = probe_parse(probe, err, sizeof(err));
    CHECK(!p && strstr(err, want), "%s: got '%s', want '%s'", probe, err, want);
    pops_free(p);
}

static void test_probe_hosts(void)
{
    /* A status URL on another host and port: its host[:port] is the status request's Host, its
     * port the one connected to; the probe keeps its own. */
    probe_ok("{url: \"http://probe.example:18080/healthz\", "
             "status: \"http://status.example:18081/status\"}",
             "probe.example:18080", 18080, "/status", "status.example:18081", 18081);
    probe_ok("{url: \"http://probe.example:18080/healthz\", "
             "status: \"http://status.example:18080/st?x=1\"}",
             "probe.example:18080", 18080, "/st?x=1", "status.example:18080", 18080);
    probe_ok("{url: \"http://probe.example:18080/healthz\", status: \"http://status.example/s\"}",
             "probe.example:18080", 18080, "/s", "status.example", 80);
    probe_ok("{type: tcp, port: 443, status: \"http://[2001:db8::1]:8080/status\"}", "", 443,
             "/status", "[2001:db8::1]:8080", 8080);
    /* A path, or the default: the probe's port and Host (status_host empty). */
    probe_ok("{url: \"http://probe.example:18080/healthz\", status: /load}", "probe.example:18080",
             18080, "/load", "", 18080);
    probe_ok("{url: \"http://probe.example/healthz\", host: h.example}", "h.example", 80, "/status",
             "", 80);
    probe_ok("{type: tcp, port: 443, status: /status}", "", 443, "/status", "", 443);
}

static void test_probe_refused(void)
{
    const char *status_err = "pops.yaml:3:69: status must be a path (/status), an "
                             "http://host[:port]/path URL or false (< 256 bytes, no spaces or "
                             "control bytes)";
    const char *url = "{url: \"http://probe.example:18080/healthz\", status: ";
    char probe[512];
    /* A status path with a space and a CR LF would split the request line and add a header. */
    static const char *const bad_status[] = {
        "\"/st atus\\r\\nX-Injected: yes\"",
        "\"/status\\r\\nX-Injected: yes\"",
        "\"/a\\tb\"",
        "\"/a\\x7f\"",
        "\"http://status.example/st atus\"",
        "\"http://status.example/s\\r\\nX-Injected: yes\"",
        "\"http://status.exa mple/status\"",
        "\"http://status.example\\r\\nX-Injected: yes/status\"",
        "\"ftp://status.example/status\"",
    };
    for (size_t i = 0; i < sizeof(bad_status) / sizeof(bad_status[0]); i++) {
        snprintf(probe, sizeof(probe), "%s%s}", url, bad_status[i]);
        probe_bad(probe, status_err);
    }
    /* Too long for the status path: refused, not cut. */
    char longpath[300];
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    snprintf(probe, sizeof(probe), "%s%s}", url, longpath);
    probe_bad(probe, status_err);

    /* The probe URL: the same rule for its path and its host. */
    const char *url_err = "pops.yaml:3:23: probe url";
    probe_bad("{url: \"http://probe.example/heal thz\"}", url_err);
    probe_bad("{url: \"http://probe.example/healthz\\r\\nX-Injected: yes\"}", url_err);
    probe_bad("{url: \"http://probe.example\\r\\nX-Injected: yes/healthz\"}", url_err);
    probe_bad("{url: \"http://probe example/healthz\"}", url_err);
    probe_bad("{url: \"http://probe.example/healthz\", host: \"h\\r\\nX-Injected: yes\"}",
              "pops.yaml:3:61: probe host must be a non-empty header value");
}

int main(void)
{
    test_probe_hosts();
    test_probe_refused();

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
    bad("http://h\r\nX: y/a");   /* CR LF in the host */
    bad("http://a b/");          /* space in the host */
    bad("http://a\x7f:81/");     /* DEL in the host */

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
