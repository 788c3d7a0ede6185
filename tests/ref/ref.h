/* CPU reference of every GPU operation: plain C, double accumulation where
 * anything accumulates. Inputs are the stored values converted to float. */
#ifndef EI_REF_H
#define EI_REF_H

#include <stdint.h>

#include "entropyinfer.h"
#include "entropyinfer_gguf.h"

/* pool.c: max/min over groups of `group` rows (the last may be ragged) of
 * x[rows][heads][dim]; outputs [ceil(rows/group)][heads][dim]. */
void ref_pool_minmax(const float *x, uint32_t rows, uint32_t heads, uint32_t dim, uint32_t group, float *out_max,
                     float *out_min);

/* attention.c: the attention of ei_attention_prefill / ei_attention_decode
 * (desc's semantics exactly), softmax in double. lens: per-KV-head cache
 * lengths, or NULL for kv_len. out: [q_len][heads][dim]. */
void ref_attention(const ei_attention_desc *d, const float *q, const float *k, const float *v, const uint32_t *lens,
                   float *out);

/* The attention of ei_attention_sparse: each query row's keys are every
 * earlier key for a dense segment, else the selected blocks plus its own
 * segment up to itself. keep [kv_heads][nseg], selected
 * [kv_heads][nseg][max_keep] for a prompt of d->kv_len tokens. */
void ref_attention_sparse(const ei_attention_desc *d, const ei_entropy_config *cfg, uint32_t layer, const float *q,
                          const float *k, const float *v, const uint32_t *keep, const uint32_t *selected, float *out);

/* entropy.c: the EntropyInfer prefill profile (algorithm.md sections 1-2).
 * scores: [kv_heads][nseg][nblk] doubles, the masked entries at the mask
 * value; entropy: [kv_heads][nseg]. Reference mode with f16/bf16 d->dtype
 * rounds where the paper's code does (section 2b) and, like layer fusion
 * (fused: [kv_heads][nseg][nblk], carried across layers; NULL without
 * fusion), replaces the visible scores by P. */
void ref_observe(const ei_profile_desc *d, const ei_entropy_config *cfg, const float *qmax, const float *qmin,
                 const float *kmax, const float *kmin, double *scores, double *entropy, double *fused);

/* The budget recurrence in the same f32 operations as the GPU (this file is
 * compiled without floating-point contraction). keep: [kv_heads][nseg]. */
void ref_budgets(const ei_profile_desc *d, const ei_entropy_config *cfg, const float *entropy, uint32_t *keep,
                 uint32_t *rigid);

/* The k largest of scores[0, n), ties to the lower index, in ascending
 * index order, into out; returns min(k, n). */
uint32_t ref_topk(const double *scores, uint32_t n, uint32_t k, uint32_t *out);

/* quant.c: n elements (whole blocks) of a ggml type to floats; 0 for a
 * type it does not know (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
 * Q4_K, Q5_K and Q6_K are known). */
int ref_dequantize(uint32_t type, const void *data, uint64_t n, float *out);

/* transformer.c: the pieces of a transformer layer, in double. */
void ref_rms_norm(uint32_t rows, uint32_t dim, double eps, const float *x, const float *w, float *out);
void ref_elementwise(ei_elementwise_op op, uint64_t n, const float *a, const float *b, float *out);
/* theta as the GPU forms it (f32 inverse frequency times f32 position),
 * sine and cosine in double. */
void ref_rope(const ei_rope_desc *d, float *x, const float *factors);

/* kvcache.c: decode-time compression (algorithm.md sections 4-5) on a host
 * copy of a cache: K [cap][hc][dim], lens [hc]; obs [W][heads][dim]. */
void ref_kv_scores(uint32_t hc, uint32_t heads, uint32_t dim, uint32_t window, uint32_t cap, const uint32_t *lens,
                   const float *k, const float *obs, double scale, int gqa_max, double *score);
void ref_kv_pool(uint32_t hc, uint32_t cap, uint32_t window, uint32_t kernel, const uint32_t *lens, const double *score,
                 double *pooled);
/* AdaKV keeps per head: each head's top `floor_keep` first, then the best of
 * the rest jointly up to `total`, ties to lower heads and indices. */
void ref_kv_adakv_keep(uint32_t hc, uint32_t cap, uint32_t window, const uint32_t *lens, const double *pooled,
                       uint32_t floor_keep, uint32_t total, uint32_t *keep);

/* Top keep[hk][s] of scores[hk][s][0, s * nrep), ties to the lower index,
 * ascending, into selected [kv_heads][nseg][max_keep]. */
void ref_select(const ei_profile_desc *d, const ei_entropy_config *cfg, const double *scores, const uint32_t *keep,
                uint32_t *selected);

#endif
