/* What the CPU is: its name and its data caches, read at run time (CPUID
 * leaf 4 on Intel, 0x8000001D on AMD, sysfs otherwise), so block sizes and
 * benchmark rows never rely on one chip's constants. */
#ifndef LOAM_CORE_CPU_H
#define LOAM_CORE_CPU_H
#include "loam_tools.h"

/* Fills *out (never fails: unknown parts are 0 or "unknown"). */
void loam_cpu_describe(loam_cpu_info *out);
/* The caches from sysfs alone (/sys/devices/system/cpu/cpu0/cache), per
 * core as CPUID counts them; 0 where sysfs does not say. For the test that
 * the two sources agree. */
void loam_cpu_caches_sysfs(int64_t *l1d, int64_t *l2, int64_t *l3);
/* Whether the kernels that stream weights from memory (decode) should
 * prefetch them in software on this CPU (1) or leave it to the hardware
 * prefetchers (0): LOAM_PREFETCH=0|1 when set, else by the core as measured.
 * The same kernels, alternated, 1B decode t/s at 1 / 2 threads: Zen 5
 * (AMD family 0x1A) Q4_0 56 with, 42-46 without; Zen 4 (family 0x19) Q4_0
 * 20.9 / 35.0 with, 24.7 / 38.5 without, F16 7.5 / 11.6 with, 9.1 / 15.1
 * without. Other cores keep the prefetch they were tuned with. */
int loam_cpu_prefers_prefetch(const loam_cpu_info *cpu);

#endif
