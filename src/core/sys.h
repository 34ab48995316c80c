/* Machine facts measured by loam itself (the public ones are in loam.h). */
#ifndef LOAM_CORE_SYS_H
#define LOAM_CORE_SYS_H
#include <stdint.h>

typedef struct {
    const void *data;
    uint64_t bytes;
} loam_read_region;

/* A monotonic clock, in seconds. */
double loam_seconds_now(void);
/* bytes of 2 MiB-aligned memory advised for huge pages where the kernel
 * gives them (weights and caches read every step: fewer TLB misses); free()
 * it. NULL when out of memory. */
void *loam_alloc_huge(size_t bytes);

/* The whole pages inside [p, p + bytes) of a read-only file mapping given
 * back (they are read from the file again if touched): a copy replaces them. */
void loam_release_pages(const void *p, uint64_t bytes);

/* Bytes per second of streaming reads over the regions (taken as one
 * sequence, split evenly over n_threads threads), best of `passes`. */
double loam_measure_read_regions(const loam_read_region *regions, int n_regions, int n_threads, int passes);

#endif
