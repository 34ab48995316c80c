/* Activations, elementwise. */
#include <math.h>

#include "nn/nn.h"

float nn_act_one(nn_act act, float x) {
    switch (act) {
    case NN_ACT_SILU: return x / (1.0f + expf(-x));
    case NN_ACT_GELU: return 0.5f * x * (1.0f + erff(x * (float)M_SQRT1_2));
    case NN_ACT_GELU_TANH: return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
    case NN_ACT_QUICK_GELU: return x / (1.0f + expf(-1.702f * x));
    }
    return x;
}

void nn_activate(nn_act act, float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = nn_act_one(act, x[i]);
}

void nn_silu(float *x, size_t n) { nn_activate(NN_ACT_SILU, x, n); }
void nn_gelu(float *x, size_t n) { nn_activate(NN_ACT_GELU, x, n); }
void nn_gelu_tanh(float *x, size_t n) { nn_activate(NN_ACT_GELU_TANH, x, n); }
void nn_quick_gelu(float *x, size_t n) { nn_activate(NN_ACT_QUICK_GELU, x, n); }

void nn_gate(nn_act act, float *a, const float *g, size_t n) {
    for (size_t i = 0; i < n; i++) a[i] *= nn_act_one(act, g[i]);
}
