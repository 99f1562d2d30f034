/* explain.h: the `geodnsd explain` subcommand. */
#ifndef GEODNSD_EXPLAIN_H
#define GEODNSD_EXPLAIN_H

/* Print the client's location and its source, health and capacity per PoP (from the state files
 * and overrides as they are now; health_dir, when not NULL, replaces the config's), every PoP
 * with distance and eligibility, and the answer the server would send (from query_process).
 * client is "IP" (the query's source, no ECS) or "IP/PREFIX" (an ECS option). type may be NULL
 * (A). Returns the exit status. */
int explain_run(const char *config, const char *health_dir, const char *name, const char *client,
                const char *type);

#endif
