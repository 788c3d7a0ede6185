/* Reference for ei_rms_norm, ei_elementwise and ei_rope. */
#include <math.h>

#include "ref.h"

void ref_rms_norm(uint32_t rows, uint32_t dim, double eps, const float *x, const float *w, float *out) {
    for (uint32_t r = 0; r < rows; r++) {
        double ss = 0;
        for (uint32_t c = 0; c < dim; c++)
            ss += (double)x[(uint64_t)r * dim + c] * x[(uint64_t)r * dim + c];
        double inv = 1.0 / sqrt(ss / dim + eps);
        for (uint32_t c = 0; c < dim; c++)
            out[(uint64_t)r * dim + c] = (float)(x[(uint64_t)r * dim + c] * inv * (w ? w[c] : 1.0));
    }
}

void ref_elementwise(ei_elementwise_op op, uint64_t n, const float *a, const float *b, float *out) {
    for (uint64_t i = 0; i < n; i++) {
        double x = a[i], y = b[i];
        if (op == EI_SWIGLU)
            out[i] = (float)(x / (1 + exp(-x)) * y);
        else if (op == EI_GEGLU_TANH)
            out[i] = (float)(0.5 * x * (1 + tanh(sqrt(2 / 3.14159265358979323846) * (x + 0.044715 * x * x * x))) * y);
        else
            out[i] = (float)(x + y);
    }
}

void ref_rope(const ei_rope_desc *d, float *x, const float *factors) {
    uint32_t pairs = d->rot / 2;
    for (uint32_t t = 0; t < d->tokens; t++)
        for (uint32_t h = 0; h < d->heads; h++)
            for (uint32_t i = 0; i < pairs; i++) {
                float inv = powf(d->base, -2.0f * (float)i / (float)d->rot);
                if (factors) inv /= factors[i];
                double theta = (double)((float)(d->pos0 + t) * d->freq_scale * inv);
                float *v = x + ((uint64_t)t * d->heads + h) * d->dim;
                uint32_t j0 = d->neox ? i : 2 * i, j1 = d->neox ? i + pairs : 2 * i + 1;
                double a = v[j0], b = v[j1];
                v[j0] = (float)(a * cos(theta) - b * sin(theta));
                v[j1] = (float)(a * sin(theta) + b * cos(theta));
            }
}
