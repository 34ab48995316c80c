/* The CPU's name and caches (see cpu.h). */
#include "core/cpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

/* sysfs: index<N>/level, type and size ("32K", "1024K", "32768K") */
static int64_t sysfs_cache(int level, const char *type) {
    for (int i = 0; i < 8; i++) {
        char path[96], buf[32];
        int64_t lvl = 0, size = 0;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        int ok = fscanf(f, "%ld", &lvl) == 1;
        fclose(f);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
        if (!ok || lvl != level || !(f = fopen(path, "r"))) continue;
        ok = fgets(buf, sizeof buf, f) != NULL;
        fclose(f);
        if (!ok || (strncmp(buf, type, strlen(type)) != 0 && strncmp(buf, "Unified", 7) != 0)) continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        if (!(f = fopen(path, "r"))) continue;
        char unit = 0;
        int n = fscanf(f, "%ld%c", &size, &unit);
        fclose(f);
        if (n >= 1) return size * (unit == 'K' ? 1024 : unit == 'M' ? 1048576 : 1);
    }
    return 0;
}

void loam_cpu_caches_sysfs(int64_t *l1d, int64_t *l2, int64_t *l3) {
    *l1d = sysfs_cache(1, "Data"), *l2 = sysfs_cache(2, "Unified"), *l3 = sysfs_cache(3, "Unified");
}

#if defined(__x86_64__)
/* Leaf 4 (Intel) and 0x8000001D (AMD) share one layout: subleaf i
 * describes one cache; EAX[4:0] type (0 = no more), EAX[7:5] level,
 * size = ways * partitions * line size * sets. */
static void cpuid_caches(unsigned leaf, loam_cpu_info *out) {
    for (unsigned i = 0; i < 16; i++) {
        unsigned a, b, c, d;
        __cpuid_count(leaf, i, a, b, c, d);
        unsigned type = a & 31, level = (a >> 5) & 7;
        if (type == 0) break;
        int64_t ways = ((b >> 22) & 1023) + 1, parts = ((b >> 12) & 1023) + 1, line = (b & 4095) + 1, sets = (int64_t)c + 1;
        int64_t size = ways * parts * line * sets;
        if (level == 1 && type == 1) out->l1d_bytes = size; /* data */
        else if (level == 2 && type == 3) out->l2_bytes = size;
        else if (level == 3 && type == 3) out->l3_bytes = size;
    }
}

static void cpuid_describe(loam_cpu_info *out) {
    unsigned a, b, c, d, max = __get_cpuid_max(0, NULL), max_ext = __get_cpuid_max(0x80000000u, NULL);
    __cpuid(0, a, b, c, d);
    memcpy(out->vendor, &b, 4), memcpy(out->vendor + 4, &d, 4), memcpy(out->vendor + 8, &c, 4), out->vendor[12] = 0;
    if (max >= 1) {
        __cpuid(1, a, b, c, d);
        int base_family = (a >> 8) & 15, base_model = (a >> 4) & 15;
        out->family = base_family + (base_family == 15 ? (a >> 20) & 255 : 0);
        out->model = base_model + (base_family == 6 || base_family == 15 ? ((a >> 16) & 15) << 4 : 0);
    }
    if (max_ext >= 0x80000004u) {
        unsigned regs[12];
        for (unsigned k = 0; k < 3; k++) __cpuid(0x80000002u + k, regs[4 * k], regs[4 * k + 1], regs[4 * k + 2], regs[4 * k + 3]);
        char brand[49];
        memcpy(brand, regs, 48), brand[48] = 0;
        const char *p = brand;
        while (*p == ' ') p++;
        snprintf(out->name, sizeof out->name, "%s", p);
        for (size_t n = strlen(out->name); n > 0 && out->name[n - 1] == ' ';) out->name[--n] = 0;
    }
    if (!strcmp(out->vendor, "AuthenticAMD") || !strcmp(out->vendor, "HygonGenuine")) {
        if (max_ext >= 0x8000001Du) cpuid_caches(0x8000001Du, out);
        /* some hypervisors zero 0x8000001D but pass AMD's older size leaves:
         * L1d KiB in 0x80000005 ECX[31:24], L2 KiB in 0x80000006 ECX[31:16]
         * (its L3 field is left alone: under a hypervisor it may describe
         * the host's whole socket, 508 MiB on one EPYC guest) */
        if (!out->l1d_bytes && max_ext >= 0x80000005u) {
            __cpuid(0x80000005u, a, b, c, d);
            out->l1d_bytes = (int64_t)(c >> 24) << 10;
        }
        if (!out->l2_bytes && max_ext >= 0x80000006u) {
            __cpuid(0x80000006u, a, b, c, d);
            out->l2_bytes = (int64_t)(c >> 16) << 10;
        }
    } else if (max >= 4) {
        cpuid_caches(4, out);
    }
}
#endif

void loam_cpu_describe(loam_cpu_info *out) {
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "unknown");
    snprintf(out->vendor, sizeof out->vendor, "unknown");
#if defined(__x86_64__)
    cpuid_describe(out);
#endif
    /* where CPUID says nothing (another architecture, a hypervisor that
     * hides the leaves), sysfs may */
    int64_t l1d, l2, l3;
    loam_cpu_caches_sysfs(&l1d, &l2, &l3);
    if (!out->l1d_bytes) out->l1d_bytes = l1d;
    if (!out->l2_bytes) out->l2_bytes = l2;
    if (!out->l3_bytes) out->l3_bytes = l3;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    out->logical_cpus = n > 0 ? (int)n : 1;
}

int loam_cpu_prefers_prefetch(const loam_cpu_info *cpu) {
    const char *env = getenv("LOAM_PREFETCH");
    if (env && (!strcmp(env, "0") || !strcmp(env, "1"))) return env[0] == '1';
    /* Zen 3 and Zen 4 share family 0x19; only Zen 4 was measured, and
     * their prefetchers are the same design */
    return !(!strcmp(cpu->vendor, "AuthenticAMD") && cpu->family == 0x19);
}
