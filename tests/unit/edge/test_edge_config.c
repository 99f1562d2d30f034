/* test_edge_config.c: unit tests of segment-edge's YAML configuration and command line. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "check.h"
#include "edge_config.h"

static int load(edge_config_t *cfg, const char *yaml, char *err, size_t errlen)
{
    edge_config_defaults(cfg);
    err[0] = '\0';
    return edge_config_load_buffer(cfg, "edge.yaml", yaml, strlen(yaml), err, errlen);
}

static void test_good(void)
{
    edge_config_t cfg;
    char err[512];
    const char *y = "listen: [\"127.0.0.1:8080\", \"[::1]:8080\"]\n"
                    "workers: 2\n"
                    "origin: [http://127.0.0.1:8000, \"http://origin.example:81/live/\"]\n"
                    "cache_memory: 64M\n"
                    "freshness: {segment: 10m, live_playlist_max: 500ms, stale_if_error: 30s}\n"
                    "cache_key_params: [token]\n"
                    "timeouts: {connect: 1s, drain_grace: 0s}\n"
                    "limits: {max_connections: 100, max_header_bytes: 8k, max_fills: 64}\n"
                    "upload_allow: [10.0.0.0/8]\n"
                    "load: {unit: requests_per_s, capacity: 5000}\n"
                    "access_log: false\n"
                    "cache_disk: {path: /var/cache/edge, size: 2G}\n";
    CHECK(load(&cfg, y, err, sizeof(err)) == 0);
    CHECK(cfg.n_listen == 2 && cfg.workers == 2 && cfg.n_origins == 2);
    CHECK(strcmp(cfg.origins[1].host, "origin.example") == 0 &&
          strcmp(cfg.origins[1].port, "81") == 0 && strcmp(cfg.origins[1].prefix, "/live") == 0);
    CHECK(strcmp(cfg.origins[0].port, "8000") == 0 && cfg.origins[0].prefix[0] == '\0');
    CHECK(cfg.cache_mem == 64ull << 20);
    CHECK(cfg.ttl_segment == 600000 && cfg.ttl_live_playlist_max == 500 &&
          cfg.stale_if_error == 30000);
    CHECK(strcmp(cfg.keep_params[3], "token") == 0 && cfg.keep_params[4] == NULL);
    CHECK(cfg.connect_timeout == 1000 && cfg.max_connections == 100 &&
          cfg.max_header_bytes == 8192 && cfg.max_fills == 64);
    CHECK(cfg.load_unit == EDGE_LOAD_REQUESTS_PER_S && cfg.capacity == 5000);
    CHECK(!cfg.access_log && cfg.n_upload_allow == 1);
    CHECK(strcmp(cfg.cache_disk_path, "/var/cache/edge") == 0 && cfg.cache_disk_size == 2ull << 30);
    CHECK(edge_config_validate(&cfg, err, sizeof(err)) == 0);
    CHECK(load(&cfg, "", err, sizeof(err)) == 0);
    CHECK(load(&cfg, "~\n", err, sizeof(err)) == 0);
    /* max_uri: by default, and at most, what the request buffers hold. */
    CHECK(cfg.max_uri == EDGE_MAX_URI && EDGE_MAX_URI == 4096);
    CHECK(load(&cfg, "limits: {max_uri: 4k}\n", err, sizeof(err)) == 0 && cfg.max_uri == 4096);
    CHECK(load(&cfg, "limits: {max_uri: 1000}\n", err, sizeof(err)) == 0 && cfg.max_uri == 1000);
}

static void test_status_listen(void)
{
    edge_config_t cfg;
    char err[512];
    edge_config_defaults(&cfg);
    CHECK(cfg.n_status_listen == 0 && cfg.status_max_connections == EDGE_STATUS_CONNS_DEFAULT);
    CHECK(load(&cfg,
               "listen: [\"127.0.0.1:8080\", \"[::1]:8080\"]\n"
               "status_listen: [\"127.0.0.1:8081\", \"[::1]:8081\", \"0.0.0.0:8082\"]\n"
               "limits: {max_connections: 100, status_max_connections: 1024}\n"
               "origin: http://127.0.0.1:8000\n",
               err, sizeof(err)) == 0,
          "%s", err);
    CHECK(cfg.n_status_listen == 3 && strcmp(cfg.status_listen[1], "[::1]:8081") == 0);
    CHECK(cfg.status_max_connections == 1024 && cfg.max_connections == 100);
    CHECK(edge_config_validate(&cfg, err, sizeof(err)) == 0);
    CHECK(load(&cfg, "status_listen: \"127.0.0.1:9\"\nlimits: {status_max_connections: 1}\n", err,
               sizeof(err)) == 0 &&
          cfg.n_status_listen == 1 && cfg.status_max_connections == 1);

    /* Which addresses take the same connections. */
    CHECK(edge_listen_overlap("127.0.0.1:80", "127.0.0.1:80"));
    CHECK(edge_listen_overlap("127.0.0.1:80", "127.0.0.1:080"));
    CHECK(edge_listen_overlap("0.0.0.0:80", "127.0.0.1:80"));
    CHECK(edge_listen_overlap("127.0.0.1:80", "0.0.0.0:80"));
    CHECK(edge_listen_overlap("[::]:80", "[::1]:80"));
    CHECK(edge_listen_overlap("[::1]:80", "[0:0::1]:80"));
    CHECK(edge_listen_overlap("localhost:80", "LOCALHOST:80"));
    CHECK(!edge_listen_overlap("127.0.0.1:80", "127.0.0.1:81"));
    CHECK(!edge_listen_overlap("127.0.0.1:80", "127.0.0.2:80"));
    CHECK(!edge_listen_overlap("[::]:80", "127.0.0.1:80")); /* IPV6_V6ONLY */
    CHECK(!edge_listen_overlap("0.0.0.0:80", "[::1]:80"));
    CHECK(!edge_listen_overlap("nonsense", "nonsense"));

    struct {
        const char *yaml;
        const char *msg;
    } bad[] = {
        {"status_listen: 8081\n", "edge.yaml:1:16: status_listen 8081: expected host:port"},
        {"status_listen: [\"1.2.3.4:0\"]\n",
         "edge.yaml:1:17: status_listen 1.2.3.4:0: expected host:port"},
        {"status_listen: {a: 1}\n", "edge.yaml:1:16"},
        {"listen: 127.0.0.1:8080\nstatus_listen: [127.0.0.1:8081, 127.0.0.1:8080]\n",
         "edge.yaml:2:33: status_listen 127.0.0.1:8080 takes the connections of listen "
         "127.0.0.1:8080"},
        {"listen: \"[::1]:8080\"\nstatus_listen: \"[::]:8080\"\n",
         "edge.yaml:2:16: status_listen [::]:8080 takes the connections of listen [::1]:8080"},
        {"status_listen: [1.0.0.1:1, 1.0.0.1:2, 1.0.0.1:3, 1.0.0.1:4, 1.0.0.1:5, 1.0.0.1:6, "
         "1.0.0.1:7, 1.0.0.1:8, 1.0.0.1:9]\n",
         "edge.yaml:1:105: too many status_listen addresses (max 8)"},
        /* A name is not resolved: a configuration error with its position (exit 2), not a
         * failure to listen at start (exit 1, which a service manager restarts). */
        {"listen: [\"localhost:8080\"]\n",
         "edge.yaml:1:10: listen localhost:8080: the host must be an IPv4 or IPv6 address"},
        {"status_listen: edge.example:8081\n",
         "edge.yaml:1:16: status_listen edge.example:8081: the host must be an IPv4 or IPv6"},
        {"cors_allow_origin: \"https://a.example\\r\\nSet-Cookie: x=1\"\n",
         "edge.yaml:1:20: cors_allow_origin holds a control byte (\\x0d)"},
        {"listen: \"[::ffff:127.0.1.1]:8080\"\n",
         "edge.yaml:1:9: listen [::ffff:127.0.1.1]:8080: an IPv4-mapped IPv6 address: write the "
         "IPv4 address 127.0.1.1"},
        /* Twice in one list, or a wildcard beside an address of its port and family. */
        {"listen: [127.0.0.1:8080, 127.0.0.1:8080]\n",
         "edge.yaml:1:26: listen 127.0.0.1:8080: listed twice"},
        {"status_listen: [127.0.0.1:8081, \"0.0.0.0:8081\"]\n",
         "edge.yaml:1:33: status_listen 0.0.0.0:8081: takes the connections of 127.0.0.1:8081, "
         "listed before"},
        {"listen: 127.0.0.1:0\n", "edge.yaml:1:9: listen 127.0.0.1:0: expected host:port or "
                                  "[v6]:port, the port 1..65535"},
        {"limits: {status_max_connections: 0}\n", "edge.yaml:1:34"},
        {"limits: {status_max_connections: 1025}\n", "edge.yaml:1:34"},
        {"limits: {status_max_connections: lots}\n", "edge.yaml:1:34"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = load(&cfg, bad[i].yaml, err, sizeof(err));
        CHECK(rc != 0 && strstr(err, bad[i].msg), "case %zu (%s): rc=%d err=%s", i, bad[i].yaml, rc,
              err);
    }

    /* The command line: --status-listen replaces the file's list; the clash is checked on the
     * configuration file and command line make together. */
    char *a1[] = {"segment-edge",   "--listen", "127.0.0.1:8080", "--status-listen",
                  "127.0.0.1:8081", "--root",   "/srv",           NULL};
    edge_config_defaults(&cfg);
    CHECK(edge_config_args(&cfg, 7, a1, err, sizeof(err)) == 0);
    CHECK(cfg.n_status_listen == 1 && strcmp(cfg.status_listen[0], "127.0.0.1:8081") == 0);
    CHECK(edge_config_validate(&cfg, err, sizeof(err)) == 0);
    char *a2[] = {"segment-edge",   "--listen", "127.0.0.1:8080", "--status-listen",
                  "127.0.0.1:8080", "--root",   "/srv",           NULL};
    edge_config_defaults(&cfg);
    CHECK(edge_config_args(&cfg, 7, a2, err, sizeof(err)) == 0);
    CHECK(edge_config_validate(&cfg, err, sizeof(err)) < 0 &&
              strstr(err, "status_listen 127.0.0.1:8080 takes the connections of listen"),
          "%s", err);
    char *a3[] = {"segment-edge", "--status-listen", "8081", NULL};
    edge_config_defaults(&cfg);
    CHECK(edge_config_args(&cfg, 3, a3, err, sizeof(err)) < 0 &&
          strstr(err, "--status-listen 8081: expected host:port or [v6]:port"));
    char *a5[] = {"segment-edge", "--status-listen", "localhost:8081", NULL};
    edge_config_defaults(&cfg);
    CHECK(edge_config_args(&cfg, 3, a5, err, sizeof(err)) < 0 &&
              strstr(err, "--status-listen localhost:8081: the host must be an IPv4 or IPv6"),
          "%s", err);
    char *a7[] = {"segment-edge", "--listen", "[::1]:80", "--listen", "[::]:80", NULL};
    edge_config_defaults(&cfg);
    CHECK(edge_config_args(&cfg, 5, a7, err, sizeof(err)) < 0 &&
              strstr(err, "--listen [::]:80: takes the connections of [::1]:80, listed before"),
          "%s", err);
    char *a6[] = {"segment-edge", "--listen",    "127.0.0.1:1", "--listen",    "127.0.0.1:2",
                  "--listen",     "127.0.0.1:3", "--listen",    "127.0.0.1:4", "--listen",
                  "127.0.0.1:5",  "--listen",    "127.0.0.1:6", "--listen",    "127.0.0.1:7",
                  "--listen",     "127.0.0.1:8", "--listen",    "127.0.0.1:9", NULL};
    edge_config_defaults(&cfg);
    CHECK(edge_config_args(&cfg, 19, a6, err, sizeof(err)) < 0 &&
              strstr(err, "--listen 127.0.0.1:9: too many addresses (max 8)"),
          "%s", err);
    /* A file's status_listen, then --listen on the same address: refused by the final check. */
    CHECK(load(&cfg, "status_listen: 0.0.0.0:8080\nroot: /srv\n", err, sizeof(err)) == 0);
    char *a4[] = {"segment-edge", "--listen", "127.0.0.1:8080", NULL};
    CHECK(edge_config_args(&cfg, 3, a4, err, sizeof(err)) == 0);
    CHECK(edge_config_validate(&cfg, err, sizeof(err)) < 0);
}

static void test_bad(void)
{
    edge_config_t cfg;
    char err[512];
    struct {
        const char *yaml;
        const char *msg; /* expected in the error, with its position */
    } cases[] = {
        {"listen: 8080\n", "edge.yaml:1:9"},
        {"lisen: 127.0.0.1:1\n", "lisen"},
        {"workers: 0\n", "edge.yaml:1:10"},
        {"workers: many\n", "edge.yaml:1:10"},
        {"origin: ftp://x\n", "edge.yaml:1:9"},
        {"origin: http://\n", "edge.yaml:1:9"},
        {"origin: {a: 1}\n", "edge.yaml:1:9"},
        {"cache_memory: 10\n", "at least 1M"},
        {"cache_memory: lots\n", "edge.yaml:1:15"},
        {"freshness: {segment: forever}\n", "edge.yaml:1:22"},
        {"freshness: {segmnet: 1s}\n", "segmnet"},
        {"freshness: [1, 2]\n", "edge.yaml:1:12"},
        {"timeouts: {connect: 0s}\n", "positive"},
        {"limits: {max_header_bytes: 10}\n", "max_header_bytes"},
        {"limits: {max_uri: 10G}\n", "max_uri"},
        {"limits: {max_uri: 8k}\n", "edge.yaml:1:19: max_uri must be within 256..4096"},
        {"limits: {max_uri: 4097}\n", "edge.yaml:1:19"},
        {"limits: {max_fills: 0}\n", "edge.yaml:1:21"},
        {"limits: {max_fills: 1000001}\n", "edge.yaml:1:21"},
        {"upload_allow: [300.1.1.1/8]\n", "edge.yaml:1:16"},
        {"upload_allow: [10.0.0.0/33]\n", "edge.yaml:1:16"},
        {"status_allow: [192.0.2.0/24, bogus]\n", "edge.yaml:1:30: expected an address"},
        {"status_allow: []\n", "edge.yaml:1:15: status_allow is empty"},
        {"status_allow: [1.1.1.1, 2.2.2.2, 3.3.3.3, 4.4.4.4, 5.5.5.5, 6.6.6.6, 7.7.7.7, 8.8.8.8, "
         "9.9.9.9, 10.1.1.1, 11.1.1.1, 12.1.1.1, 13.1.1.1, 14.1.1.1, 15.1.1.1, 16.1.1.1, "
         "17.1.1.1]\n",
         "too many address ranges (max 16)"},
        {"load: {unit: furlongs}\n", "edge.yaml:1:14"},
        {"load: {capacity: -1}\n", "edge.yaml:1:18"},
        {"access_log: maybe\n", "edge.yaml:1:13"},
        {"cache_key_params: [\"\"]\n", "edge.yaml:1:20"},
        {"listen: [\"1.2.3.4:99999\"]\n", "edge.yaml:1:10"},
        {"listen: \"a\n", "edge.yaml"},
        {"- a\n- b\n", "edge.yaml:1:1"},
        {"cache_disk: {size: 1G}\n", "needs a path"},
        {"cache_disk: {path: /x, size: 1k}\n", "at least 1M"},
        {"cache_disk: {path: /x, sise: 1G}\n", "sise"},
        {"passthrough_window: 64k\n", "at least 128k"},
        {"passthrough_window: wide\n", "edge.yaml:1:21"},
        {"timeouts: {slow_reader: 0s}\n", "positive"},
        {"timeouts: {linger: -1s}\n", "edge.yaml:1:20: '-1s' is not a duration"},
        {"timeouts: {linger: soon}\n", "edge.yaml:1:20"},
        {"timeouts: {linger: [1s]}\n", "edge.yaml:1:20"},
        {"timeouts: {lingre: 1s}\n", "lingre"},
        {"limits: {max_linger_bytes: lots}\n", "edge.yaml:1:28: 'lots' is not a size"},
        {"limits: {max_linger_bytes: -1}\n", "edge.yaml:1:28"},
        {"limits: {max_linger_bytes: 1T}\n", "edge.yaml:1:28"},
        {"log_level: verbose\n", "edge.yaml:1:12: log_level must be error, warn, info or debug"},
        {"root: /srv\norigin: http://127.0.0.1:8000\n",
         "edge.yaml:2:9: root and origin are exclusive"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = load(&cfg, cases[i].yaml, err, sizeof(err));
        CHECK(rc != 0 && strstr(err, cases[i].msg), "case %zu (%s): rc=%d err=%s", i, cases[i].yaml,
              rc, err);
    }
}

static void test_args(void)
{
    edge_config_t cfg;
    char err[512];
    char *a1[] = {"segment-edge",          "--listen",    "127.0.1.1:8080", "--origin",
                  "http://127.0.0.1:8000", "--cache-mem", "256M",           NULL};
    edge_config_defaults(&cfg);
    CHECK(edge_config_args(&cfg, 7, a1, err, sizeof(err)) == 0);
    CHECK(edge_config_validate(&cfg, err, sizeof(err)) == 0);
    CHECK(cfg.cache_mem == 256ull << 20 && cfg.n_origins == 1);
    char *a2[] = {"segment-edge", "--listen", "127.0.0.1:8000", "--root", "/tmp", NULL};
    edge_config_defaults(&cfg);
    CHECK(edge_config_args(&cfg, 5, a2, err, sizeof(err)) == 0);
    CHECK(edge_config_validate(&cfg, err, sizeof(err)) == 0 && cfg.root[0] == '/');
    char *a3[] = {"segment-edge", "--listen", "nonsense", NULL};
    edge_config_defaults(&cfg);
    CHECK(edge_config_args(&cfg, 3, a3, err, sizeof(err)) < 0);
    char *a4[] = {"segment-edge", "--cache-mem", "12Q", NULL};
    edge_config_defaults(&cfg);
    CHECK(edge_config_args(&cfg, 3, a4, err, sizeof(err)) < 0);
    char *a5[] = {"segment-edge", "--bogus", "1", NULL};
    edge_config_defaults(&cfg);
    CHECK(edge_config_args(&cfg, 3, a5, err, sizeof(err)) < 0);
    char *a6[] = {"segment-edge", "--listen", "127.0.0.1:1", "--root",
                  "/a",           "--origin", "http://b:1",  NULL};
    edge_config_defaults(&cfg);
    CHECK(edge_config_args(&cfg, 7, a6, err, sizeof(err)) == 0);
    CHECK(edge_config_validate(&cfg, err, sizeof(err)) < 0);
    char *a8[] = {"segment-edge", "--max-fills", "32", NULL};
    edge_config_defaults(&cfg);
    CHECK(cfg.max_fills == 128);
    CHECK(edge_config_args(&cfg, 3, a8, err, sizeof(err)) == 0 && cfg.max_fills == 32);
    char *a9[] = {"segment-edge", "--max-fills", "0", NULL};
    CHECK(edge_config_args(&cfg, 3, a9, err, sizeof(err)) < 0 && strstr(err, "--max-fills"));
    char *a10[] = {"segment-edge", "--max-fills", "12x", NULL};
    CHECK(edge_config_args(&cfg, 3, a10, err, sizeof(err)) < 0);
    char *a7[] = {"segment-edge", "--listen", NULL};
    edge_config_defaults(&cfg);
    CHECK(edge_config_args(&cfg, 2, a7, err, sizeof(err)) < 0);
}

static void test_memory_bounds(void)
{
    edge_config_t cfg;
    char err[512];
    edge_config_defaults(&cfg);
    CHECK(cfg.passthrough_window == 4ull << 20 && cfg.slow_reader_timeout == 10000);
    CHECK(edge_config_max_object(&cfg) == cfg.cache_mem / 8);
    CHECK(load(&cfg,
               "cache_memory: 16M\nmax_object: 64M\npassthrough_window: 1M\n"
               "timeouts: {slow_reader: 2s}\n",
               err, sizeof(err)) == 0);
    CHECK(edge_config_max_object(&cfg) == 16ull << 20); /* never above the budget */
    CHECK(cfg.passthrough_window == 1ull << 20 && cfg.slow_reader_timeout == 2000);
    char *a1[] = {"segment-edge", "--max-object", "2M", "--passthrough-window", "256k", NULL};
    edge_config_defaults(&cfg);
    CHECK(edge_config_args(&cfg, 5, a1, err, sizeof(err)) == 0);
    CHECK(edge_config_max_object(&cfg) == 2ull << 20 && cfg.passthrough_window == 256u << 10);
    char *a2[] = {"segment-edge", "--passthrough-window", "4k", NULL};
    edge_config_defaults(&cfg);
    CHECK(edge_config_args(&cfg, 3, a2, err, sizeof(err)) < 0 && strstr(err, "128k"));
    char *a3[] = {"segment-edge", "--max-object", "big", NULL};
    edge_config_defaults(&cfg);
    CHECK(edge_config_args(&cfg, 3, a3, err, sizeof(err)) < 0);
}

/* The lingering close's bounds: a time (0 turns lingering off) and a byte cap (0: any byte that
 * arrives after the response closes). */
static void test_linger(void)
{
    edge_config_t cfg;
    char err[512];
    edge_config_defaults(&cfg);
    CHECK(cfg.linger_timeout == 5000 && cfg.max_linger_bytes == 16ull << 20);
    CHECK(load(&cfg, "timeouts: {linger: 0s}\nlimits: {max_linger_bytes: 0}\n", err, sizeof(err)) ==
          0);
    CHECK(cfg.linger_timeout == 0 && cfg.max_linger_bytes == 0);
    CHECK(load(&cfg, "timeouts: {linger: 1.5s}\nlimits: {max_linger_bytes: 256k}\n", err,
               sizeof(err)) == 0);
    CHECK(cfg.linger_timeout == 1500 && cfg.max_linger_bytes == 256u << 10);
    CHECK(cfg.header_read_timeout == 10000); /* the other timeouts keep their defaults */
}

static void test_cidr(void)
{
    addr_net_t c[2];
    CHECK(addr_net_parse("127.0.0.0/8", &c[0]) == 0);
    CHECK(addr_net_parse("::1", &c[1]) == 0 && c[1].bits == 128);
    struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f010203)};
    struct sockaddr_in b4 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a000001)};
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
    a6.sin6_addr.s6_addr[15] = 1;
    CHECK(addr_net_list_match(c, 2, (struct sockaddr *)&a4));
    CHECK(!addr_net_list_match(c, 2, (struct sockaddr *)&b4));
    CHECK(addr_net_list_match(c, 2, (struct sockaddr *)&a6));
    CHECK(addr_net_parse("1.2.3.4/", &c[0]) < 0);
    CHECK(addr_net_parse("1.2.3.4/x", &c[0]) < 0);
    CHECK(addr_net_parse("::/129", &c[0]) < 0);
    uint64_t v = 0;
    CHECK(edge_size_parse("1k", &v) == 0 && v == 1024);
    CHECK(edge_size_parse("-1", &v) < 0);
    CHECK(edge_size_parse("99999999999999G", &v) < 0);

    /* status_allow: any address by default; a list lets only its ranges read the status paths. */
    edge_config_t cfg;
    char err[512];
    CHECK(load(&cfg, "", err, sizeof(err)) == 0 && cfg.n_status_allow == 0);
    CHECK(edge_status_allowed(&cfg, (struct sockaddr *)&b4));
    CHECK(load(&cfg, "status_allow: [127.0.0.0/8, \"::1\"]\n", err, sizeof(err)) == 0, "%s", err);
    CHECK(cfg.n_status_allow == 2 && cfg.n_upload_allow == 2);
    struct sockaddr_storage ss;
    memcpy(&ss, &a4, sizeof(a4));
    CHECK(edge_status_allowed(&cfg, (struct sockaddr *)&ss));
    memcpy(&ss, &b4, sizeof(b4));
    CHECK(!edge_status_allowed(&cfg, (struct sockaddr *)&ss));
    memcpy(&ss, &a6, sizeof(a6));
    CHECK(edge_status_allowed(&cfg, (struct sockaddr *)&ss));
    CHECK(load(&cfg, "status_allow: 10.0.0.1\n", err, sizeof(err)) == 0 && cfg.n_status_allow == 1);
    memcpy(&ss, &b4, sizeof(b4));
    CHECK(edge_status_allowed(&cfg, (struct sockaddr *)&ss));
}

int main(void)
{
    test_good();
    test_status_listen();
    test_bad();
    test_linger();
    test_args();
    test_memory_bounds();
    test_cidr();
    return check_report();
}
