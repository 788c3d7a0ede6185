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
                for (uint32_t c = 0; c < D; c++)
                    dot += (double)qr[c] * kr[c];
                dot *= scale;
                if (d->softcap > 0) dot = d->softcap * tanh(dot / d->softcap);
                s[j] = dot;
                if (dot > big) big = dot;
            }
            for (uint32_t c = 0; c < D; c++)
                acc[c] = 0;
            double sum = 0;
            for (int64_t j = 0; big > -INFINITY && j < len; j++) {
                if (s[j] == -INFINITY) continue;
                double p = exp(s[j] - big);
                sum += p;
                const float *vr = v + ((uint64_t)j * d->kv_heads + hk) * D;
                for (uint32_t c = 0; c < D; c++)
                    acc[c] += p * vr[c];
            }
            float *o = out + ((uint64_t)i * d->heads + h) * D;
            for (uint32_t c = 0; c < D; c++)
                o[c] = sum > 0 ? (float)(acc[c] / sum) : 0.0f;
        }
    free(s);
    free(acc);
}

void ref_attention_sparse(const ei_attention_desc *d, const ei_entropy_config *cfg, uint32_t layer, const float *q,
                          const float *k, const float *v, const uint32_t *keep, const uint32_t *selected, float *out) {
    ei_profile_desc pd = {d->kv_len, d->heads, d->kv_heads, d->dim};
    ei_profile_shape sh = ei_profile_shape_of(&pd, cfg);
    uint32_t G = d->heads / d->kv_heads, D = d->dim, S = cfg->segment_size, b = cfg->block_size;
    double scale = d->scale > 0 ? d->scale : 1.0 / sqrt((double)D);
    uint32_t *keys = malloc(sizeof(uint32_t) * d->kv_len);
    double *s = malloc(sizeof(double) * d->kv_len), *acc = malloc(sizeof(double) * D);
    if (!keys || !s || !acc) abort();
    for (uint32_t i = 0; i < d->q_len; i++)
        for (uint32_t h = 0; h < d->heads; h++) {
            uint32_t hk = h / G, pos = d->kv_len - d->q_len + i, seg = pos / S, n = 0;
            uint32_t kept = keep[hk * sh.nseg + seg];
            int dense = layer < cfg->layer_skip || cfg->mode == EI_PREFILL_FULL || seg * S < cfg->threshold_len ||
                        seg + 1 >= sh.nseg || kept == 0;
            if (dense) {
                for (uint32_t j = 0; j <= pos; j++)
                    keys[n++] = j;
            } else {
                const uint32_t *list = selected + ((uint64_t)hk * sh.nseg + seg) * sh.max_keep;
                for (uint32_t m = 0; m < kept; m++)
                    for (uint32_t r = 0; r < b; r++)
                        keys[n++] = list[m] * b + r;
                for (uint32_t j = seg * S; j <= pos; j++)
                    keys[n++] = j;
            }
            const float *qr = q + ((uint64_t)i * d->heads + h) * D;
            double big = -INFINITY, sum = 0;
            for (uint32_t m = 0; m < n; m++) {
                const float *kr = k + ((uint64_t)keys[m] * d->kv_heads + hk) * D;
                double dot = 0;
                for (uint32_t c = 0; c < D; c++)
                    dot += (double)qr[c] * kr[c];
                s[m] = dot * scale;
                big = s[m] > big ? s[m] : big;
            }
            for (uint32_t c = 0; c < D; c++)
                acc[c] = 0;
            for (uint32_t m = 0; m < n; m++) {
                double p = exp(s[m] - big);
                sum += p;
                const float *vr = v + ((uint64_t)keys[m] * d->kv_heads + hk) * D;
                for (uint32_t c = 0; c < D; c++)
                    acc[c] += p * vr[c];
            }
            float *o = out + ((uint64_t)i * d->heads + h) * D;
            for (uint32_t c = 0; c < D; c++)
                o[c] = (float)(acc[c] / sum);
        }
    free(keys);
    free(s);
    free(acc);
}
