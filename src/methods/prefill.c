/* EntropyInfer prefill of one layer: profile (pool, observe, budgets,
 * select) and block-sparse attention, in the caller's scratch buffer. */
#include "../vk/internal.h"

/* Whether any segment of the prompt can run sparse in this layer. */
static int needs_profile(const ei_entropy_config *cfg, uint32_t layer, const ei_profile_shape *sh) {
    if (cfg->mode == EI_PREFILL_FULL || layer < cfg->layer_skip || sh->nseg < 3) return 0;
    /* Segments 1 .. nseg-2 may be sparse; the earliest of them that starts at
     * or after threshold_len decides. */
    uint64_t first = (cfg->threshold_len + cfg->segment_size - 1) / cfg->segment_size;
    if (first < 1) first = 1;
    return first <= sh->nseg - 2;
}

ei_status ei_prefill_layout_of(ei_context *ctx, const ei_attention_desc *d, const ei_entropy_config *cfg,
                               uint32_t layer, ei_prefill_layout *out) {
    if (!ctx) return EI_ERROR_INVALID_ARGUMENT;
    if (!d || !cfg || !out) return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_prefill_layout_of: NULL argument");
    char why[200];
    if (ei_entropy_config_check(cfg, why, sizeof why) != EI_OK)
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_prefill_layout_of: %s", why);
    if (d->q_len != d->kv_len || !d->causal || d->window)
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT,
                       "ei_prefill_layout_of: a layer's prefill is causal over the whole prompt (q_len = kv_len, no "
                       "window)");
    if (!d->heads || !d->kv_heads || d->heads % d->kv_heads)
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_prefill_layout_of: kv_heads must divide heads");
    ei_profile_desc pd = {d->kv_len, d->heads, d->kv_heads, d->dim, EI_F32, layer};
    ei_prefill_layout l = {.shape = ei_profile_shape_of(&pd, cfg)};
    l.profiled = needs_profile(cfg, layer, &l.shape);
    uint64_t at = 0;
    if (l.profiled) {
        const ei_profile_shape *sh = &l.shape;
        uint64_t q = (uint64_t)sh->nseg * d->heads * d->dim * 4, k = (uint64_t)sh->nblk * d->kv_heads * d->dim * 4;
        uint64_t hs = (uint64_t)d->kv_heads * sh->nseg;
        l.qmax = ei_scratch_place(&at, q);
        l.qmin = ei_scratch_place(&at, q);
        l.kmax = ei_scratch_place(&at, k);
        l.kmin = ei_scratch_place(&at, k);
        l.scores = ei_scratch_place(&at, hs * sh->nblk * 4);
        l.entropy = ei_scratch_place(&at, hs * 4);
        l.keep = ei_scratch_place(&at, hs * 4);
        l.rigid = ei_scratch_place(&at, (uint64_t)d->kv_heads * 4);
        l.selected = ei_scratch_place(&at, hs * sh->max_keep * 4);
        if (cfg->layer_fusion) l.fused = ei_scratch_place(&at, hs * sh->nblk * 4);
    }
    l.bytes = at ? at : 4;
    *out = l;
    return EI_OK;
}

/* A tensor of the layout l in the scratch buffer. */
#define T(name, type) ((ei_tensor){scratch, l.name, type})

static ei_status check_scratch(ei_context *ctx, const ei_prefill_layout *l, const ei_buffer *scratch, const char *fn) {
    if (!scratch || scratch->size < l->bytes)
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "%s: scratch must hold %llu bytes", fn,
                       (unsigned long long)l->bytes);
    return EI_OK;
}

ei_status ei_prefill_profile(ei_cmd *cmd, const ei_attention_desc *d, const ei_entropy_config *cfg, uint32_t layer,
                             ei_tensor q, ei_tensor k, ei_buffer *scratch) {
    if (!cmd) return EI_ERROR_INVALID_ARGUMENT;
    ei_context *ctx = cmd->ctx;
    ei_prefill_layout l;
    ei_status st = ei_prefill_layout_of(ctx, d, cfg, layer, &l);
    if (st != EI_OK || !l.profiled) return st;
    if ((st = check_scratch(ctx, &l, scratch, "ei_prefill_profile"))) return st;
    const ei_profile_shape *sh = &l.shape;
    ei_profile_desc pd = {d->kv_len, d->heads, d->kv_heads, d->dim, q.dtype, layer};
    ei_tensor fused = T(fused, EI_F32);
    ei_pool_desc qd = {d->q_len, d->heads, d->dim, cfg->segment_size};
    ei_pool_desc kd = {sh->pool_len, d->kv_heads, d->dim, cfg->block_size};
    if ((st = ei_pool_minmax(cmd, &qd, q, T(qmax, EI_F32), T(qmin, EI_F32))) ||
        (st = ei_pool_minmax(cmd, &kd, k, T(kmax, EI_F32), T(kmin, EI_F32))) ||
        (st = ei_observe(cmd, &pd, cfg, T(qmax, EI_F32), T(qmin, EI_F32), T(kmax, EI_F32), T(kmin, EI_F32),
                         T(scores, EI_F32), T(entropy, EI_F32), cfg->layer_fusion ? &fused : NULL)) ||
        (st = ei_budgets(cmd, &pd, cfg, T(entropy, EI_F32), T(keep, EI_U32), T(rigid, EI_U32))))
        return st;
    return ei_select_blocks(cmd, &pd, cfg, T(scores, EI_F32), T(keep, EI_U32), T(selected, EI_U32));
}

ei_status ei_prefill_attend(ei_cmd *cmd, const ei_attention_desc *d, const ei_entropy_config *cfg, uint32_t layer,
                            ei_tensor q, ei_tensor k, ei_tensor v, ei_tensor out, ei_buffer *scratch) {
    if (!cmd) return EI_ERROR_INVALID_ARGUMENT;
    ei_prefill_layout l;
    ei_status st = ei_prefill_layout_of(cmd->ctx, d, cfg, layer, &l);
    if (st != EI_OK) return st;
    if (!l.profiled) return ei_attention_prefill(cmd, d, q, k, v, out);
    if ((st = check_scratch(cmd->ctx, &l, scratch, "ei_prefill_attend"))) return st;
    return ei_attention_sparse(cmd, d, cfg, layer, q, k, v, T(keep, EI_U32), T(selected, EI_U32), out);
}
#undef T

ei_status ei_prefill_layer(ei_cmd *cmd, const ei_attention_desc *d, const ei_entropy_config *cfg, uint32_t layer,
                           ei_tensor q, ei_tensor k, ei_tensor v, ei_tensor out, ei_buffer *scratch) {
    ei_status st = ei_prefill_profile(cmd, d, cfg, layer, q, k, scratch);
    return st == EI_OK ? ei_prefill_attend(cmd, d, cfg, layer, q, k, v, out, scratch) : st;
}
