/* test_dir.c: the health directory scan: which state files vote, and what is reported. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "health.h"

#define WARN_MAX 2048

/* The warnings of one scan, joined by newlines. */
static void collect(void *ctx, const char *msg)
{
    char *all = ctx;
    size_t used = strlen(all);
    snprintf(all + used, WARN_MAX - used, "%s\n", msg);
}

static void write_state_at(const char *dir, const char *file, const char *vantage, long t)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "open %s", path);
    if (!f)
        return;
    fprintf(f,
            "{\"format\": \"geodns-health\", \"version\": 1, \"vantage\": \"%s\","
            " \"time\": %ld, \"pops\": {\"fra\": {\"state\": \"down\"}}}\n",
            vantage, t);
    fclose(f);
}

static void write_state(const char *dir, const char *file, const char *vantage)
{
    write_state_at(dir, file, vantage, 1764470000);
}

/* A new directory under tmpdir (dir: 512 bytes) with ams.json and sin.json. */
static void make_dir(const char *tmpdir, char *dir)
{
    snprintf(dir, 512, "%s/dir-XXXXXX", tmpdir);
    CHECK(mkdtemp(dir) != NULL, "mkdtemp %s", dir);
    write_state(dir, "ams.json", "ams");
    write_state(dir, "sin.json", "sin");
}

/* Remove what make_dir made, and extra (a file name) when not NULL. */
static void remove_dir(const char *dir, const char *extra)
{
    const char *names[] = {"ams.json", "sin.json", extra};
    char path[600];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!names[i])
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* A copy of a vantage's file under another name (ams-old.json beside ams.json) is still that
 * one vantage: it must not cast a second vote, or one prober would meet a quorum of two alone. */
static void test_one_vote_per_vantage(const char *tmpdir)
{
    char dir[512], warn[WARN_MAX] = "";
    make_dir(tmpdir, dir);
    write_state(dir, "ams-old.json", "ams");
    health_dir_t *hd = health_dir_new();
    const health_file_t *const *files = NULL;
    int64_t t0 = (int64_t)time(NULL);
    size_t n = health_dir_scan(hd, dir, collect, warn, &files);
    int64_t t1 = (int64_t)time(NULL);
    CHECK(n == 2, "2 vantages vote, not %zu", n);
    /* Each file is stamped with when it was read: a reading is dated no later than that. */
    for (size_t i = 0; i < n; i++)
        CHECK(files[i]->seen >= t0 && files[i]->seen <= t1, "read at %lld, within [%lld, %lld]",
              (long long)files[i]->seen, (long long)t0, (long long)t1);
    for (size_t i = 0; i < n; i++)
        CHECK(strcmp(files[i]->vantage, "ams") || i == 0, "ams votes once");
    CHECK(n >= 2 && !strcmp(files[0]->vantage, "ams") && !strcmp(files[1]->vantage, "sin"),
          "ams.json and sin.json vote");
    CHECK(strstr(warn, "ams-old.json") && strstr(warn, "written by vantage 'ams'") &&
              strstr(warn, "ignored"),
          "the misnamed file is reported: '%s'", warn);
    /* Reported once, not at every scan. */
    warn[0] = '\0';
    n = health_dir_scan(hd, dir, collect, warn, &files);
    CHECK(n == 2 && warn[0] == '\0', "quiet on the next scan: %zu '%s'", n, warn);
    health_dir_free(hd);
    remove_dir(dir, "ams-old.json");
}

/* Out of descriptors while scanning: not the directory's fault, and passing. The states read
 * before stay in use (they were all dropped, the startup policy applying to every PoP), this is
 * said once, and the files are read as they are once descriptors are back. */
static void test_out_of_descriptors(const char *tmpdir)
{
    char dir[512], warn[WARN_MAX] = "";
    make_dir(tmpdir, dir);
    health_dir_t *hd = health_dir_new();
    const health_file_t *const *files = NULL;
    size_t n = health_dir_scan(hd, dir, collect, warn, &files);
    CHECK(n == 2, "2 vantages before, not %zu", n);
    write_state_at(dir, "sin.json", "sin", 1764470100); /* a new round of sin's */

    /* Take every descriptor left under a low limit. */
    struct rlimit was;
    CHECK(getrlimit(RLIMIT_NOFILE, &was) == 0, "getrlimit");
    struct rlimit low = was;
    low.rlim_cur = 64;
    CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0, "setrlimit");
    int held[64], nheld = 0;
    for (int fd; nheld < 64 && (fd = open("/dev/null", O_RDONLY)) >= 0;)
        held[nheld++] = fd;
    warn[0] = '\0';
    n = health_dir_scan(hd, dir, collect, warn, &files);
    CHECK(n == 2 && !strcmp(files[0]->vantage, "ams") && !strcmp(files[1]->vantage, "sin") &&
              files[1]->time == 1764470000,
          "out of descriptors: the 2 states read before stay in use (%zu)", n);
    CHECK(strstr(warn, "Too many open files") && strstr(warn, "stay in use"),
          "said, with what it does: '%s'", warn);
    warn[0] = '\0';
    n = health_dir_scan(hd, dir, collect, warn, &files);
    CHECK(n == 2 && warn[0] == '\0', "said once: %zu '%s'", n, warn);
    while (nheld)
        close(held[--nheld]);
    CHECK(setrlimit(RLIMIT_NOFILE, &was) == 0, "setrlimit back");

    warn[0] = '\0';
    n = health_dir_scan(hd, dir, collect, warn, &files);
    CHECK(n == 2 && files[1]->time == 1764470100, "descriptors back: sin's new round is read (%zu)",
          n);
    CHECK(warn[0] == '\0', "quietly: '%s'", warn);
    health_dir_free(hd);
    remove_dir(dir, NULL);
}

int main(int argc, char **argv)
{
    const char *tmpdir = argc > 1 ? argv[1] : "/tmp";
    test_one_vote_per_vantage(tmpdir);
    test_out_of_descriptors(tmpdir);
    return check_report();
}
