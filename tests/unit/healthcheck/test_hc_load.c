/* test_hc_load.c: the load figure read from a status JSON: segment-edge's shape, other paths,
 * every way it can be missing or wrong, and the bound on the body's size. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hc_load.h"

#define REASON_MAX 128

static const char *const edge_status =
    "{\"mode\":\"edge\",\"uptime_s\":12.5,\"draining\":false,\"workers\":2,\n"
    "\"origin\":{\"fetches\":3,\"servers\":[{\"url\":\"http://o\",\"up\":true,\"load\":7}]},\n"
    "\"load\":{\"value\":512.500,\"unit\":\"rps\",\"capacity\":1000.000,\"ratio\":0.5125}}\n";

static void expect_value(const char *what, const char *doc, const char *field, double want)
{
    double v = -1;
    char reason[REASON_MAX] = "";
    int rc = hc_load_read("/status", doc, strlen(doc), field, 1e15, &v, reason, sizeof(reason));
    CHECK(rc == 0 && v == want, "%s: rc %d value %g reason '%s'", what, rc, v, reason);
}

static void expect_reason(const char *what, const char *doc, const char *field, const char *needle)
{
    double v = -1;
    char reason[REASON_MAX] = "";
    int rc = hc_load_read("/status", doc, strlen(doc), field, 1e15, &v, reason, sizeof(reason));
    CHECK(rc == -EINVAL && strstr(reason, needle), "%s: rc %d reason '%s', want '%s'", what, rc,
          reason, needle);
}

/* A body of HC_LOAD_BODY_MAX bytes is read; one byte more is refused before it is parsed (a
 * probed PoP chooses what its status page sends). */
static void test_body_bound(void)
{
    static const char head[] = "{\"pad\": \"", tail[] = "\", \"load\": {\"value\": 5}}";
    size_t n = HC_LOAD_BODY_MAX + 1;
    char *doc = malloc(n + 1), reason[REASON_MAX] = "";
    if (!doc)
        return;
    size_t pad = HC_LOAD_BODY_MAX - (sizeof(head) - 1) - (sizeof(tail) - 1);
    memcpy(doc, head, sizeof(head) - 1);
    memset(doc + sizeof(head) - 1, 'x', pad);
    memcpy(doc + sizeof(head) - 1 + pad, tail, sizeof(tail));
    double v = -1;
    int rc = hc_load_read("/status", doc, HC_LOAD_BODY_MAX, "load.value", 1e15, &v, reason,
                          sizeof(reason));
    CHECK(rc == 0 && v == 5, "%d bytes: rc %d value %g reason '%s'", HC_LOAD_BODY_MAX, rc, v,
          reason);
    doc[HC_LOAD_BODY_MAX] = ' '; /* trailing white space: still the same document */
    rc = hc_load_read("/status", doc, n, "load.value", 1e15, &v, reason, sizeof(reason));
    CHECK(rc == -EINVAL && !strcmp(reason, "status body larger than 65536 bytes"),
          "%zu bytes: rc %d reason '%s'", n, rc, reason);
    free(doc);
}

int main(void)
{
    expect_value("segment-edge", edge_status, "load.value", 512.5);
    expect_value("ratio", edge_status, "load.ratio", 0.5125);
    expect_value("list index", edge_status, "origin.servers.0.load", 7);
    expect_value("top level", "{\"rps\": 3e2}", "rps", 300);
    expect_value("zero", "{\"load\": {\"value\": 0}}", "load.value", 0);
    expect_value("YAML is fine too", "load:\n  value: 42\n", "load.value", 42);
    expect_reason("missing", "{\"load\": {}}", "load.value", "no field load.value");
    expect_reason("missing parent", "{}", "load.value", "no field load.value");
    expect_reason("index past the end", edge_status, "origin.servers.1.load", "no field");
    expect_reason("index into a map", edge_status, "load.0", "no field");
    expect_reason("a string", "{\"load\": {\"value\": \"5\"}}", "load.value", "not a number");
    expect_reason("a map", edge_status, "load", "not a number");
    expect_reason("null", "{\"load\": {\"value\": null}}", "load.value", "not a number");
    expect_reason("nan", "{\"load\": {\"value\": .nan}}", "load.value", "not a number");
    expect_reason("NaN", "{\"load\": {\"value\": NaN}}", "load.value", "not a number");
    expect_reason("inf", "{\"load\": {\"value\": 1e999}}", "load.value", "not a number");
    expect_reason("hex", "{\"load\": {\"value\": 0x10}}", "load.value", "not a number");
    expect_reason("negative", "{\"load\": {\"value\": -3}}", "load.value", "negative");
    expect_value("at the bound", "{\"load\": {\"value\": 1e15}}", "load.value", 1e15);
    expect_reason("past the bound", "{\"load\": {\"value\": 1e16}}", "load.value",
                  "load.value 1e+16 is out of range (0 to 1e+15)");
    expect_reason("the largest double", "{\"load\": {\"value\": 1.7976931348623157e308}}",
                  "load.value", "out of range");
    expect_reason("HTML", "<html><body>502 Bad Gateway</body></html>", "load.value", "no field");
    expect_reason("broken JSON", "{\"load\": {\"value\": 1", "load.value", "not JSON: /status:");
    expect_reason("empty body", "", "load.value", "not JSON: /status:1:1");
    expect_reason("binary", "\x01\x02\xff", "load.value", "not JSON");
    test_body_bound();
    return check_report();
}
