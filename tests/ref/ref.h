/* CPU reference of every GPU operation: plain C, double accumulation where
 * anything accumulates. Inputs are the stored values converted to float. */
#ifndef EI_REF_H
#define EI_REF_H

#include <stdint.h>

#include "entropyinfer.h"

/* pool.c: max/min over groups of `group` rows (the last may be ragged) of
 * x[rows][heads][dim]; outputs [ceil(rows/group)][heads][dim]. */
void ref_pool_minmax(const float *x, uint32_t rows, uint32_t heads, uint32_t dim, uint32_t group, float *out_max,
                     float *out_min);

/* attention.c: the attention of ei_attention_prefill / ei_attention_decode
 * (desc's semantics exactly), softmax in double. lens: per-KV-head cache
 * lengths, or NULL for kv_len. out: [q_len][heads][dim]. */
void ref_attention(const ei_attention_desc *d, const float *q, const float *k, const float *v, const uint32_t *lens,
                   float *out);

#endif
