/* state_write.c: the probe state file's writer (JSON) and the atomic replace of a file. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "health.h"

#define WRITE_HISTORY_MAX 32   /* bits in health_addr_t.history */
#define WRITE_FILE_MODE   0644 /* geodnsd and rsync may run as other users */

/* ------------------------------------------------------------------ writer */

/* Length of the valid UTF-8 sequence at s (at most n bytes) whose code point YAML accepts
 * unescaped, or 0. C1 controls, surrogates, U+FFFE/U+FFFF and overlongs give 0. */
static size_t state_utf8_len(const unsigned char *s, size_t n, uint32_t *cp)
{
    size_t len;
    uint32_t c, min;
    if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4, c = s[0] & 0x07u, min = 0x10000;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3, c = s[0] & 0x0fu, min = 0x800;
    else if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2, c = s[0] & 0x1fu, min = 0x80;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3fu);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff) || c == 0xfffe || c == 0xffff)
        return 0;
    *cp = c;
    return len;
}

/* A JSON string. Control characters are escaped; bytes that are not valid UTF-8 become '?' (one
 * byte for one, so a string that fit its field still fits when read back), so that the file
 * always reads back. */
static void state_put_string(FILE *f, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str);
    fputc('"', f);
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        uint32_t cp;
        size_t ul;
        if (c == '"' || c == '\\') {
            fprintf(f, "\\%c", c);
            i++;
        } else if (c == '\n') {
            fputs("\\n", f);
            i++;
        } else if (c == '\t') {
            fputs("\\t", f);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(f, "\\u%04x", c);
            i++;
        } else if (c < 0x80) {
            fputc(c, f);
            i++;
        } else if ((ul = state_utf8_len(s + i, n - i, &cp)) != 0) {
            /* C1 controls are not printable in YAML; raw U+2028/U+2029 would read back as line
             * breaks and U+FEFF as a byte order mark. */
            if (cp < 0xa0 || cp == 0x2028 || cp == 0x2029 || cp == 0xfeff)
                fprintf(f, "\\u%04x", (unsigned)cp);
            else
                fwrite(s + i, 1, ul, f);
            i += ul;
        } else {
            fputc('?', f);
            i++;
        }
    }
    fputc('"', f);
}

/* The shortest of %.15g and %.17g that reads back as v. */
static void state_put_double(FILE *f, double v)
{
    char b[40];
    snprintf(b, sizeof(b), "%.15g", v);
    if (strtod(b, NULL) != v)
        snprintf(b, sizeof(b), "%.17g", v);
    fputs(b, f);
}

static void state_put_addr(FILE *f, const health_addr_t *a, bool first)
{
    char text[HEALTH_ADDR_STRLEN], hist[WRITE_HISTORY_MAX + 1];
    size_t nh = a->nhistory > WRITE_HISTORY_MAX ? WRITE_HISTORY_MAX : a->nhistory;
    for (size_t i = 0; i < nh; i++)
        hist[i] = (a->history >> i) & 1u ? '1' : '0';
    hist[nh] = '\0';
    fprintf(f, "%s\n      \"%s\": {\"state\": \"%s\", \"reason\": ", first ? "" : ",",
            health_addr_format(a, text), health_state_name(a->state));
    state_put_string(f, a->reason);
    fputs(", \"rtt_ms\": ", f);
    if (a->rtt_ms >= 0 && isfinite(a->rtt_ms))
        fprintf(f, "%.3f", a->rtt_ms);
    else
        fputs("-1", f);
    fprintf(f,
            ", \"history\": \"%s\", \"ok_streak\": %u, \"probes\": %llu, \"failures\": %llu, "
            "\"since\": %lld}",
            hist, a->ok_streak, (unsigned long long)a->probes, (unsigned long long)a->failures,
            (long long)a->since);
}

int health_file_write(FILE *f, const health_file_t *hf)
{
    fprintf(f, "{\"format\": \"%s\", \"version\": %d, \"vantage\": ", HEALTH_FORMAT,
            HEALTH_VERSION);
    state_put_string(f, hf->vantage);
    fprintf(f, ", \"time\": %lld, \"round_ms\": %u,\n \"pops\": {", (long long)hf->time,
            hf->round_ms);
    for (size_t i = 0; i < hf->npops; i++) {
        const health_pop_t *p = &hf->pops[i];
        fprintf(f, "%s\n  ", i ? "," : "");
        state_put_string(f, p->name);
        fprintf(f, ": {\"state\": \"%s\", \"load\": ", health_state_name(p->state));
        if (p->has_load && isfinite(p->load))
            state_put_double(f, p->load);
        else
            fputs("null", f);
        fputs(", \"load_reason\": ", f);
        state_put_string(f, p->load_reason);
        fputs(",\n    \"addresses\": {", f);
        for (size_t j = 0; j < p->naddrs; j++)
            state_put_addr(f, &p->addrs[j], j == 0);
        fputs("}}", f);
    }
    fputs("}}\n", f);
    return ferror(f) ? -EIO : 0;
}

/* ------------------------------------------------------------------ atomic save */

int health_file_replace(const char *path, int (*writer)(FILE *f, const void *ctx), const void *ctx,
                        char *err, size_t errlen)
{
    char dir[PATH_MAX], tmp[PATH_MAX];
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t dlen = slash ? (size_t)(slash - path) : 0;
    if (!*base || dlen >= sizeof(dir)) {
        snprintf(err, errlen, "%s: not a file path", path);
        return -EINVAL;
    }
    if (slash) {
        memcpy(dir, path, dlen);
        dir[dlen] = '\0';
        if (!dlen)
            strcpy(dir, "/");
    } else {
        strcpy(dir, ".");
    }
    /* The temporary name starts with a dot and does not end like the target, so that directory
     * readers (geodnsd, node-exporter) skip it. */
    int n = snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, base);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        snprintf(err, errlen, "%s: path too long", path);
        return -ENAMETOOLONG;
    }
    int rc = 0, dfd = -1;
    FILE *f = NULL;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "%s: cannot create a temporary file in %s: %s", path, dir,
                 strerror(errno));
        return rc;
    }
    if (fchmod(fd, WRITE_FILE_MODE) || !(f = fdopen(fd, "w"))) {
        rc = -errno;
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        close(fd);
        goto fail;
    }
    errno = 0;
    rc = writer(f, ctx);
    if (rc == -EIO && errno && errno != EIO)
        rc = -errno; /* the stream's error (ENOSPC, EDQUOT) rather than its ferror flag */
    if (!rc && fflush(f))
        rc = -errno;
    if (!rc && fsync(fileno(f)))
        rc = -errno;
    if (fclose(f) && !rc)
        rc = -errno;
    if (rc) {
        snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(-rc));
        goto fail;
    }
    if (rename(tmp, path)) {
        rc = -errno;
        snprintf(err, errlen, "%s: cannot rename %s: %s", path, tmp, strerror(errno));
        goto fail;
    }
    /* The rename is durable only once the directory is on disk too. */
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd)) {
        rc = -errno;
        snprintf(err, errlen, "%s: cannot sync directory %s: %s", path, dir, strerror(errno));
    }
    if (dfd >= 0)
        close(dfd);
    return rc;
fail:
    unlink(tmp);
    return rc;
}

static int state_write_cb(FILE *f, const void *ctx)
{
    return health_file_write(f, ctx);
}

int health_file_save(const char *path, const health_file_t *hf, char *err, size_t errlen)
{
    return health_file_replace(path, state_write_cb, hf, err, errlen);
}
