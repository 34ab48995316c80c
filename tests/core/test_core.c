/* Core: thread pool, 16-bit float conversions. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/fp16.h"
#include "core/threadpool.h"
#include "test.h"

typedef struct {
    atomic_long sum;
    atomic_int calls[1000];
} pool_job;

static void add_task(void *arg, int task, int thread) {
    (void)thread;
    pool_job *j = arg;
    atomic_fetch_add(&j->sum, task);
    atomic_fetch_add(&j->calls[task], 1);
}

/* The decode kernels' prefetch choice: by the core, unless LOAM_PREFETCH
 * says 0 or 1 (anything else is ignored). */
static void test_prefers_prefetch(void) {
    const char *saved = getenv("LOAM_PREFETCH");
    char keep[16] = "";
    if (saved) snprintf(keep, sizeof keep, "%s", saved);
    unsetenv("LOAM_PREFETCH");
    loam_cpu_info zen4 = {.vendor = "AuthenticAMD", .family = 0x19}, zen5 = {.vendor = "AuthenticAMD", .family = 0x1A},
                  xeon = {.vendor = "GenuineIntel", .family = 6};
    int by_core = loam_cpu_prefers_prefetch(&zen4) == 0 && loam_cpu_prefers_prefetch(&zen5) == 1 &&
                  loam_cpu_prefers_prefetch(&xeon) == 1;
    setenv("LOAM_PREFETCH", "1", 1);
    int forced_on = loam_cpu_prefers_prefetch(&zen4) == 1;
    setenv("LOAM_PREFETCH", "0", 1);
    int forced_off = loam_cpu_prefers_prefetch(&xeon) == 0;
    setenv("LOAM_PREFETCH", "yes", 1);
    int ignored = loam_cpu_prefers_prefetch(&zen4) == 0 && loam_cpu_prefers_prefetch(&xeon) == 1;
    if (saved) setenv("LOAM_PREFETCH", keep, 1);
    else unsetenv("LOAM_PREFETCH");
    CHECK(by_core, "by core: Zen 4 off, Zen 5 and Intel on");
    CHECK(forced_on && forced_off, "LOAM_PREFETCH=1 / 0 override the core");
    CHECK(ignored, "a LOAM_PREFETCH that is neither 0 nor 1 is ignored");
}

static void test_pool_runs_every_task_once(void) {
    for (int threads = 1; threads <= 4; threads++) {
        loam_pool *pool = loam_pool_new(threads);
        CHECK(pool, "pool_new(%d) failed", threads);
        for (int round = 0; round < 50; round++) {
            static pool_job j;
            memset(&j, 0, sizeof j);
            int n = 1 + (round * 37) % 1000;
            loam_pool_run(pool, add_task, &j, n);
            int once = 1;
            for (int i = 0; i < n; i++) once &= atomic_load(&j.calls[i]) == 1;
            long want = (long)n * (n - 1) / 2;
            if (atomic_load(&j.sum) != want || !once) {
                loam_pool_free(pool);
                CHECK(0, "threads %d, %d tasks: sum %ld (want %ld), each once: %d", threads, n, atomic_load(&j.sum), want, once);
            }
        }
        loam_pool_free(pool);
    }
}

static void test_bf16_f16_round_trip(void) {
    /* every 16-bit pattern converts to f32 and back unchanged (NaNs stay NaN) */
    for (uint32_t h = 0; h < 65536; h++) {
        float f = loam_bf16_to_f32((uint16_t)h);
        if (isnan(f)) CHECK(isnan(loam_bf16_to_f32(loam_f32_to_bf16(f))), "bf16 NaN %04x", h);
        else CHECK(loam_f32_to_bf16(f) == h, "bf16 %04x -> %g -> %04x", h, f, loam_f32_to_bf16(f));
        float g = loam_f16_to_f32((uint16_t)h);
        if (isnan(g)) CHECK(isnan(loam_f16_to_f32(loam_f32_to_f16(g))), "f16 NaN %04x", h);
        else CHECK(loam_f32_to_f16(g) == h, "f16 %04x -> %g -> %04x", h, g, loam_f32_to_f16(g));
    }
    CHECK(loam_f16_to_f32(0x3c00) == 1.0f && loam_f16_to_f32(0xc000) == -2.0f, "f16 values");
    CHECK(loam_f16_to_f32(0x0001) == ldexpf(1.0f, -24), "f16 smallest subnormal");
    CHECK(loam_f32_to_f16(65520.0f) == 0x7c00, "f16 overflow to inf");
    CHECK(loam_f32_to_bf16(1.00390625f) == 0x3f80, "bf16 ties to even");
}

static void test_physical_cores(void) {
    int n = loam_physical_cores();
    CHECK(n >= 1 && n <= 4096, "physical cores %d", n);
}

/* The caches CPUID gives agree with what the kernel says in sysfs (where
 * it says anything), and the name and kernel level are filled. */
static void test_cpu_info(void) {
    loam_cpu_info c;
    loam_cpu_get_info(&c);
    int64_t l1d, l2, l3;
    loam_cpu_caches_sysfs(&l1d, &l2, &l3);
    CHECK(c.name[0] && c.vendor[0] && c.simd[0] && c.logical_cpus >= 1, "cpu info: name \"%s\" vendor \"%s\" simd \"%s\"", c.name, c.vendor,
          c.simd);
    CHECK(!l1d || c.l1d_bytes == l1d, "L1d: CPUID %lld, sysfs %lld", (long long)c.l1d_bytes, (long long)l1d);
    CHECK(!l2 || c.l2_bytes == l2, "L2: CPUID %lld, sysfs %lld", (long long)c.l2_bytes, (long long)l2);
    CHECK(!l3 || c.l3_bytes == l3, "L3: CPUID %lld, sysfs %lld", (long long)c.l3_bytes, (long long)l3);
#if defined(__x86_64__) && defined(__linux__)
    CHECK(c.l1d_bytes >= 4096 && c.l2_bytes >= c.l1d_bytes, "caches: L1d %lld, L2 %lld", (long long)c.l1d_bytes, (long long)c.l2_bytes);
#endif
}

void register_core_tests(void) {
    test_add("core: CPU name, kernel level and cache sizes (CPUID agrees with sysfs)", test_cpu_info);
    test_add("core: software prefetch by the core (off on AMD family 0x19), LOAM_PREFETCH overrides", test_prefers_prefetch);
    test_add("core: thread pool runs every task exactly once", test_pool_runs_every_task_once);
    test_add("core: bf16/f16 conversions round-trip every pattern", test_bf16_f16_round_trip);
    test_add("core: physical core count", test_physical_cores);
}
