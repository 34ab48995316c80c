/* What the nn op files share and nobody else needs. */
#ifndef LOAM_NN_INTERNAL_H
#define LOAM_NN_INTERNAL_H
#include "nn/nn.h"

void nn_fail_nomem(loam_nn *nn, const char *what, size_t bytes);
int nn_reserve(loam_nn *nn, void **buf, size_t *cap, size_t need, size_t size, const char *what);

#endif
