/* Facts about the machine and the process: physical cores, resident memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "loam_tools.h"
#include "loam.h"
#include "core/sys.h"

int loam_physical_cores(void) {
    /* Count distinct (package, core) pairs: hyper-threads share a core and
     * add little to bandwidth-bound inference. */
    long n_cpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (n_cpu < 1) n_cpu = 1;
    enum { MAX_PAIRS = 1024 };
    long pairs[MAX_PAIRS];
    int n_pairs = 0;
    for (long cpu = 0; cpu < n_cpu && cpu < MAX_PAIRS; cpu++) {
        char path[128];
        long core = -1, pkg = 0;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%ld/topology/core_id", cpu);
        FILE *f = fopen(path, "r");
        if (!f) return (int)n_cpu;
        if (fscanf(f, "%ld", &core) != 1) core = cpu;
        fclose(f);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%ld/topology/physical_package_id", cpu);
        f = fopen(path, "r");
        if (f) {
            if (fscanf(f, "%ld", &pkg) != 1) pkg = 0;
            fclose(f);
        }
        long key = pkg * 65536 + core;
        int seen = 0;
        for (int i = 0; i < n_pairs; i++) seen |= pairs[i] == key;
        if (!seen) pairs[n_pairs++] = key;
    }
    return n_pairs > 0 ? n_pairs : (int)n_cpu;
}

uint64_t loam_peak_resident_bytes(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    unsigned long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %lu kB", &kb) == 1) break;
    fclose(f);
    return (uint64_t)kb * 1024;
}

uint64_t loam_resident_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long size = 0, resident = 0;
    int ok = fscanf(f, "%lu %lu", &size, &resident) == 2;
    fclose(f);
    return ok ? (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    const loam_read_region *regions;
    int n_regions;
    uint64_t from, to; /* byte range of the concatenated regions */
    int repeat;        /* times over it: small regions (a model in the caches) are read
                          until the time is long against starting the threads */
    uint64_t sum;
} bw_slice;

/* 16-byte vectors (SSE2 on every x86-64; the compiler's choice elsewhere):
 * on an Intel Xeon guest a loop of 8-byte loads read 0–40% less than this
 * one in alternated runs, so it measured the loop, not the memory. */
typedef uint64_t bw_u64x2 __attribute__((vector_size(16)));

/* Reads [from, to) of the concatenated regions as one stream with software
 * prefetch 8 KiB ahead, the pattern of the decode kernels. Measured on a
 * Zen 4 guest (1 thread, 1 GiB): 1 KiB ahead 28 GB/s, 4 KiB 34, 8 KiB 37;
 * four interleaved streams read no faster, and slower on 4 KiB-page
 * mappings. */
static uint64_t read_once(const bw_slice *s) {
    uint64_t a = 0, base = 0;
    bw_u64x2 x = {0, 0}, y = {0, 0};
    for (int r = 0; r < s->n_regions && base < s->to; base += s->regions[r].bytes, r++) {
        uint64_t size = s->regions[r].bytes;
        if (base + size <= s->from) continue;
        uint64_t lo = s->from > base ? s->from - base : 0, hi = s->to - base < size ? s->to - base : size;
        const uint8_t *p = (const uint8_t *)s->regions[r].data;
        uint64_t i = lo;
        for (; i + 64 <= hi; i += 64) {
            __builtin_prefetch(p + i + 8192); /* a hint: harmless past the end */
            bw_u64x2 w[4];
            memcpy(w, p + i, 64);
            x ^= w[0] ^ w[1];
            y ^= w[2] ^ w[3];
        }
        for (; i < hi; i++) a += p[i];
    }
    x ^= y;
    return a + x[0] + x[1];
}

static void *read_slice(void *arg) {
    bw_slice *s = arg;
    s->sum = 0;
    for (int k = 0; k < s->repeat; k++) s->sum += read_once(s);
    return NULL;
}

double loam_seconds_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double loam_measure_read_regions(const loam_read_region *regions, int n_regions, int n_threads, int passes) {
    if (n_threads < 1) n_threads = 1;
    if (n_threads > 64) n_threads = 64;
    uint64_t total = 0;
    for (int r = 0; r < n_regions; r++) total += regions[r].bytes;
    if (!total) return 0;
    pthread_t th[64];
    bw_slice sl[64];
    double best = 0;
    int repeat = total >= ((uint64_t)256 << 20) ? 1 : (int)(((uint64_t)256 << 20) / total);
    for (int rep = 0; rep < passes; rep++) {
        uint64_t per = total / (uint64_t)n_threads;
        double t0 = loam_seconds_now();
        for (int t = 0; t < n_threads; t++) {
            sl[t] = (bw_slice){regions, n_regions, (uint64_t)t * per, t + 1 == n_threads ? total : (uint64_t)(t + 1) * per, repeat, 0};
            if (t > 0 && pthread_create(&th[t], NULL, read_slice, &sl[t]) != 0) read_slice(&sl[t]), sl[t].regions = NULL;
        }
        read_slice(&sl[0]);
        for (int t = 1; t < n_threads; t++)
            if (sl[t].regions) pthread_join(th[t], NULL);
        double dt = loam_seconds_now() - t0;
        if (dt > 0 && (double)total * repeat / dt > best) best = (double)total * repeat / dt;
    }
    volatile uint64_t sink = sl[0].sum;
    (void)sink;
    return best;
}

void *loam_alloc_huge(size_t bytes) {
    void *mem = NULL;
    size_t huge = (size_t)2 << 20;
    if (posix_memalign(&mem, huge, bytes ? bytes : 1) != 0) return NULL;
#ifdef MADV_HUGEPAGE
    if (bytes >= huge) madvise(mem, bytes, MADV_HUGEPAGE);
#endif
    return mem;
}

void loam_release_pages(const void *p, uint64_t bytes) {
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), a = ((uintptr_t)p + page - 1) / page * page, b = ((uintptr_t)p + bytes) / page * page;
    if (b > a) madvise((void *)a, b - a, MADV_DONTNEED);
}

double loam_measure_read_bandwidth(int n_threads) {
    size_t bytes = (size_t)512 << 20;
    void *mem = NULL;
    if (posix_memalign(&mem, (size_t)2 << 20, bytes) != 0) return 0;
    uint8_t *buf = mem;
#ifdef MADV_HUGEPAGE
    /* 2 MiB pages where the kernel gives them: TLB misses are not what
     * this measures */
    madvise(buf, bytes, MADV_HUGEPAGE);
#endif
    memset(buf, 1, bytes); /* make every page resident */
    loam_read_region r = {buf, bytes};
    double bw = loam_measure_read_regions(&r, 1, n_threads, 4);
    free(buf);
    return bw;
}
