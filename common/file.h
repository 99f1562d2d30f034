/* file.h: opening an input file (a config, zone, PoP, state or overrides file): a regular file of
 * bounded size, and never a wait on a FIFO or a read of a device that has no end. */
#ifndef COMMON_FILE_H
#define COMMON_FILE_H

#include <stdint.h>
#include <stdio.h>

/* Open path read-only, close-on-exec, if it is a regular file of at most max bytes (its size
 * then in *size, which may be NULL). The open itself never blocks: a FIFO is refused, not
 * waited on. Returns the fd (in blocking mode), or a negative errno with *why saying it in words:
 * the open's own error (strerror), -EINVAL "not a regular file" (a FIFO, a device, a directory),
 * -EFBIG "larger than the N-byte limit"; *why points to static text or to why_buf (size 64). */
int file_open_regular(const char *path, uint64_t max, uint64_t *size, const char **why,
                      char why_buf[64]);

/* file_open_regular as a stdio stream (mode "r" or "rb"): the stream, or NULL with *err the
 * negative errno and *why the reason in words. */
FILE *file_fopen_regular(const char *path, const char *mode, uint64_t max, uint64_t *size, int *err,
                         const char **why, char why_buf[64]);

#endif
