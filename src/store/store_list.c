/* `loam list` and `loam rm`: the models of the cache, as huggingface-cli
 * scan-cache and delete-cache see them. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "loam_store.h"
#include "store/catalogue.h"
#include "store/hf_cache.h"
#include "store/hub.h"

/* Sums the blobs of a repo folder; latest access; any part left. */
static void scan_blobs(const char *repo_dir, loam_store_entry *e) {
    char path[STORE_PATH_MAX];
    snprintf(path, sizeof path, "%s/blobs", repo_dir);
    DIR *d = opendir(path);
    struct dirent *de;
    e->complete = 1;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char f[STORE_PATH_MAX];
        snprintf(f, sizeof f, "%s/%s", path, de->d_name);
        struct stat st;
        if (lstat(f, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        e->bytes += (uint64_t)st.st_size;
        if (strstr(de->d_name, ".incomplete")) e->complete = 0;
        else if (st.st_atime > e->last_used) e->last_used = st.st_atime;
    }
    if (d) closedir(d);
    snprintf(path, sizeof path, "%s/snapshots", repo_dir);
    d = opendir(path);
    while (d && (de = readdir(d)))
        if (de->d_name[0] != '.') e->n_revisions++;
    if (d) closedir(d);
}

static int by_repo(const void *a, const void *b) {
    return strcmp(((const loam_store_entry *)a)->repo, ((const loam_store_entry *)b)->repo);
}

loam_status loam_store_list(const loam_store_params *params, loam_store_entry **out, int *n_out, loam_error *err) {
    *out = NULL, *n_out = 0;
    loam_store_params dflt = loam_store_default_params();
    char cache[STORE_PATH_MAX];
    loam_status st = store_cache_dir(params ? params : &dflt, cache, sizeof cache, err);
    if (st != LOAM_OK) return st;
    DIR *d = opendir(cache);
    if (!d) return errno == ENOENT ? LOAM_OK : loam_fail(err, LOAM_E_IO, "cannot read the model store %s: %s", cache, strerror(errno));
    int cap = 0, n = 0;
    loam_store_entry *list = NULL;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, "models--", 8) != 0) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            loam_store_entry *g = realloc(list, (size_t)cap * sizeof *g);
            if (!g) {
                free(list), closedir(d);
                return loam_fail(err, LOAM_E_NOMEM, "out of memory");
            }
            list = g;
        }
        loam_store_entry *e = &list[n];
        memset(e, 0, sizeof *e);
        /* models--org--name -> org/name */
        snprintf(e->repo, sizeof e->repo, "%s", de->d_name + 8);
        char *sep = strstr(e->repo, "--");
        if (sep) memmove(sep + 1, sep + 2, strlen(sep + 2) + 1), *sep = '/';
        char repo_dir[STORE_PATH_MAX];
        snprintf(repo_dir, sizeof repo_dir, "%s/%s", cache, de->d_name);
        scan_blobs(repo_dir, e);
        n++;
    }
    closedir(d);
    if (n) qsort(list, (size_t)n, sizeof *list, by_repo);
    *out = list, *n_out = n;
    return LOAM_OK;
}

void loam_store_list_free(loam_store_entry *entries) { free(entries); }

/* Deletes a folder tree without following symlinks (snapshots are links). */
static int remove_tree(const char *path, uint64_t *freed, int depth) {
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
    if (S_ISDIR(st.st_mode) && depth < 32) {
        DIR *d = opendir(path);
        struct dirent *de;
        int rc = d ? 0 : -1;
        while (d && (de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
            char f[STORE_PATH_MAX];
            snprintf(f, sizeof f, "%s/%s", path, de->d_name);
            if (remove_tree(f, freed, depth + 1) != 0) rc = -1;
        }
        if (d) closedir(d);
        return rc == 0 && rmdir(path) == 0 ? 0 : -1;
    }
    if (S_ISREG(st.st_mode)) *freed += (uint64_t)st.st_size;
    return unlink(path);
}

loam_status loam_store_remove(const char *name, const loam_store_params *params, uint64_t *freed_bytes, loam_error *err) {
    loam_store_params dflt = loam_store_default_params();
    char cache[STORE_PATH_MAX], repo_dir[STORE_PATH_MAX], head[256], target[256];
    store_name sn;
    snprintf(head, sizeof head, "%s", name);
    head[strcspn(head, ":@")] = 0;
    cJSON *cat = NULL;
    if (!strchr(head, '/') && store_catalogue_load(&cat, NULL) == LOAM_OK && store_short_name(cat, name, target, sizeof target))
        name = target;
    cJSON_Delete(cat);
    loam_status st = store_parse_name(name, &sn, err);
    if (st == LOAM_OK) st = store_cache_dir(params ? params : &dflt, cache, sizeof cache, err);
    if (st == LOAM_OK) st = store_repo_dir(cache, sn.repo, repo_dir, sizeof repo_dir, err);
    if (st != LOAM_OK) return st;
    if (!store_exists(repo_dir)) return loam_fail(err, LOAM_E_IO, "%s is not in the model store (%s)", sn.repo, cache);
    uint64_t freed = 0;
    if (remove_tree(repo_dir, &freed, 0) != 0)
        return loam_fail(err, LOAM_E_IO, "could not remove all of %s: %s", repo_dir, strerror(errno));
    if (freed_bytes) *freed_bytes = freed;
    return LOAM_OK;
}
