/* Facts about the machine and the process: physical cores, resident memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loam.h"

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

uint64_t loam_resident_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long size = 0, resident = 0;
    int ok = fscanf(f, "%lu %lu", &size, &resident) == 2;
    fclose(f);
    return ok ? (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}
