/* The machine `loam pick` plans for: memory, disk, cores, SIMD, a GPU if
 * there is one, and the speeds of the shared linear op measured on it
 * (kept in a small file, so a second `loam pick` does not measure again). */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#include "core/error.h"
#include "core/tensor.h"
#include "formats/json.h"
#include "store/hf_cache.h"
#include "loam_tools.h"
#include "tools/pick.h"

static uint64_t meminfo(const char *key) {
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    unsigned long long kb = 0;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, n) && line[n] == ':') {
            sscanf(line + n + 1, "%llu", &kb);
            break;
        }
    if (f) fclose(f);
    return (uint64_t)kb * 1024;
}

static int read_line(const char *path, char *out, size_t n) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int ok = fgets(out, (int)n, f) != NULL;
    fclose(f);
    if (ok) out[strcspn(out, "\n")] = 0;
    return ok;
}

/* NVIDIA's driver names its GPUs in /proc; amdgpu gives the memory in
 * sysfs; others are named by PCI vendor. */
static void find_gpu(loam_machine_info *m) {
    DIR *d = opendir("/proc/driver/nvidia/gpus");
    struct dirent *e;
    char path[600], line[256];
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "/proc/driver/nvidia/gpus/%s/information", e->d_name);
        FILE *f = fopen(path, "r");
        while (f && fgets(line, sizeof line, f))
            if (!strncmp(line, "Model:", 6)) {
                char *v = line + 6;
                while (*v == ' ' || *v == '\t') v++;
                v[strcspn(v, "\n")] = 0;
                snprintf(m->gpu, sizeof m->gpu, "NVIDIA %.80s", v);
            }
        if (f) fclose(f);
        if (m->gpu[0]) break;
    }
    if (d) closedir(d);
    for (int card = 0; card < 8; card++) {
        char vendor[32] = "", vram[32] = "";
        snprintf(path, sizeof path, "/sys/class/drm/card%d/device/vendor", card);
        if (!read_line(path, vendor, sizeof vendor)) continue;
        snprintf(path, sizeof path, "/sys/class/drm/card%d/device/mem_info_vram_total", card);
        if (read_line(path, vram, sizeof vram)) m->gpu_bytes = strtoull(vram, NULL, 10);
        if (!m->gpu[0]) {
            const char *who = !strcmp(vendor, "0x10de") ? "NVIDIA" : !strcmp(vendor, "0x1002") ? "AMD" : !strcmp(vendor, "0x8086") ? "Intel" : NULL;
            if (who) snprintf(m->gpu, sizeof m->gpu, "%s GPU (card%d)", who, card);
        }
        if (m->gpu[0]) break;
    }
}

void loam_machine_get_info(const char *disk_path, loam_machine_info *m) {
    memset(m, 0, sizeof *m);
    m->ram_bytes = meminfo("MemTotal");
    m->free_ram_bytes = meminfo("MemAvailable");
    m->cores = loam_physical_cores();
    loam_cpu_info cpu;
    loam_cpu_get_info(&cpu);
    snprintf(m->cpu, sizeof m->cpu, "%s", cpu.name);
    snprintf(m->simd, sizeof m->simd, "%s", cpu.simd);
    char store[4096];
    if (!disk_path && store_cache_dir(NULL, store, sizeof store, NULL) == LOAM_OK) disk_path = store;
    /* the nearest folder that exists */
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", disk_path ? disk_path : "/");
    struct statvfs vs;
    while (statvfs(buf, &vs) != 0) {
        char *slash = strrchr(buf, '/');
        if (!slash || slash == buf) {
            snprintf(buf, sizeof buf, "/");
            if (statvfs(buf, &vs) != 0) memset(&vs, 0, sizeof vs);
            break;
        }
        *slash = 0;
    }
    m->free_disk_bytes = (uint64_t)vs.f_bavail * (uint64_t)vs.f_frsize;
    find_gpu(m);
}

/* ------------------------------------------------------------ rates */

static const char *rates_path(const loam_pick_params *p, char *buf, size_t n) {
    if (p->rates_cache) return p->rates_cache[0] ? p->rates_cache : NULL;
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && *xdg) snprintf(buf, n, "%s/loam/pick-rates.json", xdg);
    else if (home && *home) snprintf(buf, n, "%s/.cache/loam/pick-rates.json", home);
    else return NULL;
    return buf;
}

/* Rates kept from an earlier run on this CPU with these threads, at most
 * 30 days old, that hold every type asked for. */
static int load_rates(const char *path, const int *types, int n_types, loam_pick_rates *r) {
    cJSON *root = NULL;
    if (!path || loam_json_load(path, &root, NULL) != LOAM_OK) return 0;
    const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(root, "cpu"), *th = cJSON_GetObjectItemCaseSensitive(root, "threads");
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(root, "measured_at");
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(root, "decode_bytes_per_s"), *pre = cJSON_GetObjectItemCaseSensitive(root, "prefill_gops");
    int ok = cJSON_IsString(cpu) && !strcmp(cpu->valuestring, r->cpu) && cJSON_IsNumber(th) && th->valueint == r->threads &&
             cJSON_IsNumber(at) && (double)time(NULL) - at->valuedouble < 30 * 86400.0 && cJSON_IsObject(dec) && cJSON_IsObject(pre);
    for (int i = 0; ok && i < n_types; i++) {
        const char *name = loam_type_short((loam_type)types[i]);
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(dec, name), *q = cJSON_GetObjectItemCaseSensitive(pre, name);
        ok = cJSON_IsNumber(d) && d->valuedouble > 0 && cJSON_IsNumber(q) && q->valuedouble > 0;
        if (ok) r->decode_bytes_per_s[types[i]] = d->valuedouble, r->prefill_gops[types[i]] = q->valuedouble;
    }
    if (ok) r->measured_at = (int64_t)at->valuedouble;
    cJSON_Delete(root);
    return ok;
}

static void save_rates(const char *path, const loam_pick_rates *r) {
    if (!path) return;
    cJSON *root = cJSON_CreateObject(), *dec = cJSON_CreateObject(), *pre = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "cpu", r->cpu);
    cJSON_AddNumberToObject(root, "threads", r->threads);
    cJSON_AddNumberToObject(root, "measured_at", (double)r->measured_at);
    for (int t = 0; t < LOAM_T_COUNT && t < 32; t++)
        if (r->decode_bytes_per_s[t] > 0) {
            cJSON_AddNumberToObject(dec, loam_type_short((loam_type)t), r->decode_bytes_per_s[t]);
            cJSON_AddNumberToObject(pre, loam_type_short((loam_type)t), r->prefill_gops[t]);
        }
    cJSON_AddItemToObject(root, "decode_bytes_per_s", dec);
    cJSON_AddItemToObject(root, "prefill_gops", pre);
    char *text = cJSON_Print(root), dir[4096];
    cJSON_Delete(root);
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = 0;
        for (char *s = dir + 1; *s; s++)
            if (*s == '/') *s = 0, mkdir(dir, 0755), *s = '/';
        mkdir(dir, 0755);
    }
    FILE *f = text ? fopen(path, "w") : NULL;
    if (f) fputs(text, f), fclose(f);
    free(text);
}

/* One type: a one-row product over 4x the last-level cache (at least 64
 * MiB) for decode, a 256-row one for prefill, best of a few runs. */
static loam_status measure_type(loam_type t, int threads, int64_t l3, loam_pick_rates *r, loam_error *err) {
    const char *name = loam_type_short(t);
    int K = 4096;
    size_t row = loam_row_bytes(t, K);
    uint64_t want = (uint64_t)(l3 > 0 ? l3 : 32 << 20) * 4;
    if (want < (64u << 20)) want = 64u << 20;
    int N = (int)(want / row);
    if (N > 262144) N = 262144;
    loam_gemm_result g;
    loam_status st = loam_bench_gemm(1, N, K, name, threads, 3, 0, &g, err);
    if (st) return st;
    r->decode_bytes_per_s[t] = (double)row * N / g.seconds;
    st = loam_bench_gemm(256, 4096, K, name, threads, 2, 0, &g, err);
    if (st) return st;
    r->prefill_gops[t] = g.gops;
    return LOAM_OK;
}

loam_status pick_rates(const loam_pick_params *p, const int *types, int n_types, loam_pick_rates *r, loam_error *err) {
    memset(r, 0, sizeof *r);
    loam_cpu_info cpu;
    loam_cpu_get_info(&cpu);
    r->threads = p->n_threads > 0 ? p->n_threads : loam_physical_cores();
    snprintf(r->cpu, sizeof r->cpu, "%.40s (%.20s)", cpu.name, cpu.simd);
    char buf[4096];
    const char *path = rates_path(p, buf, sizeof buf);
    if (!p->remeasure && load_rates(path, types, n_types, r)) return LOAM_OK;
    memset(r->decode_bytes_per_s, 0, sizeof r->decode_bytes_per_s);
    for (int i = 0; i < n_types; i++) {
        loam_status st = measure_type((loam_type)types[i], r->threads, cpu.l3_bytes, r, err);
        if (st) return st;
    }
    r->measured_at = (int64_t)time(NULL);
    save_rates(path, r);
    return LOAM_OK;
}
