/* Reference for ei_attention_prefill and ei_attention_decode. */
#include <math.h>
#include <stdlib.h>

#include "ref.h"

void ref_attention(const ei_attention_desc *d, const float *q, const float *k, const float *v, const uint32_t *lens,
                   float *out) {
    uint32_t G = d->heads / d->kv_heads, D = d->dim;
    double scale = d->scale > 0 ? d->scale : 1.0 / sqrt((double)D);
    double *s = malloc(sizeof(double) * d->kv_len);
    double *acc = malloc(sizeof(double) * D);
    if (!s || !acc) abort();
    for (uint32_t i = 0; i < d->q_len; i++)
        for (uint32_t h = 0; h < d->heads; h++) {
            uint32_t hk = h / G;
            int64_t len = lens ? (lens[hk] < d->kv_len ? lens[hk] : d->kv_len) : d->kv_len;
            int64_t pos = len - (int64_t)d->q_len + i; /* end-aligned */
            const float *qr = q + ((uint64_t)i * d->heads + h) * D;
            double big = -INFINITY;
            for (int64_t j = 0; j < len; j++) {
                int visible = (!d->causal || j <= pos) && (!d->window || pos - j < (int64_t)d->window);
                if (!visible) {
                    s[j] = -INFINITY;
                    continue;
                }
                const float *kr = k + ((uint64_t)j * d->kv_heads + hk) * D;
                double dot = 0;
                for (uint32_t c = 0; c < D; c++) dot += (double)qr[c] * kr[c];
                dot *= scale;
                if (d->softcap > 0) dot = d->softcap * tanh(dot / d->softcap);
                s[j] = dot;
                if (dot > big) big = dot;
            }
            for (uint32_t c = 0; c < D; c++) acc[c] = 0;
            double sum = 0;
            for (int64_t j = 0; big > -INFINITY && j < len; j++) {
                if (s[j] == -INFINITY) continue;
                double p = exp(s[j] - big);
                sum += p;
                const float *vr = v + ((uint64_t)j * d->kv_heads + hk) * D;
                for (uint32_t c = 0; c < D; c++) acc[c] += p * vr[c];
            }
            float *o = out + ((uint64_t)i * d->heads + h) * D;
            for (uint32_t c = 0; c < D; c++) o[c] = sum > 0 ? (float)(acc[c] / sum) : 0.0f;
        }
    free(s);
    free(acc);
}
