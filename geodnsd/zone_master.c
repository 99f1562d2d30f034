/* zone_master.c: the RFC 1035 master-file reader ($ORIGIN, $TTL, $INCLUDE; records parsed by
 * ldns) into the shared loader (zone_build.c). */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dname.h"
#include "file.h"
#include "zone_loader.h"

#define MASTER_MAX_INCLUDE_DEPTH 8
#define MASTER_MAX_LINE          65535            /* bytes in one line of a master file */
#define MASTER_MAX_FILE          (1ul << 31)      /* bytes in one master file */
#define MASTER_MAX_DIRECTIVE     (PATH_MAX + 300) /* a $INCLUDE line: path and origin */
#define MASTER_DEFAULT_TTL       3600             /* without $TTL, as NSD and ldns */
/* The origin of a file that neither sets $ORIGIN nor is named <zone>.zone: a relative name ending
 * up below it is an error, never a silently wrong name. */
#define MASTER_NO_ORIGIN "no-origin--set-origin-or-name-the-file-zone.invalid."
/* ldns reads an owner of at most 255 characters of text; a legal name written with many \DDD
 * escapes is longer (up to 4 characters per byte). Such an owner is replaced in the text by
 * "o<N>." + this placeholder and put back once ldns has parsed the record. */
#define MASTER_LONG_OWNER     "long-owner--placeholder.invalid."
#define MASTER_LONG_OWNER_MIN 200 /* owners of more characters than this are replaced */

typedef struct long_owner {
    char *text;     /* the owner as written */
    ldns_rdf *name; /* resolved against the origin of its line, at its first record */
} long_owner_t;

typedef struct master_ctx {
    loader_t *L;
    uint32_t ttl;
    ldns_rdf *origin;
    ldns_rdf *prev;
    ldns_rdf *no_origin;
    bool have_soa;
    bool may_include;            /* read from a file, not from memory */
    zone_file_seen_fn file_seen; /* told of each $INCLUDEd file; may be NULL */
    void *file_ctx;
    const char *stack[MASTER_MAX_INCLUDE_DEPTH + 1]; /* real paths of the files being read */
    unsigned depth;
    long_owner_t *longs; /* owners too long for ldns (MASTER_LONG_OWNER) */
    size_t nlongs, caplongs;
    ldns_rdf *long_parent; /* MASTER_LONG_OWNER as a name */
} master_ctx_t;

static int master_parse_text(master_ctx_t *M, const char *file, char *buf, size_t len);

/* Is the name at or below the no-origin sentinel? (Most names are shorter: no copy then.) */
static bool ends_with_no_origin(const master_ctx_t *M, const ldns_rdf *d)
{
    size_t len = ldns_rdf_size(d), sl = ldns_rdf_size(M->no_origin);
    if (len < sl || len > DNS_MAX_NAME)
        return false;
    uint8_t low[DNS_MAX_NAME];
    memcpy(low, ldns_rdf_data(d), len);
    dns_name_lower(low, len);
    return zl_name_below_or_at(low, len, ldns_rdf_data(M->no_origin), sl);
}

/* One parsed record into the loader. The first record of the zone is its SOA, which names it. */
static int master_add(master_ctx_t *M, ldns_rr *rr, const yt_node_t *at)
{
    loader_t *L = M->L;
    uint16_t type = (uint16_t)ldns_rr_get_type(rr);
    ldns_rdf *owner = ldns_rr_owner(rr);
    bool relative = ends_with_no_origin(M, owner);
    for (size_t i = 0; i < ldns_rr_rd_count(rr) && !relative; i++) {
        ldns_rdf *f = ldns_rr_rdf(rr, i);
        relative = ldns_rdf_get_type(f) == LDNS_RDF_TYPE_DNAME && ends_with_no_origin(M, f);
    }
    if (relative)
        return zl_fail(L, at,
                       "relative name without an origin: start the file with $ORIGIN <zone>. "
                       "or name it <zone>.zone");
    if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN)
        return zl_fail(L, at, "only class IN is served");
    if (!zl_type_storable(type))
        return zl_fail(L, at, "type %u is not a type that can be stored in a zone", type);
    /* The text check refuses these as written; this guards a TTL it could not place. */
    if (ldns_rr_ttl(rr) > 0x7FFFFFFFu)
        return zl_fail(L, at, "TTL %u is out of range (0 to 2147483647)", ldns_rr_ttl(rr));
    size_t olen = ldns_rdf_size(owner);
    uint8_t name[DNS_MAX_NAME];
    if (olen > DNS_MAX_NAME)
        return zl_fail(L, at, "owner name too long");
    memcpy(name, ldns_rdf_data(owner), olen);
    dns_name_lower(name, olen);
    if (!M->have_soa) {
        if (type != DNS_TYPE_SOA)
            return zl_fail(L, at, "the first record of a zone file must be its SOA");
        M->have_soa = true;
        zl_set_apex(L, name, olen);
    } else if (type == DNS_TYPE_SOA) {
        return zl_fail(L, at, "a second SOA record (the zone %s already has one)", L->apex_str);
    }
    if (!zl_name_below_or_at(name, olen, L->apex, L->apexlen)) {
        char s[DNS_NAME_TEXT_MAX];
        dns_name_to_str(name, s, sizeof(s));
        return zl_fail(L, at, "name %s is outside the zone %s", s, L->apex_str);
    }
    pending_node_t *n = zl_node_ensure(L, name, olen, at);
    if (!n)
        return -ENOMEM;
    return zl_add_rr(L, n, type, ldns_rr_ttl(rr), rr, at);
}

/* An owner ldns could not read, replaced at [tok, tok+toklen) by a placeholder of the same
 * length or less (blank-padded); the text is kept to be read once ldns has parsed the record. */
static int long_owner_replace(master_ctx_t *M, char *tok, size_t toklen)
{
    if (M->nlongs == M->caplongs) {
        size_t cap = M->caplongs ? 2 * M->caplongs : 8;
        long_owner_t *n = realloc(M->longs, cap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        M->longs = n;
        M->caplongs = cap;
    }
    long_owner_t *e = &M->longs[M->nlongs];
    if (!(e->text = strndup(tok, toklen)))
        return -ENOMEM;
    e->name = NULL;
    int w = snprintf(tok, toklen, "o%zu." MASTER_LONG_OWNER, M->nlongs);
    memset(tok + w, ' ', toklen - (size_t)w);
    M->nlongs++;
    return 0;
}

/* The long owner a placeholder's first label "o<N>" ([s, s+n)) names, or NULL. */
static long_owner_t *long_owner_of(const master_ctx_t *M, const char *s, size_t n)
{
    if (n < 2 || s[0] != 'o')
        return NULL;
    size_t idx = 0;
    for (size_t i = 1; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || (idx = idx * 10 + (size_t)(s[i] - '0')) >= M->nlongs)
            return NULL;
    }
    return &M->longs[idx];
}

/* A record whose owner is a placeholder gets its real owner back: read from the text the first
 * time (relative to the origin of that line, as ldns would), the same name for the records
 * that follow it without an owner of their own. */
static int long_owner_restore(master_ctx_t *M, ldns_rr *rr, const yt_node_t *at)
{
    ldns_rdf *owner = ldns_rr_owner(rr);
    const uint8_t *d = ldns_rdf_data(owner);
    size_t len = ldns_rdf_size(owner), pl = ldns_rdf_size(M->long_parent);
    long_owner_t *e =
        len == (size_t)d[0] + 1 + pl ? long_owner_of(M, (const char *)d + 1, d[0]) : NULL;
    if (!e || memcmp(d + 1 + d[0], ldns_rdf_data(M->long_parent), pl))
        return 0;
    if (!e->name) {
        ldns_rdf *n = NULL;
        ldns_status st = ldns_str2rdf_dname(&n, e->text);
        if (st == LDNS_STATUS_OK && !ldns_dname_str_absolute(e->text))
            st = M->origin ? ldns_dname_cat(n, M->origin) : LDNS_STATUS_ERR;
        if (st != LDNS_STATUS_OK) {
            ldns_rdf_deep_free(n);
            return zl_fail(M->L, at, "owner name '%.80s...' is not a domain name: %s", e->text,
                           ldns_get_errorstr_by_id(st));
        }
        e->name = n;
    }
    ldns_rdf *real = ldns_rdf_clone(e->name);
    if (!real)
        return -ENOMEM;
    ldns_rr_set_owner(rr, real);
    ldns_rdf_deep_free(owner);
    return 0;
}

/* The long owner whose placeholder starts the text at p (before end), or NULL. */
static const long_owner_t *long_owner_at(const master_ctx_t *M, const char *p, const char *end)
{
    static const char tail[] = "." MASTER_LONG_OWNER;
    const char *dot = memchr(p, '.', (size_t)(end - p));
    if (!dot || (size_t)(end - dot) < sizeof(tail) - 1 || memcmp(dot, tail, sizeof(tail) - 1))
        return NULL;
    return long_owner_of(M, p, (size_t)(dot - p));
}

/* RFC 1035 5.1 lets a record give its class before its TTL ("www IN 300 A ..."), which ldns
 * refuses: on a record's first line from p (just after its owner) to eol, "class ttl" is
 * rewritten in place as "ttl class", in the same bytes, so that lines and offsets stay. */
static void class_before_ttl(char *p, const char *eol)
{
    static const char stop[] = " \t\r;()\"";
    char *a = p;
    while (a < eol && (*a == ' ' || *a == '\t'))
        a++;
    char *ae = a;
    while (ae < eol && !strchr(stop, *ae))
        ae++;
    if (a == p || ae == a || !zl_is_class(a, (size_t)(ae - a)))
        return;
    char *b = ae;
    while (b < eol && (*b == ' ' || *b == '\t'))
        b++;
    if (b == ae || b >= eol || *b < '0' || *b > '9')
        return;
    char *be = b;
    while (be < eol && !strchr(stop, *be))
        be++;
    char tmp[96];
    size_t cl = (size_t)(ae - a), wl = (size_t)(b - ae), tl = (size_t)(be - b);
    if (cl + wl + tl > sizeof(tmp))
        return; /* ldns says what is wrong with a TTL that long */
    memcpy(tmp, a, cl + wl + tl);
    memcpy(a, tmp + cl + wl, tl);
    memcpy(a + tl, tmp + cl, wl);
    memcpy(a + tl + wl, tmp, cl);
}

/* Parse master-file text [buf, buf+len) that holds no $INCLUDE; first_line is its line number
 * in file. */
static int master_parse_chunk(master_ctx_t *M, const char *file, char *buf, size_t len,
                              unsigned first_line)
{
    FILE *fp = fmemopen(buf, len, "r");
    if (!fp)
        return -ENOMEM;
    int line = (int)first_line - 1, rc = 0;
    while (!feof(fp)) {
        ldns_rr *rr = NULL;
        long from = ftell(fp); /* the record's text, for the numbers ldns reads unchecked */
        ldns_status st = ldns_rr_new_frm_fp_l(&rr, fp, &M->ttl, &M->origin, &M->prev, &line);
        long to = ftell(fp);
        if (st == LDNS_STATUS_SYNTAX_EMPTY || st == LDNS_STATUS_SYNTAX_TTL ||
            st == LDNS_STATUS_SYNTAX_ORIGIN)
            continue;
        const yt_node_t *at = zl_loc(M->L, file, line > 0 ? (unsigned)line : 1);
        if (!at) {
            ldns_rr_free(rr);
            rc = -ENOMEM;
            break;
        }
        if (st != LDNS_STATUS_OK) {
            /* Quote the line where ldns stopped, so the reader sees what was refused. */
            const char *p = buf, *end = buf + len;
            for (int l = (int)first_line; l < line && p < end; l++) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                p = nl ? nl + 1 : end;
            }
            /* A long owner is quoted as written (its start), not as its placeholder. */
            const long_owner_t *lo = long_owner_at(M, p, end);
            size_t ll = lo ? strlen(lo->text) : 0;
            if (lo)
                p += (size_t)(end - p) < ll ? (size_t)(end - p) : ll;
            size_t ql = 0;
            while (p + ql < end && p[ql] != '\n' && p[ql] != '\r' && ql < 80)
                ql++;
            rc = zl_fail(M->L, at, "%s: '%.*s%s%.*s'", ldns_get_errorstr_by_id(st), lo ? 40 : 0,
                         lo ? lo->text : "", lo ? "..." : "", (int)ql, p);
            break;
        }
        rc = M->nlongs ? long_owner_restore(M, rr, at) : 0;
        if (!rc && from >= 0 && to >= from && (size_t)to <= len)
            rc = zl_check_record_text(M->L, at, buf + from, (size_t)(to - from), rr);
        if (!rc)
            rc = master_add(M, rr, at);
        ldns_rr_free(rr);
        if (rc)
            break;
    }
    fclose(fp);
    return rc;
}

/* Next blank-separated token of a directive line, quotes allowed; NUL-terminates it in place. */
static char *directive_token(char **p)
{
    char *s = *p;
    while (*s == ' ' || *s == '\t')
        s++;
    if (!*s || *s == ';')
        return NULL;
    char *tok = s;
    if (*s == '"') {
        tok = ++s;
        while (*s && *s != '"')
            s++;
    } else {
        while (*s && *s != ' ' && *s != '\t' && *s != ';')
            s++;
    }
    if (*s)
        *s++ = '\0';
    *p = s;
    return tok;
}

static int master_include(master_ctx_t *M, const char *file, unsigned line, char *args);

/* Read one file's text: split it at $INCLUDE lines (outside parentheses and quotes), check the
 * directives ldns would accept silently ($TTL values, unknown $ words) and line lengths, and
 * hand each run of lines to ldns. */
static int master_parse_text(master_ctx_t *M, const char *file, char *buf, size_t len)
{
    loader_t *L = M->L;
    size_t chunk = 0, pos = 0;
    unsigned line = 1, chunk_line = 1;
    int depth = 0;
    bool quote = false;
    unsigned open_line = 0;
    while (pos < len) {
        size_t eol = pos;
        while (eol < len && buf[eol] != '\n')
            eol++;
        if (eol - pos > MASTER_MAX_LINE)
            return zl_fail(L, zl_loc(L, file, line), "line longer than %u bytes", MASTER_MAX_LINE);
        if (memchr(buf + pos, '\0', eol - pos))
            return zl_fail(L, zl_loc(L, file, line), "NUL byte in a zone file");
        if (depth == 0 && !quote && buf[pos] == '$') {
            char dir[MASTER_MAX_DIRECTIVE + 1];
            if (eol - pos > MASTER_MAX_DIRECTIVE)
                return zl_fail(L, zl_loc(L, file, line), "directive longer than %u bytes",
                               MASTER_MAX_DIRECTIVE);
            memcpy(dir, buf + pos, eol - pos);
            dir[eol - pos] = '\0';
            if (eol - pos > 0 && dir[eol - pos - 1] == '\r')
                dir[eol - pos - 1] = '\0';
            char *args = dir, *word = directive_token(&args);
            if (word && !strcmp(word, "$INCLUDE")) {
                int rc = 0;
                if (pos > chunk)
                    rc = master_parse_chunk(M, file, buf + chunk, pos - chunk, chunk_line);
                if (!rc)
                    rc = master_include(M, file, line, args);
                if (rc)
                    return rc;
                chunk = eol < len ? eol + 1 : len;
                chunk_line = line + 1;
            } else if (word && !strcmp(word, "$TTL")) {
                char *v = directive_token(&args);
                uint32_t ttl;
                zl_num_t how = v ? zl_read_ttl(v, strlen(v), &ttl) : ZL_NUM_SYNTAX;
                if (how == ZL_NUM_RANGE)
                    return zl_fail(L, zl_loc(L, file, line),
                                   "$TTL %s is out of range (0 to 2147483647)", v);
                if (how != ZL_NUM_OK)
                    return zl_fail(L, zl_loc(L, file, line),
                                   "bad $TTL value '%s' (seconds, or units like 1h30m)",
                                   v ? v : "");
            } else if (!word || strcmp(word, "$ORIGIN")) {
                return zl_fail(L, zl_loc(L, file, line),
                               "unknown directive '%s' (only $ORIGIN, $TTL and $INCLUDE)",
                               word ? word : "$");
            }
        } else {
            if (depth == 0 && !quote) {
                /* A record's first line: its owner (the first token, if the line does not
                 * start blank), replaced if it is too long for ldns. */
                size_t i = pos;
                while (i < eol && !strchr(" \t\r;()\"", buf[i]))
                    i += buf[i] == '\\' && i + 1 < eol ? 2 : 1;
                class_before_ttl(buf + i, buf + eol);
                if (i - pos > MASTER_LONG_OWNER_MIN) {
                    int rc = long_owner_replace(M, buf + pos, i - pos);
                    if (rc)
                        return rc;
                }
            }
            /* Track parentheses and quotes so a '$' inside a multi-line record is data. */
            bool esc = false;
            for (size_t i = pos; i < eol; i++) {
                char c = buf[i];
                if (esc) {
                    esc = false;
                } else if (c == '\\') {
                    esc = true;
                } else if (c == '"') {
                    quote = !quote;
                    if (quote && depth == 0)
                        open_line = line;
                } else if (!quote && c == ';') {
                    break;
                } else if (!quote && c == '(') {
                    if (depth++ == 0)
                        open_line = line;
                } else if (!quote && c == ')' && depth > 0) {
                    depth--;
                }
            }
        }
        pos = eol + 1;
        line++;
    }
    if (depth > 0 || quote)
        return zl_fail(L, zl_loc(L, file, open_line), "%s opened here is never closed",
                       quote ? "a quote" : "a parenthesis");
    if (len > chunk)
        return master_parse_chunk(M, file, buf + chunk, len - chunk, chunk_line);
    return 0;
}

/* Read a whole regular file of at most MASTER_MAX_FILE bytes (NUL-terminated, malloc'd). Errors
 * name the $INCLUDE line `from`, or the file itself when it is the zone file. */
static int read_zone_text(loader_t *L, const char *path, const yt_node_t *from, char **out,
                          size_t *outlen)
{
    const char *why = NULL;
    char why_buf[64];
    uint64_t size = 0;
    int e;
    FILE *fp = file_fopen_regular(path, "r", MASTER_MAX_FILE, &size, &e, &why, why_buf);
    if (!fp) {
        if (e == -EFBIG)
            why = "larger than 2 GiB";
        if (from)
            return zl_fail(L, from, "cannot read %s: %s", path, why);
        snprintf(L->err, L->errlen, "%s: cannot read: %s", path, why);
        return -EINVAL;
    }
    char *buf = malloc((size_t)size + 1);
    if (!buf) {
        fclose(fp);
        return -ENOMEM;
    }
    size_t n = fread(buf, 1, (size_t)size, fp);
    fclose(fp);
    buf[n] = '\0';
    *out = buf;
    *outlen = n;
    return 0;
}

/* The origin argument of a $INCLUDE into *out (a new name the caller owns): absolute with a
 * final dot, else relative to the current origin (the root's "." included). Its text is built in
 * a buffer that holds any name, and a longer one is refused, never cut short. */
static int include_origin(master_ctx_t *M, const yt_node_t *at, const char *org, ldns_rdf **out)
{
    loader_t *L = M->L;
    size_t ol = strlen(org);
    char absname[DNS_NAME_TEXT_MAX];
    int w;
    *out = NULL;
    if (ol && org[ol - 1] == '.') {
        w = snprintf(absname, sizeof(absname), "%s", org);
    } else {
        /* The origin is never NULL while a file is read (the file's name or the no-origin
         * sentinel stands in); refuse rather than read a name that was never written. */
        if (!M->origin)
            return zl_fail(L, at, "$INCLUDE origin '%s' is relative and there is no origin", org);
        char *os = ldns_rdf2str(M->origin);
        if (!os)
            return -ENOMEM;
        w = snprintf(absname, sizeof(absname), "%s%s%s", org, strcmp(os, ".") ? "." : "", os);
        free(os);
    }
    /* The error echoes the first 80 characters: enough to find it, never a page of text. */
    const char *more = ol > 80 ? "..." : "";
    if (w < 0 || (size_t)w >= sizeof(absname))
        return zl_fail(L, at, "$INCLUDE origin '%.80s%s' is longer than a domain name", org, more);
    ldns_status st = ldns_str2rdf_dname(out, absname);
    if (st != LDNS_STATUS_OK || !*out) {
        *out = NULL;
        return zl_fail(L, at, "$INCLUDE origin '%.80s%s' is not a domain name: %s", org, more,
                       ldns_get_errorstr_by_id(st));
    }
    return 0;
}

/* $INCLUDE <file> [<origin>]: the file is resolved against the including file's directory; the
 * origin (if given) holds inside it only (RFC 1035 5.1). The file is reported to file_seen
 * before anything else can fail on it, so that the daemon watches it even when it is missing
 * or broken, and a fix reloads. */
static int master_include(master_ctx_t *M, const char *file, unsigned line, char *args)
{
    loader_t *L = M->L;
    const yt_node_t *at = zl_loc(L, file, line);
    if (!at)
        return -ENOMEM;
    if (!M->may_include)
        return zl_fail(L, at, "$INCLUDE needs a zone file on disk");
    char *name = directive_token(&args), *org = directive_token(&args);
    if (!name || !*name)
        return zl_fail(L, at, "$INCLUDE without a file name");
    if (M->depth >= MASTER_MAX_INCLUDE_DEPTH)
        return zl_fail(L, at, "$INCLUDE nested deeper than %u files", MASTER_MAX_INCLUDE_DEPTH);
    char path[PATH_MAX];
    if (name[0] == '/') {
        snprintf(path, sizeof(path), "%s", name);
    } else {
        char tmp[PATH_MAX];
        snprintf(tmp, sizeof(tmp), "%s", file);
        int w = snprintf(path, sizeof(path), "%s/%s", dirname(tmp), name);
        if (w < 0 || (size_t)w >= sizeof(path))
            return zl_fail(L, at, "$INCLUDE path too long");
    }
    int rc = M->file_seen ? M->file_seen(M->file_ctx, path) : 0;
    if (rc)
        return rc;
    char real[PATH_MAX];
    if (!realpath(path, real))
        return zl_fail(L, at, "cannot open %s: %s", path, strerror(errno));
    for (unsigned i = 0; i <= M->depth; i++)
        if (M->stack[i] && !strcmp(M->stack[i], real))
            return zl_fail(L, at, "$INCLUDE loop: %s includes itself", path);
    ldns_rdf *o = NULL;
    if (org) {
        rc = include_origin(M, at, org, &o);
        if (rc)
            return rc;
    }
    /* A copy: ldns frees and replaces M->origin when the included file says $ORIGIN. */
    ldns_rdf *saved = M->origin ? ldns_rdf_clone(M->origin) : NULL;
    if (M->origin && !saved) {
        ldns_rdf_deep_free(o);
        return -ENOMEM;
    }
    if (o) {
        ldns_rdf_deep_free(M->origin);
        M->origin = o;
    }
    const char *keep = arena_strdup(L->arena, path);
    const char *realkeep = arena_strdup(L->arena, real);
    char *text = NULL;
    size_t len = 0;
    rc = keep && realkeep ? read_zone_text(L, path, at, &text, &len) : -ENOMEM;
    if (!rc) {
        M->stack[++M->depth] = realkeep;
        rc = master_parse_text(M, keep, text, len);
        M->depth--;
    }
    free(text);
    ldns_rdf_deep_free(M->origin);
    M->origin = saved;
    return rc;
}

/* The origin implied by a file named <zone>.zone, or NULL. */
static ldns_rdf *origin_from_name(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t l = strlen(b);
    if (l <= 5 || strcmp(b + l - 5, ".zone"))
        return NULL;
    char s[DNS_NAME_TEXT_MAX];
    snprintf(s, sizeof(s), "%.*s.", (int)(l - 5), b);
    ldns_rdf *o = NULL;
    if (ldns_str2rdf_dname(&o, s) != LDNS_STATUS_OK)
        return NULL;
    return o;
}

int zone_master_load(const char *path, const char *buf, size_t len, arena_t *arena,
                     struct geo_ctx *geo, zone_file_seen_fn file_seen, void *file_ctx, zone_t **out,
                     char *err, size_t errlen)
{
    loader_t L;
    master_ctx_t M = {.L = &L,
                      .ttl = MASTER_DEFAULT_TTL,
                      .may_include = !buf,
                      .file_seen = file_seen,
                      .file_ctx = file_ctx};
    char *text = NULL;
    size_t tlen = 0;
    int rc = zl_init(&L, arena, path, err, errlen);
    M.origin = origin_from_name(path);
    if (!M.origin && ldns_str2rdf_dname(&M.origin, MASTER_NO_ORIGIN) != LDNS_STATUS_OK)
        M.origin = NULL;
    if (ldns_str2rdf_dname(&M.no_origin, MASTER_NO_ORIGIN) != LDNS_STATUS_OK)
        M.no_origin = NULL;
    if (ldns_str2rdf_dname(&M.long_parent, MASTER_LONG_OWNER) != LDNS_STATUS_OK)
        M.long_parent = NULL;
    if (rc || !M.origin || !M.no_origin || !M.long_parent) {
        rc = -ENOMEM;
        goto done;
    }
    if (buf) {
        text = malloc(len + 1);
        if (!text) {
            rc = -ENOMEM;
            goto done;
        }
        memcpy(text, buf, len);
        text[len] = '\0';
        tlen = len;
    } else if ((rc = read_zone_text(&L, path, NULL, &text, &tlen))) {
        goto done;
    }
    char real[PATH_MAX];
    M.stack[0] = buf ? NULL : arena_strdup(arena, realpath(path, real) ? real : path);
    if ((rc = master_parse_text(&M, path, text, tlen)))
        goto done;
    if (!M.have_soa) {
        snprintf(err, errlen, "%s: no records (a zone file starts with its SOA)", path);
        rc = -EINVAL;
        goto done;
    }
    rc = zl_assemble(&L, geo, out);
done:
    free(text);
    if (M.origin)
        ldns_rdf_deep_free(M.origin);
    if (M.prev)
        ldns_rdf_deep_free(M.prev);
    if (M.no_origin)
        ldns_rdf_deep_free(M.no_origin);
    if (M.long_parent)
        ldns_rdf_deep_free(M.long_parent);
    for (size_t i = 0; i < M.nlongs; i++) {
        free(M.longs[i].text);
        if (M.longs[i].name)
            ldns_rdf_deep_free(M.longs[i].name);
    }
    free(M.longs);
    zl_free(&L);
    return rc;
}
