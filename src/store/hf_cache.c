#include "store/hf_cache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "core/error.h"

static const char *env_nonempty(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

loam_status store_cache_dir(const loam_store_params *p, char *out, size_t n, loam_error *err) {
    const char *v;
    int w;
    if (p && p->cache_dir && *p->cache_dir) w = snprintf(out, n, "%s", p->cache_dir);
    else if ((v = env_nonempty("HF_HUB_CACHE"))) w = snprintf(out, n, "%s", v);
    else if ((v = env_nonempty("HF_HOME"))) w = snprintf(out, n, "%s/hub", v);
    else if ((v = env_nonempty("XDG_CACHE_HOME"))) w = snprintf(out, n, "%s/huggingface/hub", v);
    else if ((v = env_nonempty("HOME"))) w = snprintf(out, n, "%s/.cache/huggingface/hub", v);
    else return loam_fail(err, LOAM_E_ARG, "no model cache: set HF_HUB_CACHE, HF_HOME or HOME");
    /* capped well below n: every path under it (repo, blobs, snapshot and
     * a file name of the hub's 512) then fits its buffer */
    if (w < 0 || (size_t)w >= n || w > 2048) return loam_fail(err, LOAM_E_ARG, "the model cache path is too long (over 2048 bytes)");
    return LOAM_OK;
}

/* huggingface_hub: HF_TOKEN when set and not empty, else the token file
 * ($HF_TOKEN_PATH, $HF_HOME/token, ~/.cache/huggingface/token). */
void store_token(const loam_store_params *p, char *out, size_t n) {
    out[0] = 0;
    if (p && p->token) {
        snprintf(out, n, "%s", p->token);
        return;
    }
    const char *v = env_nonempty("HF_TOKEN");
    if (v) {
        snprintf(out, n, "%s", v);
        return;
    }
    char path[STORE_PATH_MAX];
    if ((v = env_nonempty("HF_TOKEN_PATH"))) snprintf(path, sizeof path, "%s", v);
    else if ((v = env_nonempty("HF_HOME"))) snprintf(path, sizeof path, "%s/token", v);
    else if ((v = env_nonempty("XDG_CACHE_HOME"))) snprintf(path, sizeof path, "%s/huggingface/token", v);
    else if ((v = env_nonempty("HOME"))) snprintf(path, sizeof path, "%s/.cache/huggingface/token", v);
    else return;
    FILE *f = fopen(path, "r");
    if (!f) return;
    if (!fgets(out, (int)n, f)) out[0] = 0;
    fclose(f);
    out[strcspn(out, " \t\r\n")] = 0; /* the file holds the token and maybe a newline */
}

void store_endpoint(const loam_store_params *p, char *out, size_t n) {
    const char *v = p && p->endpoint && *p->endpoint ? p->endpoint : env_nonempty("HF_ENDPOINT");
    snprintf(out, n, "%s", v ? v : "https://huggingface.co");
    size_t len = strlen(out);
    while (len > 0 && out[len - 1] == '/') out[--len] = 0;
}

/* A repo id is "org/name" (or a bare "name" of the hub's old canonical
 * models) of letters, digits, '-', '_', '.', never ".." — it becomes a
 * path and part of a URL. */
static int repo_id_ok(const char *repo) {
    int slashes = 0;
    size_t len = strlen(repo);
    if (len == 0 || len > 96 || repo[0] == '/' || repo[len - 1] == '/' || strstr(repo, "..") || strstr(repo, "--"))
        return 0;
    for (const char *c = repo; *c; c++) {
        if (*c == '/') slashes++;
        else if (!(*c >= 'a' && *c <= 'z') && !(*c >= 'A' && *c <= 'Z') && !(*c >= '0' && *c <= '9') && *c != '-' &&
                 *c != '_' && *c != '.')
            return 0;
    }
    return slashes <= 1 && repo[0] != '.';
}

loam_status store_repo_dir(const char *cache, const char *repo, char *out, size_t n, loam_error *err) {
    if (!repo_id_ok(repo)) return loam_fail(err, LOAM_E_ARG, "\"%s\" is not a hub repo id (org/name)", repo);
    int w = snprintf(out, n, "%s/models--", cache);
    for (const char *c = repo; *c && w > 0 && (size_t)w + 3 < n; c++) {
        if (*c == '/') out[w++] = '-', out[w++] = '-';
        else out[w++] = *c;
    }
    if (w < 0 || (size_t)w + 3 >= n) return loam_fail(err, LOAM_E_ARG, "the cache path of %s is too long", repo);
    out[w] = 0;
    return LOAM_OK;
}

static int hex_id(const char *s) {
    size_t n = strlen(s);
    if (n != 40 && n != 64) return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'))) return 0;
    return 1;
}

void store_read_ref(const char *repo_dir, const char *revision, char *commit, size_t n) {
    commit[0] = 0;
    char path[STORE_PATH_MAX];
    if (strchr(revision, '.') || strchr(revision, '/') == revision) return;
    snprintf(path, sizeof path, "%s/refs/%s", repo_dir, revision);
    FILE *f = fopen(path, "r");
    if (f) {
        if (!fgets(commit, (int)n, f)) commit[0] = 0;
        fclose(f);
        commit[strcspn(commit, " \t\r\n")] = 0;
        if (!hex_id(commit)) commit[0] = 0;
        return;
    }
    struct stat st;
    snprintf(path, sizeof path, "%s/snapshots/%s", repo_dir, revision);
    if (hex_id(revision) && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) snprintf(commit, n, "%s", revision);
}

loam_status store_make_parents(const char *path, loam_error *err) {
    char buf[STORE_PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *s = buf + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) return loam_fail(err, LOAM_E_IO, "cannot create %s: %s", buf, strerror(errno));
        *s = '/';
    }
    return LOAM_OK;
}

loam_status store_write_ref(const char *repo_dir, const char *revision, const char *commit, loam_error *err) {
    if (!strcmp(revision, commit)) return LOAM_OK; /* a commit needs no ref */
    char path[STORE_PATH_MAX], tmp[STORE_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/refs/%s", repo_dir, revision);
    snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
    loam_status st = store_make_parents(path, err);
    if (st != LOAM_OK) return st;
    FILE *f = fopen(tmp, "w");
    int ok = f && fputs(commit, f) >= 0;
    ok = f && fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return loam_fail(err, LOAM_E_IO, "cannot write %s: %s", path, strerror(errno));
    }
    return LOAM_OK;
}

loam_status store_link_snapshot(const char *repo_dir, const char *commit, const char *rfilename, const char *etag,
                                loam_error *err) {
    char link[STORE_PATH_MAX], target[STORE_PATH_MAX];
    snprintf(link, sizeof link, "%s/snapshots/%s/%s", repo_dir, commit, rfilename);
    loam_status st = store_make_parents(link, err);
    if (st != LOAM_OK) return st;
    /* ../../ out of snapshots/<commit>, one more ../ per folder of rfilename */
    int w = snprintf(target, sizeof target, "../../");
    for (const char *c = rfilename; *c; c++)
        if (*c == '/') w += snprintf(target + w, sizeof target - (size_t)w, "../");
    snprintf(target + w, sizeof target - (size_t)w, "blobs/%s", etag);
    unlink(link);
    if (symlink(target, link) != 0) return loam_fail(err, LOAM_E_IO, "cannot link %s: %s", link, strerror(errno));
    return LOAM_OK;
}

int store_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int64_t store_file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

uint64_t store_free_bytes(const char *path) {
    char buf[STORE_PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    struct statvfs vs;
    while (statvfs(buf, &vs) != 0) {
        char *slash = strrchr(buf, '/');
        if (!slash || slash == buf) {
            if (statvfs("/", &vs) != 0) return 0;
            break;
        }
        *slash = 0;
    }
    return (uint64_t)vs.f_bavail * (uint64_t)vs.f_frsize;
}
