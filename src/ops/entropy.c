/* The EntropyInfer prefill profile: observation scores and entropy,
 * budgets, and block selection (algorithm.md sections 1-2). */
#include <stdio.h>

#include "../vk/internal.h"

#define SCORES_WORKGROUP 64
#define SCORES_MAX_SEGMENTS 8
#define SOFTMAX_WORKGROUP 256
#define BUDGETS_WORKGROUP 64

/* Checks what every step shares: the config, the shapes, nseg >= 2 where
 * blocks are involved. */
static ei_status check_common(ei_context *ctx, const ei_profile_desc *d, const ei_entropy_config *cfg, int need_blocks,
                              const char *fn, ei_profile_shape *shape) {
    char why[200];
    if (!d || !cfg) return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "%s: desc or config is NULL", fn);
    if (ei_entropy_config_check(cfg, why, sizeof why) != EI_OK)
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "%s: %s", fn, why);
    if (!d->len || !d->heads || !d->kv_heads || !d->dim || d->heads % d->kv_heads)
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT,
                       "%s: len, heads, kv_heads, dim must be positive and kv_heads divide heads", fn);
    *shape = ei_profile_shape_of(d, cfg);
    if (need_blocks && shape->nseg < 2)
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "%s: a prompt of %u tokens has one segment and no blocks", fn,
                       d->len);
    return EI_OK;
}

/* Checks and binds one tensor of `n` elements of dtype `want`. */
static ei_status bind(ei_context *ctx, ei_tensor t, ei_dtype want, uint64_t n, const char *fn, const char *name,
                      ei_binding *b, uint32_t *skip) {
    char what[96];
    snprintf(what, sizeof what, "%s: %s", fn, name);
    if (t.dtype != want)
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "%s must be %s", what, want == EI_U32 ? "EI_U32" : "EI_F32");
    ei_status st = ei_tensor_check(ctx, t, n, what);
    return st == EI_OK ? ei_tensor_binding(ctx, t, 0, n, b, skip) : st;
}

/* The dtype reference mode rounds to (EI_F32: none). */
static uint32_t rounding(const ei_profile_desc *d, const ei_entropy_config *cfg) {
    return cfg->mode == EI_PREFILL_REFERENCE && (d->dtype == EI_F16 || d->dtype == EI_BF16) ? d->dtype : EI_F32;
}

ei_status ei_observe(ei_cmd *cmd, const ei_profile_desc *d, const ei_entropy_config *cfg, ei_tensor qmax,
                     ei_tensor qmin, ei_tensor kmax, ei_tensor kmin, ei_tensor scores, ei_tensor entropy,
                     const ei_tensor *fused) {
    if (!cmd) return EI_ERROR_INVALID_ARGUMENT;
    ei_context *ctx = cmd->ctx;
    const char *fn = "ei_observe";
    ei_profile_shape sh = {0}; /* set by check_common; -O3 cannot tell */
    ei_status st = check_common(ctx, d, cfg, 1, fn, &sh);
    if (st != EI_OK) return st;
    uint32_t G = d->heads / d->kv_heads;
    uint64_t q_n = (uint64_t)sh.nseg * d->heads * d->dim, k_n = (uint64_t)sh.nblk * d->kv_heads * d->dim;
    uint64_t a_n = (uint64_t)d->kv_heads * sh.nseg * sh.nblk, e_n = (uint64_t)d->kv_heads * sh.nseg;
    uint32_t per_segment = G * d->dim * 8, st_count = ctx->facts.max_shared_memory / per_segment;
    if (st_count > SCORES_MAX_SEGMENTS) st_count = SCORES_MAX_SEGMENTS;
    if (st_count == 0)
        return ei_fail(ctx, EI_ERROR_LIMIT_EXCEEDED, "%s: %u query heads per KV head x dim %u exceed shared memory", fn,
                       G, d->dim);
    struct {
        uint32_t nseg, nblk, nrep, heads, kv_heads, qmax_skip, qmin_skip, kmax_skip, kmin_skip, scores_skip;
    } sp = {sh.nseg, sh.nblk, cfg->segment_size / cfg->block_size, d->heads, d->kv_heads};
    struct {
        uint32_t nseg, nblk, nrep, scores_skip, entropy_skip, fused_skip;
    } ep = {sh.nseg, sh.nblk, sp.nrep};
    if (cfg->layer_fusion && !fused)
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "%s: layer_fusion needs the fused tensor", fn);
    uint32_t round = rounding(d, cfg), fusion = cfg->layer_fusion ? (d->layer >= 2 ? 2 : 1) : 0;
    ei_binding b[7];
    if ((st = bind(ctx, qmax, EI_F32, q_n, fn, "qmax", &b[0], &sp.qmax_skip)) ||
        (st = bind(ctx, qmin, EI_F32, q_n, fn, "qmin", &b[1], &sp.qmin_skip)) ||
        (st = bind(ctx, kmax, EI_F32, k_n, fn, "kmax", &b[2], &sp.kmax_skip)) ||
        (st = bind(ctx, kmin, EI_F32, k_n, fn, "kmin", &b[3], &sp.kmin_skip)) ||
        (st = bind(ctx, scores, EI_F32, a_n, fn, "scores", &b[4], &sp.scores_skip)) ||
        (st = bind(ctx, entropy, EI_F32, e_n, fn, "entropy", &b[5], &ep.entropy_skip)) ||
        (fusion && (st = bind(ctx, *fused, EI_F32, a_n, fn, "fused", &b[6], &ep.fused_skip))))
        return st;
    if (!fusion) b[6] = b[4]; /* not touched */
    ep.scores_skip = sp.scores_skip;
    ei_kernel ks = {.shader = "entropy_scores",
                    .bindings = 5,
                    .push_size = sizeof sp,
                    .spec_count = 6,
                    .spec = {SCORES_WORKGROUP, SCORES_WORKGROUP, d->dim, G, st_count, round}};
    ei_kernel ke = {.shader = "entropy_softmax",
                    .bindings = 3,
                    .push_size = sizeof ep,
                    .spec_count = 5,
                    .spec = {SOFTMAX_WORKGROUP, SOFTMAX_WORKGROUP, round, fusion, round != EI_F32 || fusion}};
    ei_pipeline *ps, *pe;
    if ((st = ei_pipeline_get(ctx, &ks, &ps)) || (st = ei_pipeline_get(ctx, &ke, &pe))) return st;
    uint32_t gx = (sh.nblk + SCORES_WORKGROUP - 1) / SCORES_WORKGROUP, gy = (sh.nseg + st_count - 1) / st_count;
    st = ei_cmd_dispatch(cmd, ps, b, &sp, gx, gy, d->kv_heads);
    ei_binding eb[3] = {b[4], b[5], b[6]};
    return st == EI_OK ? ei_cmd_dispatch(cmd, pe, eb, &ep, sh.nseg, d->kv_heads, 1) : st;
}

ei_status ei_budgets(ei_cmd *cmd, const ei_profile_desc *d, const ei_entropy_config *cfg, ei_tensor entropy,
                     ei_tensor keep, ei_tensor rigid) {
    if (!cmd) return EI_ERROR_INVALID_ARGUMENT;
    ei_context *ctx = cmd->ctx;
    const char *fn = "ei_budgets";
    ei_profile_shape sh = {0}; /* set by check_common; -O3 cannot tell */
    ei_status st = check_common(ctx, d, cfg, 0, fn, &sh);
    if (st != EI_OK) return st;
    uint64_t n = (uint64_t)d->kv_heads * sh.nseg;
    struct {
        uint32_t kv_heads, nseg, nrep, block, maxeff, mode;
        float base, e_t, delta_t, alpha;
        uint32_t entropy_skip, keep_skip, rigid_skip;
    } p = {d->kv_heads, sh.nseg, cfg->segment_size / cfg->block_size, cfg->block_size,
           /* maxeff = nblk - ((L mod S) / b + 1), as the paper's code; >= 0 when nseg >= 2 */
           sh.nseg >= 2 ? sh.nblk - ((d->len % cfg->segment_size) / cfg->block_size + 1) : 0, (uint32_t)cfg->mode,
           (float)cfg->base_budget, cfg->e_t, cfg->delta_t, cfg->alpha};
    ei_binding b[3];
    if ((st = bind(ctx, entropy, EI_F32, n, fn, "entropy", &b[0], &p.entropy_skip)) ||
        (st = bind(ctx, keep, EI_U32, n, fn, "keep", &b[1], &p.keep_skip)) ||
        (st = bind(ctx, rigid, EI_U32, d->kv_heads, fn, "rigid", &b[2], &p.rigid_skip)))
        return st;
    ei_kernel k = {.shader = "entropy_budgets",
                   .bindings = 3,
                   .push_size = sizeof p,
                   .spec_count = 3,
                   .spec = {BUDGETS_WORKGROUP, BUDGETS_WORKGROUP, rounding(d, cfg)}};
    return ei_cmd_dispatch_kernel(cmd, &k, b, &p, 1, 1, 1);
}

ei_status ei_topk_select(ei_cmd *cmd, const ei_binding b[4], const ei_topk_push *p, uint32_t rows, uint32_t heads) {
    ei_kernel k = {.shader = "topk_select",
                   .bindings = 4,
                   .push_size = sizeof *p,
                   .spec_count = 2,
                   .spec = {TOPK_WORKGROUP, TOPK_WORKGROUP}};
    return ei_cmd_dispatch_kernel(cmd, &k, b, p, rows, heads, 1);
}

ei_status ei_select_blocks(ei_cmd *cmd, const ei_profile_desc *d, const ei_entropy_config *cfg, ei_tensor scores,
                           ei_tensor keep, ei_tensor selected) {
    if (!cmd) return EI_ERROR_INVALID_ARGUMENT;
    ei_context *ctx = cmd->ctx;
    const char *fn = "ei_select_blocks";
    ei_profile_shape sh = {0}; /* set by check_common; -O3 cannot tell */
    ei_status st = check_common(ctx, d, cfg, 1, fn, &sh);
    if (st != EI_OK) return st;
    ei_topk_push p = {.rows = sh.nseg,
                      .first_row = 1,
                      .stride = sh.nblk,
                      .nrep = cfg->segment_size / cfg->block_size,
                      .max_keep = sh.max_keep};
    uint64_t hs = (uint64_t)d->kv_heads * sh.nseg;
    ei_binding b[4];
    if ((st = bind(ctx, scores, EI_F32, hs * sh.nblk, fn, "scores", &b[0], &p.scores_skip)) ||
        (st = bind(ctx, keep, EI_U32, hs, fn, "keep", &b[1], &p.keep_skip)) ||
        (st = bind(ctx, selected, EI_U32, hs * sh.max_keep, fn, "selected", &b[2], &p.selected_skip)))
        return st;
    b[3] = b[1]; /* lens: not read */
    return ei_topk_select(cmd, b, &p, sh.nseg - 1, d->kv_heads);
}
