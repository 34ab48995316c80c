/* What the file-reading fuzz targets share: a private scratch folder per
 * process, writing the input as a named file there, copying a fixture in. */
#ifndef LOAM_FUZZ_FILES_H
#define LOAM_FUZZ_FILES_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* /tmp/loam-fuzz-<name>-<pid>, made once (aborts when it cannot be: a
 * target that cannot write its file would test nothing). */
static const char *fuzz_dir(const char *name) {
    static char dir[128];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/loam-fuzz-%s-%d", name, (int)getpid());
        if (mkdir(dir, 0700) != 0 && access(dir, W_OK) != 0) abort();
    }
    return dir;
}

/* Writes data as dir/file and returns the path (static storage). */
static const char *fuzz_write(const char *dir, const char *file, const uint8_t *data, size_t size) {
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) abort();
    return path;
}

/* Copies $LOAM_FIXTURES/rel (default ../shared/fixtures) to dir/file. */
static void fuzz_copy_fixture(const char *rel, const char *dir, const char *file) {
    const char *fx = getenv("LOAM_FIXTURES");
    char from[1024];
    snprintf(from, sizeof from, "%s/%s", fx ? fx : "../shared/fixtures", rel);
    FILE *in = fopen(from, "rb");
    if (!in) {
        fprintf(stderr, "fuzz: cannot read the fixture %s (set LOAM_FIXTURES)\n", from);
        abort();
    }
    char to[256];
    snprintf(to, sizeof to, "%s/%s", dir, file);
    FILE *out = fopen(to, "wb");
    if (!out) abort();
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n) abort();
    fclose(in);
    if (fclose(out) != 0) abort();
}

#endif
