/* The store's public calls: plan and pull through the hub client, resolve,
 * list and remove in the cache. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "loam_store.h"
#include "store/catalogue.h"
#include "store/download.h"
#include "store/hf_cache.h"
#include "store/hub.h"

loam_store_params loam_store_default_params(void) {
    loam_store_params p;
    memset(&p, 0, sizeof p);
    return p;
}

/* A hub id as given, or what a short name of the catalogue stands for. */
static loam_status resolve_name(const char *name, store_name *out, loam_error *err) {
    char head[256];
    snprintf(head, sizeof head, "%s", name);
    head[strcspn(head, ":@")] = 0;
    if (!strchr(head, '/')) {
        cJSON *cat;
        loam_status st = store_catalogue_load(&cat, err);
        if (st != LOAM_OK) return st;
        char target[256];
        int found = store_short_name(cat, name, target, sizeof target);
        cJSON_Delete(cat);
        if (found) return store_parse_name(target, out, err);
    }
    return store_parse_name(name, out, err);
}

static int is_gguf(const char *p) {
    size_t n = strlen(p);
    return n > 5 && !strcasecmp(p + n - 5, ".gguf");
}

/* The path a plan's files are opened by: the (first) GGUF, else the folder. */
static void model_path(const char *snapshot, const store_file *files, int n, char *out, size_t len) {
    for (int i = 0; i < n; i++) {
        const char *b = strrchr(files[i].path, '/');
        b = b ? b + 1 : files[i].path;
        if (is_gguf(files[i].path) && (!strstr(b, "-of-") || strstr(b, "-00001-of-"))) {
            snprintf(out, len, "%s/%s", snapshot, files[i].path);
            return;
        }
    }
    snprintf(out, len, "%s", snapshot);
}

typedef struct {
    store_name name;
    store_repo_info info;
    char cache[STORE_PATH_MAX], repo_dir[STORE_PATH_MAX], endpoint[1024], token[1024];
} plan_state;

static loam_status plan(const char *name, const loam_store_params *p, plan_state *s, loam_pull_plan *out, loam_error *err) {
    memset(out, 0, sizeof *out);
    loam_status st = resolve_name(name, &s->name, err);
    if (st == LOAM_OK) st = store_cache_dir(p, s->cache, sizeof s->cache, err);
    if (st == LOAM_OK) st = store_repo_dir(s->cache, s->name.repo, s->repo_dir, sizeof s->repo_dir, err);
    if (st != LOAM_OK) return st;
    store_endpoint(p, s->endpoint, sizeof s->endpoint);
    store_token(p, s->token, sizeof s->token);
    st = store_repo_info_get(s->endpoint, s->token, &s->name, &s->info, err);
    if (st == LOAM_OK) st = store_select_files(&s->info, &s->name, err);
    if (st != LOAM_OK) {
        store_repo_info_free(&s->info);
        return st;
    }
    snprintf(out->repo, sizeof out->repo, "%s", s->name.repo);
    snprintf(out->revision, sizeof out->revision, "%s", s->name.revision);
    snprintf(out->commit, sizeof out->commit, "%s", s->info.commit);
    out->n_files = s->info.n_files;
    for (int i = 0; i < s->info.n_files; i++) {
        out->total_bytes += s->info.files[i].size;
        out->missing_bytes += store_missing_bytes(s->repo_dir, &s->info.files[i]);
    }
    char snapshot[STORE_PATH_MAX];
    snprintf(snapshot, sizeof snapshot, "%s/snapshots/%s", s->repo_dir, s->info.commit);
    model_path(snapshot, s->info.files, s->info.n_files, out->path, sizeof out->path);
    return LOAM_OK;
}

loam_status loam_pull_plan_get(const char *name, const loam_store_params *params, loam_pull_plan *out, loam_error *err) {
    loam_store_params dflt = loam_store_default_params();
    plan_state s;
    memset(&s, 0, sizeof s);
    loam_status st = plan(name, params ? params : &dflt, &s, out, err);
    store_repo_info_free(&s.info);
    return st;
}

static void human(uint64_t b, char *buf, size_t n) {
    if (b >= (1ull << 30)) snprintf(buf, n, "%.2f GiB", (double)b / (1ull << 30));
    else snprintf(buf, n, "%.1f MiB", (double)b / (1 << 20));
}

loam_status loam_pull(const char *name, const loam_store_params *params, char *path_out, size_t path_len, loam_error *err) {
    loam_store_params dflt = loam_store_default_params();
    const loam_store_params *p = params ? params : &dflt;
    plan_state s;
    memset(&s, 0, sizeof s);
    loam_pull_plan pl;
    loam_status st = plan(name, p, &s, &pl, err);
    if (st != LOAM_OK) return st;
    /* the whole download must fit, with room to spare for the file system */
    uint64_t free_bytes = store_free_bytes(s.repo_dir), margin = pl.missing_bytes / 100 + (16u << 20);
    if (pl.missing_bytes > 0 && free_bytes < pl.missing_bytes + margin) {
        char need[32], have[32];
        human(pl.missing_bytes + margin, need, sizeof need);
        human(free_bytes, have, sizeof have);
        st = loam_fail(err, LOAM_E_IO, "%s: not enough free disk in %s: the download needs %s, %s are free", pl.repo, s.cache,
                       need, have);
    }
    if (st == LOAM_OK) st = store_make_parents(s.repo_dir, err);
    if (st == LOAM_OK && mkdir(s.repo_dir, 0755) != 0 && errno != EEXIST)
        st = loam_fail(err, LOAM_E_IO, "cannot create %s: %s", s.repo_dir, strerror(errno));
    if (st == LOAM_OK) {
        store_download_job job = {.endpoint = s.endpoint, .repo = s.name.repo, .commit = s.info.commit,
                                  .repo_dir = s.repo_dir, .token = s.token, .params = p};
        st = store_download(&job, s.info.files, s.info.n_files, err);
    }
    /* the ref is written last: a revision names a snapshot only when it is whole */
    if (st == LOAM_OK) st = store_write_ref(s.repo_dir, s.name.revision, s.info.commit, err);
    if (st == LOAM_OK) snprintf(path_out, path_len, "%s", pl.path);
    store_repo_info_free(&s.info);
    return st;
}

/* ----------------------------------------------------------- the cache */

/* The first GGUF (first part of a split one) under dir matching quant ("" =
 * the only GGUF there), searched a few folders deep. */
static int find_gguf(const char *dir, const char *quant, int depth, char *out, size_t n, int *count) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    char path[STORE_PATH_MAX];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth > 0) find_gguf(path, quant, depth - 1, out, n, count);
        } else if (is_gguf(e->d_name) && (!quant[0] || store_gguf_name_matches(e->d_name, quant)) &&
                   (!strstr(e->d_name, "-of-") || strstr(e->d_name, "-00001-of-"))) {
            if (!(*count)++) snprintf(out, n, "%s", path);
        }
    }
    closedir(d);
    return *count;
}

/* Marks each file of a snapshot as read now (its blob's access time, which
 * `loam list` reports as last used, as huggingface-cli scan-cache does). */
static void touch_used(const char *path) {
    struct timespec t[2] = {{.tv_nsec = UTIME_NOW}, {.tv_nsec = UTIME_OMIT}};
    struct stat st;
    if (stat(path, &st) != 0) return;
    if (!S_ISDIR(st.st_mode)) {
        utimensat(AT_FDCWD, path, t, 0);
        return;
    }
    DIR *d = opendir(path);
    struct dirent *e;
    char f[STORE_PATH_MAX];
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(f, sizeof f, "%s/%s", path, e->d_name);
        utimensat(AT_FDCWD, f, t, 0);
    }
    if (d) closedir(d);
}

/* A name the store stands for: a hub id ("org/name", nothing before it,
 * no file suffix) or a short name of the catalogue. Anything else is a
 * path, left to the loaders (whose errors name the file). */
static int store_name_like(const char *name) {
    char head[256];
    snprintf(head, sizeof head, "%s", name);
    head[strcspn(head, ":@")] = 0;
    const char *slash = strchr(head, '/');
    if (head[0] == '/' || head[0] == '.' || head[0] == '~' || (slash && strchr(slash + 1, '/'))) return 0;
    size_t n = strlen(head);
    static const char *suffixes[] = {".gguf", ".safetensors", ".json", ".bin", ".model", NULL};
    for (int i = 0; suffixes[i]; i++) {
        size_t m = strlen(suffixes[i]);
        if (n > m && !strcasecmp(head + n - m, suffixes[i])) return 0;
    }
    if (slash) return 1;
    cJSON *cat;
    if (store_catalogue_load(&cat, NULL) != LOAM_OK) return 0;
    char target[256];
    int found = store_short_name(cat, name, target, sizeof target);
    cJSON_Delete(cat);
    return found;
}

loam_status loam_store_resolve(const char *name, const loam_store_params *params, char *path_out, size_t path_len,
                               loam_error *err) {
    if (store_exists(name) || !store_name_like(name)) {
        snprintf(path_out, path_len, "%s", name);
        return LOAM_OK;
    }
    loam_store_params dflt = loam_store_default_params();
    store_name sn;
    char cache[STORE_PATH_MAX], repo_dir[STORE_PATH_MAX], commit[80], snap[STORE_PATH_MAX];
    loam_status st = resolve_name(name, &sn, err);
    if (st == LOAM_OK) st = store_cache_dir(params ? params : &dflt, cache, sizeof cache, err);
    if (st == LOAM_OK) st = store_repo_dir(cache, sn.repo, repo_dir, sizeof repo_dir, err);
    if (st != LOAM_OK) return st;
    store_read_ref(repo_dir, sn.revision, commit, sizeof commit);
    if (!commit[0]) return loam_fail(err, LOAM_E_IO, "%s is not in the model store (%s): `loam pull %s` fetches it", name, cache, name);
    snprintf(snap, sizeof snap, "%s/snapshots/%s", repo_dir, commit);
    char found[STORE_PATH_MAX], probe[STORE_PATH_MAX];
    int count = 0;
    snprintf(probe, sizeof probe, "%s/config.json", snap);
    int folder = !sn.quant[0] && (store_exists(probe) || (snprintf(probe, sizeof probe, "%s/model_index.json", snap), store_exists(probe)));
    if (folder) snprintf(found, sizeof found, "%s", snap);
    else if (find_gguf(snap, sn.quant, 3, found, sizeof found, &count) != 1)
        return loam_fail(err, LOAM_E_IO, "%s: the store's snapshot %s holds %s: `loam pull %s` fetches it", name, snap,
                         count ? "several GGUF files (name a quantization)" : "no model", name);
    touch_used(found);
    snprintf(path_out, path_len, "%s", found);
    return LOAM_OK;
}
