/* The method's constants (algorithm.md, "Defaults"), their checks, and the
 * counts derived from a prompt's length. */
#include <math.h>
#include <stdio.h>

#include "../vk/internal.h"

ei_entropy_config ei_entropy_config_default(void) {
    ei_entropy_config c = {.mode = EI_PREFILL_ENTROPY,
                           .segment_size = 512,
                           .block_size = 8,
                           .threshold_len = 4096,
                           .base_budget = 2048,
                           .e_t = 1e-5f,
                           .delta_t = 0.4f,
                           .alpha = 0.5f,
                           .layer_skip = 1,
                           .decode_budget = 1024,
                           .decode_gap = 16,
                           .window = 32,
                           .pool_kernel = 5,
                           .layer_fusion = 0};
    return c;
}

ei_status ei_entropy_config_check(const ei_entropy_config *c, char *error, size_t size) {
    const char *why = NULL;
    if (!c)
        why = "the config is NULL";
    else if ((unsigned)c->mode > EI_PREFILL_FULL)
        why = "mode is not one of entropy, reference, critiprefill, full";
    else if (c->block_size == 0 || (c->block_size & (c->block_size - 1)))
        why = "block_size must be a power of two";
    else if (c->segment_size == 0 || c->segment_size % c->block_size)
        why = "segment_size must be a positive multiple of block_size";
    else if (c->base_budget == 0 || c->base_budget % c->block_size)
        why = "base_budget must be a positive multiple of block_size";
    else if (!(c->e_t >= 0) || !isfinite(c->e_t))
        why = "e_t must be finite and not negative";
    else if (!(c->delta_t >= 0) || !isfinite(c->delta_t))
        why = "delta_t must be finite and not negative";
    else if (!(c->alpha >= 0) || !isfinite(c->alpha))
        why = "alpha must be finite and not negative";
    else if (c->window == 0)
        why = "window must be at least 1";
    else if (c->decode_budget <= c->window)
        why = "decode_budget must be larger than window";
    else if (c->decode_gap < -1)
        why = "decode_gap must be -1 (SnapKV) or more";
    else if (c->pool_kernel == 0 || c->pool_kernel % 2 == 0)
        why = "pool_kernel must be odd";
    else if (c->layer_fusion != 0 && c->layer_fusion != 1)
        why = "layer_fusion must be 0 or 1";
    if (!why) return EI_OK;
    if (error && size) snprintf(error, size, "invalid EntropyInfer config: %s", why);
    return EI_ERROR_INVALID_ARGUMENT;
}

ei_profile_shape ei_profile_shape_of(const ei_profile_desc *d, const ei_entropy_config *c) {
    ei_profile_shape s = {0};
    if (!d || !c || !c->segment_size || !c->block_size) return s;
    /* In 64 bits: len + S - 1 and 3 * B0 may pass 2^32. */
    s.nseg = (uint32_t)(((uint64_t)d->len + c->segment_size - 1) / c->segment_size);
    s.pool_len = s.nseg ? (s.nseg - 1) * c->segment_size : 0;
    s.nblk = s.pool_len / c->block_size;
    uint64_t most = 3ull * c->base_budget / c->block_size;
    s.max_keep = most < s.nblk ? (uint32_t)most : s.nblk;
    return s;
}
