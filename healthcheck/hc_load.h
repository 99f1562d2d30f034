/* hc_load.h: healthcheck's reader of a PoP's load figure from its status JSON (pure, no I/O). */
#ifndef HC_LOAD_H
#define HC_LOAD_H

#include <stddef.h>

/* Read the number at the dotted path field ("load.value"; a numeric segment indexes a list) of
 * the JSON document body[0..len); name is used in positions. Returns 0 with *out set, or -EINVAL
 * with why in reason: "not JSON: name:line:col: ...", "no field load.value", "load.value is not a
 * number", "load.value is negative", "load.value 1e+16 is out of range (0 to 1e+15)" (above
 * max). */
int hc_load_read(const char *name, const char *body, size_t len, const char *field, double max,
                 double *out, char *reason, size_t reasonlen);

#endif
