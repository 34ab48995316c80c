/* Samplers: the public loam_sampler_* calls, and what the tests look at. */
#ifndef LOAM_SAMPLING_SAMPLER_H
#define LOAM_SAMPLING_SAMPLER_H
#include "loam.h"

/* The distribution loam_sampler_sample draws from, after every filter
 * (the tests compare it with distributions computed independently). */
void loam_sampler_probs(loam_sampler *s, const float *logits, float *probs);

#endif
