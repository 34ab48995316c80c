/* Activations, elementwise. */
#include <math.h>

#include "nn/nn.h"
#include "nn/nn_internal.h"

float nn_act_one(nn_act act, float x) {
    switch (act) {
    case NN_ACT_SILU: return x / (1.0f + expf(-x));
    case NN_ACT_GELU: return 0.5f * x * (1.0f + erff(x * (float)M_SQRT1_2));
    /* ½x(1 + tanh u) = x·σ(2u): no cancellation in 1 + tanh u for x < 0 */
    case NN_ACT_GELU_TANH: return x / (1.0f + expf(-loam_sigmoid_arg(LOAM_SIG_GELU_TANH, x)));
    case NN_ACT_QUICK_GELU: return x / (1.0f + expf(-loam_sigmoid_arg(LOAM_SIG_QUICK_GELU, x)));
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

/* The same split over the pool: a prompt's MLP activates T × n_ff values,
 * which on one thread cost as much as a tenth of the products around it.
 * SiLU, gelu-tanh, quick-gelu and GELU through the kernel table's vector exp. */
typedef struct {
    const loam_kernels *kern;
    nn_act act;
    float *a;
    const float *g; /* NULL: activate a in place */
    size_t n, chunk;
} act_job;

static void act_task(void *arg, int task, int thread) {
    (void)thread;
    const act_job *j = arg;
    size_t i0 = (size_t)task * j->chunk, i1 = i0 + j->chunk < j->n ? i0 + j->chunk : j->n;
    const float *g = j->g ? j->g + i0 : NULL;
    if (j->g && j->act == NN_ACT_SILU) j->kern->silu_gate(j->a + i0, g, i1 - i0);
    else if (j->act == NN_ACT_GELU_TANH) j->kern->sigmoid_act(LOAM_SIG_GELU_TANH, j->a + i0, g, i1 - i0);
    else if (j->act == NN_ACT_QUICK_GELU) j->kern->sigmoid_act(LOAM_SIG_QUICK_GELU, j->a + i0, g, i1 - i0);
    else if (j->act == NN_ACT_GELU) j->kern->gelu_act(j->a + i0, g, i1 - i0);
    else if (j->g) nn_gate(j->act, j->a + i0, j->g + i0, i1 - i0);
    else nn_activate(j->act, j->a + i0, i1 - i0);
}

static void act_split(loam_nn *nn, nn_act act, float *a, const float *g, size_t n) {
    if (nn->status) return;
    act_job j = {nn->kernels, act, a, g, n, 1 << 14};
    if (n <= j.chunk || nn_threads(nn) == 1) {
        act_task(&j, 0, 0);
        return;
    }
    loam_pool_run(nn->pool, act_task, &j, (int)((n + j.chunk - 1) / j.chunk));
}

void nn_activate_on(loam_nn *nn, nn_act act, float *x, size_t n) { act_split(nn, act, x, NULL, n); }
void nn_gate_on(loam_nn *nn, nn_act act, float *a, const float *g, size_t n) { act_split(nn, act, a, g, n); }
