#include "core/mapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

loam_status loam_mapfile_open(loam_mapfile *m, const char *path, loam_error *err) {
    memset(m, 0, sizeof *m);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return loam_fail(err, LOAM_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return loam_fail(err, LOAM_E_IO, "%s: not a regular file", path);
    }
    m->size = (uint64_t)st.st_size;
    if (m->size > 0) {
        void *p = mmap(NULL, (size_t)m->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            close(fd);
            return loam_fail(err, LOAM_E_IO, "%s: cannot map: %s", path, strerror(errno));
        }
        m->data = p;
    }
    close(fd);
    m->path = strdup(path);
    if (!m->path) {
        loam_mapfile_close(m);
        return loam_fail(err, LOAM_E_NOMEM, "%s: out of memory", path);
    }
    return LOAM_OK;
}

void loam_mapfile_close(loam_mapfile *m) {
    if (m->data) munmap((void *)m->data, (size_t)m->size);
    free(m->path);
    memset(m, 0, sizeof *m);
}

loam_status loam_read_file(const char *path, uint64_t max_size, char **out, uint64_t *out_size,
                           loam_error *err) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return loam_fail(err, LOAM_E_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (len + 1 >= cap) {
            if (cap > max_size) {
                free(buf);
                fclose(f);
                return loam_fail(err, LOAM_E_FORMAT, "%s: larger than %llu bytes", path,
                                 (unsigned long long)max_size);
            }
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0) break;
    }
    int read_error = ferror(f);
    fclose(f);
    if (!buf) return loam_fail(err, LOAM_E_NOMEM, "%s: out of memory", path);
    if (read_error) {
        free(buf);
        return loam_fail(err, LOAM_E_IO, "%s: read error", path);
    }
    if (len > max_size) {
        free(buf);
        return loam_fail(err, LOAM_E_FORMAT, "%s: larger than %llu bytes", path, (unsigned long long)max_size);
    }
    buf[len] = 0;
    *out = buf;
    if (out_size) *out_size = len;
    return LOAM_OK;
}

int loam_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

char *loam_path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    size_t at = a;
    if (a > 0 && dir[a - 1] != '/') p[at++] = '/';
    memcpy(p + at, name, b + 1);
    return p;
}
