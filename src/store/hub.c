/* The hub's file list and the choice of files. Everything here comes from
 * a server: names become paths only after store_path_ok, sizes and digests
 * are checked for their shape. */
#include "store/hub.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"

#define API_MAX_BYTES (32u << 20) /* a repo of tens of thousands of files */

loam_status store_parse_name(const char *name, store_name *out, loam_error *err) {
    memset(out, 0, sizeof *out);
    snprintf(out->revision, sizeof out->revision, "main");
    char buf[256];
    if (strlen(name) >= sizeof buf) return loam_fail(err, LOAM_E_ARG, "model name too long: %.64s...", name);
    snprintf(buf, sizeof buf, "%s", name);
    char *at = strchr(buf, '@');
    if (at) {
        *at = 0;
        if (!at[1] || strlen(at + 1) >= sizeof out->revision || strstr(at + 1, "..") || at[1] == '/')
            return loam_fail(err, LOAM_E_ARG, "\"%s\": bad revision after '@'", name);
        for (const char *c = at + 1; *c; c++)
            if (!isalnum((unsigned char)*c) && !strchr("-_./", *c)) return loam_fail(err, LOAM_E_ARG, "\"%s\": bad revision after '@'", name);
        snprintf(out->revision, sizeof out->revision, "%s", at + 1);
    }
    char *colon = strchr(buf, ':');
    if (colon) {
        *colon = 0;
        if (!colon[1] || strlen(colon + 1) >= sizeof out->quant) return loam_fail(err, LOAM_E_ARG, "\"%s\": bad quantization after ':'", name);
        for (const char *c = colon + 1; *c; c++)
            if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-') return loam_fail(err, LOAM_E_ARG, "\"%s\": bad quantization after ':'", name);
        snprintf(out->quant, sizeof out->quant, "%s", colon + 1);
    }
    if (!strchr(buf, '/') || strlen(buf) >= sizeof out->repo)
        return loam_fail(err, LOAM_E_ARG, "\"%s\" is neither a file, a folder, a hub id (org/name) nor a short name loam knows", name);
    snprintf(out->repo, sizeof out->repo, "%s", buf);
    return LOAM_OK;
}

/* A relative path of ordinary characters, no "." or ".." component, no
 * absolute path, no backslash: safe to create under the snapshot folder. */
static int path_ok(const char *p) {
    size_t n = strlen(p);
    if (n == 0 || n >= sizeof(((store_file *)0)->path) || p[0] == '/' || p[n - 1] == '/') return 0;
    for (const char *c = p; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == '\\' || *c == 0x7f) return 0;
    for (const char *s = p; s;) {
        const char *e = strchr(s, '/');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == 0 || (len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.')) return 0;
        s = e ? e + 1 : NULL;
    }
    return 1;
}

static int hex_of_len(const char *s, size_t want) {
    if (!s || strlen(s) != want) return 0;
    for (; *s; s++)
        if (!isxdigit((unsigned char)*s)) return 0;
    return 1;
}

static void lower(char *s) {
    for (; *s; s++) *s = (char)tolower((unsigned char)*s);
}

static int size_of(const cJSON *item, uint64_t *out) {
    /* a JSON number: exact integers up to 2^53 */
    if (!cJSON_IsNumber(item) || item->valuedouble < 0 || item->valuedouble > 9007199254740992.0 ||
        item->valuedouble != (double)(uint64_t)item->valuedouble)
        return 0;
    *out = (uint64_t)item->valuedouble;
    return 1;
}

static loam_status parse_sibling(const cJSON *s, const char *repo, store_file *f, loam_error *err) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(s, "rfilename");
    const cJSON *blob = cJSON_GetObjectItemCaseSensitive(s, "blobId");
    const cJSON *lfs = cJSON_GetObjectItemCaseSensitive(s, "lfs");
    if (!cJSON_IsString(name) || !path_ok(name->valuestring))
        return loam_fail(err, LOAM_E_FORMAT, "hub file list of %s: a file name that is not a safe relative path", repo);
    snprintf(f->path, sizeof f->path, "%s", name->valuestring);
    if (cJSON_IsObject(lfs)) {
        const cJSON *sha = cJSON_GetObjectItemCaseSensitive(lfs, "sha256");
        if (!cJSON_IsString(sha) || !hex_of_len(sha->valuestring, 64) ||
            !size_of(cJSON_GetObjectItemCaseSensitive(lfs, "size"), &f->size))
            return loam_fail(err, LOAM_E_FORMAT, "hub file list of %s: %s has no valid lfs sha256 and size", repo, f->path);
        f->lfs = 1;
        snprintf(f->digest, sizeof f->digest, "%s", sha->valuestring);
    } else if (!blob && !cJSON_GetObjectItemCaseSensitive(s, "size")) {
        f->digest[0] = 0; /* a bare name: sizes and digests come from the tree listing */
    } else {
        if (!cJSON_IsString(blob) || !hex_of_len(blob->valuestring, 40) ||
            !size_of(cJSON_GetObjectItemCaseSensitive(s, "size"), &f->size))
            return loam_fail(err, LOAM_E_FORMAT, "hub file list of %s: %s has no valid blobId and size", repo, f->path);
        snprintf(f->digest, sizeof f->digest, "%s", blob->valuestring);
    }
    lower(f->digest);
    return LOAM_OK;
}

loam_status store_repo_info_parse(const char *json, size_t len, const char *repo, store_repo_info *out, loam_error *err) {
    memset(out, 0, sizeof *out);
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root) return loam_fail(err, LOAM_E_FORMAT, "hub answer for %s is not JSON", repo);
    loam_status st = LOAM_OK;
    const cJSON *sha = cJSON_GetObjectItemCaseSensitive(root, "sha");
    const cJSON *sib = cJSON_GetObjectItemCaseSensitive(root, "siblings");
    const cJSON *gated = cJSON_GetObjectItemCaseSensitive(root, "gated");
    if (!cJSON_IsString(sha) || !hex_of_len(sha->valuestring, 40) || !cJSON_IsArray(sib)) {
        st = loam_fail(err, LOAM_E_FORMAT, "hub answer for %s has no commit sha and file list", repo);
        goto done;
    }
    snprintf(out->commit, sizeof out->commit, "%s", sha->valuestring);
    lower(out->commit);
    out->gated = cJSON_IsString(gated) || cJSON_IsTrue(gated);
    int n = cJSON_GetArraySize(sib);
    if (n > 100000) {
        st = loam_fail(err, LOAM_E_FORMAT, "hub answer for %s lists %d files", repo, n);
        goto done;
    }
    out->files = calloc((size_t)(n ? n : 1), sizeof *out->files);
    if (!out->files) {
        st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
        goto done;
    }
    const cJSON *s;
    cJSON_ArrayForEach(s, sib) {
        st = parse_sibling(s, repo, &out->files[out->n_files], err);
        if (st != LOAM_OK) break;
        out->n_files++;
    }
done:
    cJSON_Delete(root);
    if (st != LOAM_OK) store_repo_info_free(out);
    return st;
}

/* GET /api/models/{repo}/tree/{commit}?recursive=true: entries
 * {type, oid, size, path, lfs: {oid, size}} give what a bare file list
 * lacks (one page: model repos hold far fewer than its 1,000 entries). */
static loam_status fill_from_tree(const char *json, size_t len, const char *repo, store_repo_info *info, loam_error *err) {
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!cJSON_IsArray(root)) {
        cJSON_Delete(root);
        return loam_fail(err, LOAM_E_FORMAT, "hub tree listing of %s is not a JSON list", repo);
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, root) {
        const cJSON *path = cJSON_GetObjectItemCaseSensitive(e, "path"), *oid = cJSON_GetObjectItemCaseSensitive(e, "oid");
        const cJSON *lfs = cJSON_GetObjectItemCaseSensitive(e, "lfs");
        if (!cJSON_IsString(path)) continue;
        for (int i = 0; i < info->n_files; i++) {
            store_file *f = &info->files[i];
            if (f->digest[0] || strcmp(f->path, path->valuestring)) continue;
            const cJSON *sha = cJSON_GetObjectItemCaseSensitive(lfs, "oid");
            if (cJSON_IsObject(lfs) && cJSON_IsString(sha) && hex_of_len(sha->valuestring, 64) &&
                size_of(cJSON_GetObjectItemCaseSensitive(lfs, "size"), &f->size)) {
                f->lfs = 1;
                snprintf(f->digest, sizeof f->digest, "%s", sha->valuestring);
            } else if (cJSON_IsString(oid) && hex_of_len(oid->valuestring, 40) && size_of(cJSON_GetObjectItemCaseSensitive(e, "size"), &f->size)) {
                snprintf(f->digest, sizeof f->digest, "%s", oid->valuestring);
            }
            lower(f->digest);
        }
    }
    cJSON_Delete(root);
    for (int i = 0; i < info->n_files; i++)
        if (!info->files[i].digest[0])
            return loam_fail(err, LOAM_E_FORMAT, "hub file list of %s: no size and digest for %s", repo, info->files[i].path);
    return LOAM_OK;
}

void store_repo_info_free(store_repo_info *info) {
    free(info->files);
    info->files = NULL;
    info->n_files = 0;
}

static void url_path_escape(const char *in, char *out, size_t n) {
    size_t w = 0;
    for (; *in && w + 4 < n; in++) {
        unsigned char c = (unsigned char)*in;
        if (isalnum(c) || strchr("-_./~", c)) out[w++] = (char)c;
        else w += (size_t)snprintf(out + w, n - w, "%%%02X", c);
    }
    out[w] = 0;
}

loam_status store_repo_info_get(const char *endpoint, const char *token, const store_name *name, store_repo_info *out,
                                loam_error *err) {
    char url[1024], rev[200];
    url_path_escape(name->revision, rev, sizeof rev);
    /* the revision as one path segment, as huggingface_hub quotes it */
    for (char *c = rev; *c; c++)
        if (*c == '/') memmove(c + 3, c + 1, strlen(c + 1) + 1), c[0] = '%', c[1] = '2', c[2] = 'F';
    snprintf(url, sizeof url, "%s/api/models/%s/revision/%s?blobs=true", endpoint, name->repo, rev);
    char *body;
    size_t len;
    long status;
    loam_status st = store_http_get(url, token, API_MAX_BYTES, &body, &len, &status, err);
    if (st != LOAM_OK) return st;
    if (status == 401 || status == 403) {
        st = loam_fail(err, LOAM_E_IO,
                       "%s: access denied (HTTP %ld). %s Accept its licence at %s/%s and set HF_TOKEN (or log in with "
                       "`huggingface-cli login`) with a token of that account",
                       name->repo, status, token && *token ? "The token was refused or has no access to this repo." : "No token was sent.",
                       endpoint, name->repo);
    } else if (status == 404) {
        st = loam_fail(err, LOAM_E_IO, "%s: no such model or revision \"%s\" on %s (HTTP 404)", name->repo, name->revision, endpoint);
    } else if (status != 200) {
        st = loam_fail(err, LOAM_E_IO, "%s: the hub answered HTTP %ld for its file list", name->repo, status);
    } else {
        st = store_repo_info_parse(body, len, name->repo, out, err);
    }
    free(body);
    int bare = 0;
    for (int i = 0; st == LOAM_OK && i < out->n_files; i++) bare |= !out->files[i].digest[0];
    if (st != LOAM_OK || !bare) return st;
    /* a hub (or mirror) that ignored ?blobs=true: the tree listing has them */
    snprintf(url, sizeof url, "%s/api/models/%s/tree/%s?recursive=true", endpoint, name->repo, out->commit);
    st = store_http_get(url, token, API_MAX_BYTES, &body, &len, &status, err);
    if (st == LOAM_OK && status != 200) st = loam_fail(err, LOAM_E_IO, "%s: the hub answered HTTP %ld for its tree listing", name->repo, status);
    if (st == LOAM_OK) st = fill_from_tree(body, len, name->repo, out, err);
    if (st == LOAM_OK || body) free(body);
    if (st != LOAM_OK) store_repo_info_free(out);
    return st;
}

/* ------------------------------------------------------------ the choice */

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcasecmp(s + n - m, suffix);
}

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

int store_gguf_name_matches(const char *path, const char *quant) {
    const char *b = base_name(path);
    size_t q = strlen(quant);
    if (!ends_with(b, ".gguf") || q == 0) return 0;
    for (const char *s = b; (s = strcasestr(s, quant)) != NULL; s++) {
        char before = s == b ? '-' : s[-1], after = s[q];
        if (!isalnum((unsigned char)before) && !isalnum((unsigned char)after) && after != '_') return 1;
    }
    return 0;
}

/* Folders whose files are other frameworks' or the publisher's duplicate
 * copies of the weights (Meta's original/ checkpoints, ONNX, ...). */
static int in_skipped_folder(const char *p) {
    static const char *skip[] = {"original/", "onnx/", "openvino/", "coreml/", "flax/", "tf/", "tflite/", "metal/", NULL};
    for (int i = 0; skip[i]; i++) {
        const char *s = strstr(p, skip[i]);
        if (s && (s == p || s[-1] == '/')) return 1;
    }
    return 0;
}

/* Configuration and tokenizer files, read by some loader of loam's. */
static int is_support_file(const char *p) {
    const char *b = base_name(p);
    if (ends_with(b, ".json")) return 1;
    static const char *names[] = {"tokenizer.model", "spiece.model", "merges.txt", "vocab.txt", "chat_template.jinja", NULL};
    for (int i = 0; names[i]; i++)
        if (!strcmp(b, names[i])) return 1;
    return ends_with(b, ".tiktoken");
}

static int is_gguf_part_of(const char *p, const char *first) {
    /* "x-00002-of-00003.gguf" belongs with "x-00001-of-00003.gguf" */
    const char *m = strstr(first, "-00001-of-");
    if (!m) return !strcmp(p, first);
    size_t prefix = (size_t)(m - first);
    return strlen(p) == strlen(first) && !strncmp(p, first, prefix) && !strcmp(p + prefix + 6, first + prefix + 6);
}

static loam_status select_gguf(store_repo_info *info, const store_name *name, int *keep, loam_error *err) {
    int first = -1, n_match = 0;
    char listed[1024] = "";
    for (int i = 0; i < info->n_files; i++) {
        const char *p = info->files[i].path;
        if (!ends_with(p, ".gguf") || strcasestr(base_name(p), "mmproj")) continue;
        if (strlen(listed) + strlen(p) + 3 < sizeof listed) strcat(strcat(listed, listed[0] ? ", " : ""), base_name(p));
        if (name->quant[0] && !store_gguf_name_matches(p, name->quant)) continue;
        const char *split = strstr(base_name(p), "-of-");
        if (split && !strstr(base_name(p), "-00001-of-")) continue; /* a later part: taken with the first */
        first = i;
        n_match++;
    }
    if (n_match != 1) {
        if (!listed[0]) return loam_fail(err, LOAM_E_ARG, "%s holds neither safetensors weights nor a GGUF file", name->repo);
        if (n_match == 0 && name->quant[0])
            return loam_fail(err, LOAM_E_ARG, "%s has no GGUF file of quantization %s; it has: %s", name->repo, name->quant, listed);
        return loam_fail(err, LOAM_E_ARG, "%s holds several GGUF files: name one quantization (%s:Q4_K_M, say); it has: %s",
                         name->repo, name->repo, listed);
    }
    for (int i = 0; i < info->n_files; i++) keep[i] = is_gguf_part_of(info->files[i].path, info->files[first].path);
    return LOAM_OK;
}

/* Diffusers-style repos that also carry the publisher's single files
 * (FLUX.1: flux1-*.safetensors and ae.safetensors beside transformer/ and
 * vae/): the folders' weights are the same tensors again. */
static int duplicate_diffusers_weights(const store_repo_info *info, const char *p) {
    if (strncmp(p, "transformer/", 12) && strncmp(p, "vae/", 4)) return 0;
    if (!ends_with(p, ".safetensors")) return 0;
    const char *single = strncmp(p, "vae/", 4) ? NULL : "ae.safetensors";
    for (int i = 0; i < info->n_files; i++) {
        const char *q = info->files[i].path;
        if (strchr(q, '/') || !ends_with(q, ".safetensors")) continue;
        if (single ? !strcmp(q, single) : strcmp(q, "ae.safetensors") != 0) return 1;
    }
    return 0;
}

loam_status store_select_files(store_repo_info *info, const store_name *name, loam_error *err) {
    int *keep = calloc((size_t)(info->n_files ? info->n_files : 1), sizeof *keep);
    if (!keep) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    int has_weights = 0;
    for (int i = 0; i < info->n_files; i++)
        if (ends_with(info->files[i].path, ".safetensors") && !in_skipped_folder(info->files[i].path)) has_weights = 1;
    loam_status st = LOAM_OK;
    if (name->quant[0] || !has_weights) {
        st = select_gguf(info, name, keep, err);
    } else {
        for (int i = 0; i < info->n_files; i++) {
            const char *p = info->files[i].path;
            if (in_skipped_folder(p)) continue;
            keep[i] = (ends_with(p, ".safetensors") && !duplicate_diffusers_weights(info, p)) || is_support_file(p);
        }
    }
    int w = 0;
    for (int i = 0; st == LOAM_OK && i < info->n_files; i++)
        if (keep[i]) info->files[w++] = info->files[i];
    if (st == LOAM_OK) info->n_files = w;
    free(keep);
    return st;
}
