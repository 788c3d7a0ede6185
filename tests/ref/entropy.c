/* Reference for ei_observe, ei_budgets and ei_select_blocks, written from
 * algorithm.md sections 1-2 step by step. */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "ref.h"
#include "util/test_util.h"

/* The dtype reference mode rounds to, EI_F32 for none. */
static ei_dtype rounding(const ei_profile_desc *d, const ei_entropy_config *cfg) {
    return cfg->mode == EI_PREFILL_REFERENCE && (d->dtype == EI_F16 || d->dtype == EI_BF16) ? d->dtype : EI_F32;
}

/* x rounded to t (to f32 first: the GPU's values are f32). */
static double rnd(double x, ei_dtype t) {
    if (t == EI_F16) return tu_f16_to_f32(tu_f32_to_f16((float)x));
    if (t == EI_BF16) return tu_bf16_to_f32(tu_f32_to_bf16((float)x));
    return x;
}

void ref_observe(const ei_profile_desc *d, const ei_entropy_config *cfg, const float *qmax, const float *qmin,
                 const float *kmax, const float *kmin, double *scores, double *entropy, double *fused) {
    ei_profile_shape sh = ei_profile_shape_of(d, cfg);
    uint32_t G = d->heads / d->kv_heads, D = d->dim, nrep = cfg->segment_size / cfg->block_size;
    ei_dtype R = rounding(d, cfg);
    double masked = R == EI_F16 ? -65504.0 : R == EI_BF16 ? -3.38953139e38 : -FLT_MAX;
    int blend = cfg->layer_fusion && d->layer >= 2, write_p = R != EI_F32 || cfg->layer_fusion;
    for (uint32_t hk = 0; hk < d->kv_heads; hk++)
        for (uint32_t s = 0; s < sh.nseg; s++) {
            double *a = scores + ((uint64_t)hk * sh.nseg + s) * sh.nblk;
            for (uint32_t j = 0; j < sh.nblk; j++) {
                if (j >= s * nrep) { /* step 6: the causal block mask */
                    a[j] = masked;
                    continue;
                }
                double mean = 0;
                for (uint32_t g = 0; g < G; g++) { /* step 5: mean over the group */
                    uint32_t h = hk * G + g;
                    const float *qx = qmax + ((uint64_t)s * d->heads + h) * D;
                    const float *qn = qmin + ((uint64_t)s * d->heads + h) * D;
                    const float *kx = kmax + ((uint64_t)j * d->kv_heads + hk) * D;
                    const float *kn = kmin + ((uint64_t)j * d->kv_heads + hk) * D;
                    double xx = 0, nx = 0, xn = 0, nn = 0;
                    for (uint32_t c = 0; c < D; c++) {
                        xx += (double)qx[c] * kx[c];
                        nx += (double)qn[c] * kx[c];
                        xn += (double)qx[c] * kn[c];
                        nn += (double)qn[c] * kn[c];
                    }
                    /* Step 4; with R each matmul result and each mean rounds. */
                    double a_max = rnd((rnd(xx, R) + rnd(nx, R)) / 2, R), a_min = rnd((rnd(xn, R) + rnd(nn, R)) / 2, R);
                    if (R == EI_F32) a_max = (xx + nx) / 2, a_min = (xn + nn) / 2;
                    mean += a_max > a_min ? a_max : a_min;
                }
                a[j] = rnd(mean / G, R);
            }
            /* Steps 7-8: softmax over all nblk blocks, then entropy. */
            double big = -INFINITY, z = 0, e = 0;
            for (uint32_t j = 0; j < sh.nblk; j++)
                big = a[j] > big ? a[j] : big;
            for (uint32_t j = 0; j < sh.nblk; j++)
                z += exp(a[j] - big);
            double *f = fused ? fused + ((uint64_t)hk * sh.nseg + s) * sh.nblk : NULL;
            for (uint32_t j = 0; j < sh.nblk; j++) {
                double p = rnd(exp(a[j] - big) / z, R);
                if (blend) p = rnd(rnd(f[j] * 0.25, R) + rnd(p * 0.75, R), R);
                if (f) f[j] = p;
                if (write_p && j < s * nrep) a[j] = p;
                if (p > 0) e -= rnd(p * rnd(log(rnd(p + 1e-9, R)), R), R); /* 0 log 0 = 0, also in f16 */
            }
            entropy[hk * sh.nseg + s] = rnd(e, R);
        }
}

void ref_budgets(const ei_profile_desc *d, const ei_entropy_config *cfg, const float *entropy, uint32_t *keep,
                 uint32_t *rigid) {
    ei_profile_shape sh = ei_profile_shape_of(d, cfg);
    uint32_t nrep = cfg->segment_size / cfg->block_size, b = cfg->block_size;
    const float B0 = (float)cfg->base_budget, dt = cfg->delta_t, gain = cfg->alpha * B0;
    uint32_t maxeff = sh.nblk - ((d->len % cfg->segment_size) / b + 1);
    ei_dtype R = rounding(d, cfg);
    for (uint32_t hk = 0; hk < d->kv_heads; hk++) {
        const float *E = entropy + hk * sh.nseg;
        uint32_t *k = keep + hk * sh.nseg;
        rigid[hk] = sh.nseg >= 2;
        for (uint32_t s = 1; s < sh.nseg; s++)
            if (!(E[s] < cfg->e_t)) rigid[hk] = 0;
        if (sh.nseg < 2) {
            for (uint32_t s = 0; s < sh.nseg; s++)
                k[s] = (uint32_t)floorf(B0 / (float)b);
            continue;
        }
        float budget = B0;
        k[0] = 0;
        for (uint32_t s = 1; s < sh.nseg; s++) {
            if (!rigid[hk] && cfg->mode != EI_PREFILL_CRITIPREFILL) {
                float r = (float)rnd(dt, R);
                if (s > 1) r = (float)rnd((float)rnd(E[s] - E[s - 1], R) / (float)rnd(E[s - 1] + 1e-9f, R), R);
                r = (float)rnd(fminf(fmaxf(r, 0.0f), 1.0f + dt), R);
                float step = (float)rnd(gain * (float)rnd(r - dt, R), R);
                budget = (float)rnd(fminf(fmaxf((float)rnd(budget + step, R), B0), 3.0f * B0), R);
            }
            uint32_t n = (uint32_t)floorf((float)rnd(budget / (float)b, R));
            uint32_t cap = s * nrep < maxeff ? s * nrep : maxeff;
            k[s] = cfg->mode == EI_PREFILL_FULL ? 0 : n < cap ? n : cap;
        }
    }
    if (cfg->mode == EI_PREFILL_REFERENCE && sh.nseg >= 2)
        for (uint32_t s = 1; s < sh.nseg; s++) {
            uint32_t most = 0;
            for (uint32_t hk = 0; hk < d->kv_heads; hk++)
                most = keep[hk * sh.nseg + s] > most ? keep[hk * sh.nseg + s] : most;
            for (uint32_t hk = 0; hk < d->kv_heads; hk++)
                keep[hk * sh.nseg + s] = most;
        }
}

typedef struct ranked {
    double score;
    uint32_t index;
} ranked;

static int by_score(const void *x, const void *y) {
    const ranked *a = x, *b = y;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

static int by_index(const void *x, const void *y) {
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return (a > b) - (a < b);
}

uint32_t ref_topk(const double *scores, uint32_t n, uint32_t k, uint32_t *out) {
    ranked *r = malloc(sizeof *r * (n ? n : 1));
    if (!r) abort();
    for (uint32_t j = 0; j < n; j++)
        r[j] = (ranked){scores[j], j};
    qsort(r, n, sizeof *r, by_score);
    uint32_t m = k < n ? k : n;
    for (uint32_t i = 0; i < m; i++)
        out[i] = r[i].index;
    qsort(out, m, sizeof *out, by_index);
    free(r);
    return m;
}

void ref_select(const ei_profile_desc *d, const ei_entropy_config *cfg, const double *scores, const uint32_t *keep,
                uint32_t *selected) {
    ei_profile_shape sh = ei_profile_shape_of(d, cfg);
    uint32_t nrep = cfg->segment_size / cfg->block_size;
    for (uint32_t hk = 0; hk < d->kv_heads; hk++)
        for (uint32_t s = 1; s < sh.nseg; s++) {
            uint64_t row = (uint64_t)hk * sh.nseg + s;
            ref_topk(scores + row * sh.nblk, s * nrep < sh.nblk ? s * nrep : sh.nblk, keep[row],
                     selected + row * sh.max_keep);
        }
}
