/* Reference for ei_kv_compress: scores, pooling, AdaKV's budget split. */
#include <math.h>
#include <stdlib.h>

#include "ref.h"

void ref_kv_scores(uint32_t hc, uint32_t heads, uint32_t dim, uint32_t window, uint32_t cap, const uint32_t *lens,
                   const float *k, const float *obs, double scale, int gqa_max, double *score) {
    uint32_t G = heads / hc;
    double *s = malloc(sizeof(double) * cap), *acc = malloc(sizeof(double) * cap);
    if (!s || !acc) abort();
    for (uint32_t c = 0; c < hc; c++) {
        uint32_t len = lens[c], n = len - (window < len ? window : len);
        for (uint32_t j = 0; j < n; j++)
            score[(uint64_t)c * cap + j] = gqa_max ? -INFINITY : 0;
        for (uint32_t g = 0; g < G; g++) {
            uint32_t h = c * G + g;
            for (uint32_t j = 0; j < n; j++)
                acc[j] = 0;
            for (uint32_t i = 0; i < window; i++) {
                /* Query i sees the keys before the window and window keys 0..i. */
                int64_t visible = (int64_t)len - window + i + 1;
                if (visible > len) visible = len;
                double big = -INFINITY, z = 0;
                for (int64_t j = 0; j < visible; j++) {
                    double dot = 0;
                    for (uint32_t x = 0; x < dim; x++)
                        dot += (double)obs[((uint64_t)i * heads + h) * dim + x] * k[((uint64_t)j * hc + c) * dim + x];
                    s[j] = dot * scale;
                    big = s[j] > big ? s[j] : big;
                }
                for (int64_t j = 0; j < visible; j++)
                    z += exp(s[j] - big);
                for (uint32_t j = 0; j < n; j++)
                    acc[j] += exp(s[j] - big) / z;
            }
            for (uint32_t j = 0; j < n; j++) {
                double mean = acc[j] / window, *out = &score[(uint64_t)c * cap + j];
                *out = gqa_max ? (mean > *out ? mean : *out) : *out + mean / G;
            }
        }
    }
    free(s);
    free(acc);
}

void ref_kv_pool(uint32_t hc, uint32_t cap, uint32_t window, uint32_t kernel, const uint32_t *lens, const double *score,
                 double *pooled) {
    int half = (int)kernel / 2;
    for (uint32_t c = 0; c < hc; c++) {
        int64_t n = (int64_t)lens[c] - (window < lens[c] ? window : lens[c]);
        for (int64_t j = 0; j < n; j++) {
            double sum = 0;
            for (int t = -half; t <= half; t++)
                if (j + t >= 0 && j + t < n) sum += score[(uint64_t)c * cap + j + t];
            pooled[(uint64_t)c * cap + j] = sum / kernel;
        }
    }
}

void ref_kv_adakv_keep(uint32_t hc, uint32_t cap, uint32_t window, const uint32_t *lens, const double *pooled,
                       uint32_t floor_keep, uint32_t total, uint32_t *keep) {
    /* Lift each head's top floor keys above every score, then take the best
     * `total` over all heads in (score, head, index) order. */
    uint64_t all = 0;
    for (uint32_t c = 0; c < hc; c++)
        all += lens[c] - (window < lens[c] ? window : lens[c]);
    double *lifted = malloc(sizeof(double) * (all ? all : 1));
    uint32_t *top = malloc(sizeof(uint32_t) * (floor_keep ? floor_keep : 1));
    if (!lifted || !top) abort();
    uint64_t at = 0;
    for (uint32_t c = 0; c < hc; c++) {
        uint32_t n = lens[c] - (window < lens[c] ? window : lens[c]);
        for (uint32_t j = 0; j < n; j++)
            lifted[at + j] = pooled[(uint64_t)c * cap + j];
        uint32_t m = ref_topk(pooled + (uint64_t)c * cap, n, floor_keep, top);
        for (uint32_t i = 0; i < m; i++)
            lifted[at + top[i]] = INFINITY;
        at += n;
    }
    uint32_t *chosen = malloc(sizeof(uint32_t) * (all ? all : 1));
    if (!chosen) abort();
    uint32_t m = ref_topk(lifted, (uint32_t)all, total, chosen);
    at = 0;
    uint32_t i = 0;
    for (uint32_t c = 0; c < hc; c++) {
        uint32_t n = lens[c] - (window < lens[c] ? window : lens[c]);
        keep[c] = 0;
        while (i < m && chosen[i] < at + n)
            keep[c]++, i++;
        at += n;
    }
    free(lifted);
    free(top);
    free(chosen);
}
