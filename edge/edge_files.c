/* edge_files.c: the origin-mode handler: files under --root served through the request core
 * (GET, HEAD), and PUT and DELETE. Every open stays beneath the root and follows no symbolic
 * link unless follow_symlinks is set. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "edge_conn.h"

/* No segment may start with '.': hides temp files and dot-directories. A literal backslash is
 * refused: some clients and file systems take it for a separator. */
static bool path_hidden(const char *path)
{
    for (const char *p = path; *p; p++) {
        if (*p == '/' && p[1] == '.') {
            return true;
        }
    }
    return false;
}

static bool path_has_backslash(const char *path, size_t len)
{
    return memchr(path, '\\', len) != NULL;
}

/* ---- opening beneath the root ---- */

static bool follow(const edge_server_t *srv)
{
    return srv->cfg->follow_symlinks;
}

/* openat(2) of one component below dirfd, without following a link unless allowed. */
static int open_component(const edge_server_t *srv, int dirfd, const char *name, int flags,
                          mode_t mode)
{
    return openat(dirfd, name, flags | O_CLOEXEC | (follow(srv) ? 0 : O_NOFOLLOW), mode);
}

/* The directory holding rel (relative to the root, '/'-separated, normalized: no "." or ".."
 * segments), walked one component at a time with O_NOFOLLOW, created when create is set.
 * *leaf points at the last component of rel. Returns a directory fd or -errno. */
static int open_parent(const edge_server_t *srv, const char *rel, bool create, const char **leaf)
{
    int fd = dup(srv->root_fd);
    if (fd < 0) {
        return -errno;
    }
    const char *p = rel;
    for (;;) {
        const char *slash = strchr(p, '/');
        if (!slash) {
            break;
        }
        char name[256];
        size_t n = (size_t)(slash - p);
        if (n == 0) {
            p = slash + 1;
            continue;
        }
        if (n >= sizeof(name)) {
            close(fd);
            return -ENAMETOOLONG;
        }
        memcpy(name, p, n);
        name[n] = '\0';
        if (create && mkdirat(fd, name, 0755) != 0 && errno != EEXIST) {
            int e = errno;
            close(fd);
            return -e;
        }
        int nfd = open_component(srv, fd, name, O_PATH | O_DIRECTORY, 0);
        int e = errno;
        close(fd);
        if (nfd < 0) {
            return -e;
        }
        fd = nfd;
        p = slash + 1;
    }
    *leaf = p;
    return fd;
}

/* Open rel for reading beneath the root: openat2 with RESOLVE_BENEATH (and RESOLVE_NO_SYMLINKS
 * unless symlinks are followed); the component walk where openat2 is missing (ENOSYS). */
static int open_beneath(const edge_server_t *srv, const char *rel)
{
    int flags = O_RDONLY | O_NONBLOCK;
    struct open_how how;
    memset(&how, 0, sizeof(how));
    how.flags = (uint64_t)(flags | O_CLOEXEC | (follow(srv) ? 0 : O_NOFOLLOW));
    how.resolve = RESOLVE_BENEATH | (follow(srv) ? 0 : RESOLVE_NO_SYMLINKS);
    int fd = (int)syscall(SYS_openat2, srv->root_fd, rel, &how, sizeof(how));
    if (fd >= 0 || errno != ENOSYS) {
        return fd >= 0 ? fd : -errno;
    }
    const char *leaf = NULL;
    int dfd = open_parent(srv, rel, false, &leaf);
    if (dfd < 0) {
        return dfd;
    }
    fd = open_component(srv, dfd, leaf, flags, 0);
    int e = errno;
    close(dfd);
    return fd >= 0 ? fd : -e;
}

/* ---- GET and HEAD ---- */

void edge_files_get(conn_t *c)
{
    edge_server_t *srv = c->w->srv;
    if (path_hidden(c->buf->path) || c->buf->path[0] != '/') {
        edge_conn_respond_error(c, 404);
        return;
    }
    int fd = open_beneath(srv, c->buf->path + 1);
    if (fd < 0) {
        edge_conn_respond_error(c, fd == -EACCES ? 403 : 404);
        return;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        edge_conn_respond_error(c, 404);
        return;
    }
    char etag[64];
    char lm[32];
    snprintf(etag, sizeof(etag), "\"%llx-%llx\"", (unsigned long long)sb.st_size,
             (unsigned long long)sb.st_mtim.tv_sec * 1000000000ull +
                 (unsigned long long)sb.st_mtim.tv_nsec);
    edge_http_date_format(sb.st_mtim.tv_sec, lm);
    size_t size = (size_t)sb.st_size;
    void *map = NULL;
    if (size > 0) {
        map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            close(fd);
            edge_conn_respond_error(c, 500);
            return;
        }
    }
    conn_body_t *b = &c->body;
    b->map = map;
    b->map_len = size;
    b->file_fd = fd;
    edge_obj_view_t v = {
        .cached = false,
        .state = EDGE_VIEW_COMPLETE,
        .status = 200,
        .length = (int64_t)size,
        .ctype = edge_content_type(c->buf->path, c->req.path_len),
        .etag = etag,
        .last_modified = lm,
        .mtime = sb.st_mtim.tv_sec,
        .kind = edge_media_kind(c->buf->path, c->req.path_len),
    };
    edge_req_t r;
    edge_conn_core_req(c, &r);
    if (size > 0 && size <= EDGE_GZIP_MAX && edge_want_gzip(&r, v.kind, 200, NULL)) {
        /* The one gzip set-up (edge_gzip), as for cached playlists. */
        if (edge_gzip(map, size, &b->owned, &v.gz_len) != 0) {
            edge_conn_respond_error(c, 500);
            return;
        }
        v.has_gz = true;
    }
    edge_respond(&r, &v, edge_now_ms(), srv->cfg, &c->resp.plan);
    b->src = SRC_MEM;
    if (c->resp.plan.body == EDGE_BODY_GZIP) {
        b->base = b->owned;
        b->fd = -1;
    } else {
        b->base = map;
        b->fd = fd;
    }
    edge_conn_plan_ready(c);
}

/* ---- PUT ---- */

int edge_files_put_begin(conn_t *c)
{
    static unsigned counter;
    edge_server_t *srv = c->w->srv;
    const char *path = c->buf->path;
    size_t len = c->req.path_len;
    if (len < 2 || path[0] != '/' || path[len - 1] == '/' || path_hidden(path) ||
        path_has_backslash(path, len)) {
        return 400;
    }
    int n = snprintf(c->buf->up_final, sizeof(c->buf->up_final), "%s", path + 1);
    if (n < 0 || (size_t)n >= sizeof(c->buf->up_final)) {
        return 414;
    }
    const char *leaf = NULL;
    int dfd = open_parent(srv, c->buf->up_final, true, &leaf);
    if (dfd < 0) {
        return dfd == -ENAMETOOLONG ? 414 : dfd == -ENOTDIR || dfd == -ELOOP ? 409 : 500;
    }
    struct stat sb;
    c->up.existed = fstatat(dfd, leaf, &sb, AT_SYMLINK_NOFOLLOW) == 0;
    if (c->up.existed && !S_ISREG(sb.st_mode)) {
        close(dfd);
        return 409;
    }
    n = snprintf(c->buf->up_tmp, sizeof(c->buf->up_tmp), ".%s.tmp.%d.%u", leaf, (int)getpid(),
                 __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
    if (n < 0 || (size_t)n >= sizeof(c->buf->up_tmp) || strlen(c->buf->up_tmp) > 255) {
        close(dfd);
        return 414;
    }
    c->up.fd =
        openat(dfd, c->buf->up_tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (c->up.fd < 0) {
        close(dfd);
        return 500;
    }
    c->up.dirfd = dfd;
    c->up.leaf = leaf;
    return 0;
}

int edge_files_put_body(conn_t *c, const char *at, size_t len)
{
    if (c->up.fd < 0) {
        return 0; /* bodies of other methods are read and dropped */
    }
    c->up.bytes += len;
    if (c->up.bytes > c->w->srv->cfg->max_upload) {
        c->parser.status_hint = 413;
        return -1;
    }
    while (len > 0) {
        ssize_t n = write(c->up.fd, at, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            c->parser.status_hint = 500;
            return -1;
        }
        at += n;
        len -= (size_t)n;
    }
    return 0;
}

void edge_files_put_abort(conn_t *c)
{
    if (c->up.fd >= 0) {
        close(c->up.fd);
        unlinkat(c->up.dirfd, c->buf->up_tmp, 0);
        c->up.fd = -1;
    }
    if (c->up.dirfd >= 0) {
        close(c->up.dirfd);
        c->up.dirfd = -1;
    }
}

void edge_files_put_finish(conn_t *c)
{
    int fd = c->up.fd;
    c->up.fd = -1;
    int dfd = c->up.dirfd;
    if (fd < 0 || close(fd) != 0 || renameat(dfd, c->buf->up_tmp, dfd, c->up.leaf) != 0) {
        if (dfd >= 0) {
            unlinkat(dfd, c->buf->up_tmp, 0);
        }
        edge_files_put_abort(c);
        edge_conn_respond_error(c, 500);
        return;
    }
    edge_files_put_abort(c); /* closes the directory */
    /* 204 carries no Content-Length */
    edge_conn_respond_simple(c, c->up.existed ? 204 : 201, NULL, NULL, 0, NULL);
}

/* ---- DELETE ---- */

void edge_files_delete(conn_t *c)
{
    edge_server_t *srv = c->w->srv;
    if (path_hidden(c->buf->path) || c->buf->path[0] != '/' ||
        path_has_backslash(c->buf->path, c->req.path_len)) {
        edge_conn_respond_error(c, 404);
        return;
    }
    const char *leaf = NULL;
    int dfd = open_parent(srv, c->buf->path + 1, false, &leaf);
    if (dfd < 0) {
        edge_conn_respond_error(c, 404);
        return;
    }
    struct stat sb;
    int st = 204;
    if (!*leaf || fstatat(dfd, leaf, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode)) {
        st = 404;
    } else if (unlinkat(dfd, leaf, 0) != 0) {
        st = 500;
    }
    close(dfd);
    if (st != 204) {
        edge_conn_respond_error(c, st);
        return;
    }
    edge_conn_respond_simple(c, 204, NULL, NULL, 0, NULL);
}
