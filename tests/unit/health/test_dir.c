/* test_dir.c: the health directory scan: which state files vote, and what is reported. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static void write_state(const char *dir, const char *file, const char *vantage)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "open %s", path);
    if (!f)
        return;
    fprintf(f,
            "{\"format\": \"geodns-health\", \"version\": 1, \"vantage\": \"%s\","
            " \"time\": 1764470000, \"pops\": {\"fra\": {\"state\": \"down\"}}}\n",
            vantage);
    fclose(f);
}

/* A copy of a vantage's file under another name (ams-old.json beside ams.json) is still that
 * one vantage: it must not cast a second vote, or one prober would meet a quorum of two alone. */
static void test_one_vote_per_vantage(const char *tmpdir)
{
    char dir[512], warn[WARN_MAX] = "", path[600];
    snprintf(dir, sizeof(dir), "%s/dir-XXXXXX", tmpdir);
    CHECK(mkdtemp(dir) != NULL, "mkdtemp %s", dir);
    write_state(dir, "ams.json", "ams");
    write_state(dir, "ams-old.json", "ams");
    write_state(dir, "sin.json", "sin");
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
    const char *names[] = {"ams.json", "ams-old.json", "sin.json"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

int main(int argc, char **argv)
{
    const char *tmpdir = argc > 1 ? argv[1] : "/tmp";
    test_one_vote_per_vantage(tmpdir);
    return check_report();
}
