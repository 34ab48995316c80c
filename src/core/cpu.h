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

#endif
