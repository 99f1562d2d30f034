/* hc_load.h: healthcheck's reader of a PoP's load figure from its status JSON (pure, no I/O). */
#ifndef HC_LOAD_H
#define HC_LOAD_H

#include <stddef.h>

/* The largest status body read: a probed PoP chooses what it sends, and the prober reads at most
 * 64 KiB of a response anyway (HC_RESPONSE_MAX). */
#define HC_LOAD_BODY_MAX (64 * 1024)

/* Read the number at the dotted path field ("load.value"; a numeric segment indexes a list) of
 * the JSON document body[0..len); name is used in positions. Returns 0 with *out set, or -EINVAL
 * with why in reason: "status body larger than 65536 bytes" (len past HC_LOAD_BODY_MAX, not
 * parsed), "not JSON: name:line:col: ...", "no field load.value", "load.value is not a
 * number", "load.value is negative", "load.value 1e+16 is out of range (0 to 1e+15)" (above
 * max). */
int hc_load_read(const char *name, const char *body, size_t len, const char *field, double max,
                 double *out, char *reason, size_t reasonlen);

#endif
