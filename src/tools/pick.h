/* loam pick's parts: the machine's measured rates (pick_machine.c), the
 * estimate of one catalogue entry at one quantization (pick_estimate.c),
 * the ranking (pick.c). */
#ifndef LOAM_TOOLS_PICK_H
#define LOAM_TOOLS_PICK_H
#include <cjson/cJSON.h>

#include "loam_tools.h"

/* The rates of the given tensor types: from the cache file when it holds
 * them for this CPU and thread count, else measured now (and kept). */
loam_status pick_rates(const loam_pick_params *p, const int *types, int n_types, loam_pick_rates *r, loam_error *err);

/* The tensor types a published shape at a quantization holds (for the
 * rates to measure); returns how many, written into types. */
int pick_types_of(const char *model, const char *quant, int *types, int max);

/* Fills row's memory and speed for entry (a catalogue model) at quant, for
 * the context and RAM of the query; rates NULL: no speeds. */
loam_status pick_estimate(const cJSON *entry, const char *quant, const loam_pick_params *p, uint64_t ram_bytes,
                          const loam_pick_rates *rates, loam_pick_row *row, loam_error *err);

#endif
