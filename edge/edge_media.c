/* edge_media.c: streaming media helpers: content type and media kind from a path's extension,
 * and the scans of HLS playlists and DASH manifests that decide live or VOD freshness. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "edge_http.h"

static const char *path_ext(const char *path, size_t len, size_t *elen)
{
    size_t i = len;
    while (i > 0 && path[i - 1] != '.' && path[i - 1] != '/') {
        i--;
    }
    if (i == 0 || path[i - 1] != '.') {
        *elen = 0;
        return "";
    }
    *elen = len - i;
    return path + i;
}

static const struct {
    const char *ext;
    const char *type;
    edge_media_kind_t kind;
} media_types[] = {
    {"m3u8", "application/vnd.apple.mpegurl", EDGE_MEDIA_PLAYLIST},
    {"mpd", "application/dash+xml", EDGE_MEDIA_MANIFEST},
    {"ts", "video/mp2t", EDGE_MEDIA_SEGMENT},
    {"m4s", "video/iso.segment", EDGE_MEDIA_SEGMENT},
    {"mp4", "video/mp4", EDGE_MEDIA_SEGMENT},
    {"m4a", "audio/mp4", EDGE_MEDIA_SEGMENT},
    {"m4v", "video/mp4", EDGE_MEDIA_SEGMENT},
    {"cmfv", "video/mp4", EDGE_MEDIA_SEGMENT},
    {"cmfa", "audio/mp4", EDGE_MEDIA_SEGMENT},
    {"aac", "audio/aac", EDGE_MEDIA_SEGMENT},
    {"vtt", "text/vtt", EDGE_MEDIA_SEGMENT},
    {"webvtt", "text/vtt", EDGE_MEDIA_SEGMENT},
    {"key", "application/octet-stream", EDGE_MEDIA_SEGMENT},
    {"json", "application/json", EDGE_MEDIA_OTHER},
    {"html", "text/html; charset=utf-8", EDGE_MEDIA_OTHER},
    {"txt", "text/plain; charset=utf-8", EDGE_MEDIA_OTHER},
};

const char *edge_content_type(const char *path, size_t len)
{
    size_t el = 0;
    const char *e = path_ext(path, len, &el);
    for (size_t i = 0; i < sizeof(media_types) / sizeof(media_types[0]); i++) {
        if (edge_str_ieq(e, el, media_types[i].ext)) {
            return media_types[i].type;
        }
    }
    return "application/octet-stream";
}

edge_media_kind_t edge_media_kind(const char *path, size_t len)
{
    size_t el = 0;
    const char *e = path_ext(path, len, &el);
    for (size_t i = 0; i < sizeof(media_types) / sizeof(media_types[0]); i++) {
        if (edge_str_ieq(e, el, media_types[i].ext)) {
            return media_types[i].kind;
        }
    }
    return EDGE_MEDIA_OTHER;
}

void edge_hls_scan(const char *body, size_t len, bool *endlist, uint64_t *target_ms)
{
    *endlist = false;
    *target_ms = 0;
    size_t i = 0;
    while (i < len) {
        const char *line = body + i;
        const char *nl = memchr(line, '\n', len - i);
        size_t ll = nl ? (size_t)(nl - line) : len - i;
        i += ll + 1;
        while (ll > 0 && (line[ll - 1] == '\r' || line[ll - 1] == ' ')) {
            ll--;
        }
        static const char td[] = "#EXT-X-TARGETDURATION:";
        if (ll == 14 && memcmp(line, "#EXT-X-ENDLIST", 14) == 0) {
            *endlist = true;
        } else if (ll > sizeof(td) - 1 && memcmp(line, td, sizeof(td) - 1) == 0) {
            uint64_t v = 0;
            if (edge_u64_parse(line + sizeof(td) - 1, ll - (sizeof(td) - 1), &v) && v < 86400) {
                *target_ms = v * 1000;
            }
        }
    }
}

bool edge_mpd_is_dynamic(const char *body, size_t len)
{
    static const char pat[] = "type=\"dynamic\"";
    size_t pl = sizeof(pat) - 1;
    for (size_t i = 0; i + pl <= len; i++) {
        if (memcmp(body + i, pat, pl) == 0) {
            return true;
        }
    }
    return false;
}
