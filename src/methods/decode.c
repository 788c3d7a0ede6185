/* Decode-time KV-cache compression (algorithm.md sections 4-5): latent
 * decode, SnapKV and AdaKV over one layer's cache. */
#include <math.h>

#include "../ops/kvcache.h"

#define SCORE_WORKGROUP 256
#define POOL_WORKGROUP 256
#define COMPACT_WORKGROUP 256
#define ADAKV_MAX_HEADS 64
int ei_kv_compress_due(const ei_entropy_config *cfg, ei_kv_method method, uint32_t step) {
    if (!cfg || method == EI_KV_FULL) return 0;
    if (method == EI_KV_LATENT && cfg->decode_gap >= 0) return step == (uint32_t)cfg->decode_gap + 1;
    return step == 0;
}

uint32_t ei_kv_prompt_observations(const ei_entropy_config *cfg, ei_kv_method method) {
    if (!cfg) return 0;
    if (method == EI_KV_LATENT && cfg->decode_gap >= 0)
        return (int64_t)cfg->window - cfg->decode_gap > 1 ? cfg->window - (uint32_t)cfg->decode_gap : 1;
    return cfg->window;
}

/* Where each piece of a compression lives in the scratch buffer. */
typedef struct layout {
    uint32_t max_keep, floor_keep, max_rows;
    uint64_t stats, score, pooled, keep, floor_sel, selected, k_stage, v_stage, new_lens, bytes;
} layout;

static layout make_layout(const ei_kv_cache *c, const ei_entropy_config *cfg, const ei_kv_compress_desc *d) {
    layout l = {0};
    uint32_t per_head = cfg->decode_budget - cfg->window, cap = c->desc.capacity, hc = c->heads;
    uint64_t most = d->method == EI_KV_ADAKV ? (uint64_t)hc * per_head : per_head;
    l.max_keep = most < cap ? (uint32_t)most : cap;
    float fraction = d->adakv_floor > 0 ? d->adakv_floor : 0.2f;
    l.floor_keep = d->method == EI_KV_ADAKV ? (uint32_t)floorf(fraction * (float)per_head) : 0;
    l.max_rows = l.max_keep + cfg->window < cap ? l.max_keep + cfg->window : cap;
    uint64_t rows = (uint64_t)l.max_rows * hc * c->desc.dim * ei_dtype_size(c->desc.dtype), at = 0;
    l.stats = ei_scratch_place(&at, (uint64_t)d->heads * cfg->window * 8);
    l.score = ei_scratch_place(&at, (uint64_t)hc * cap * 4);
    l.pooled = ei_scratch_place(&at, (uint64_t)hc * cap * 4);
    l.keep = ei_scratch_place(&at, (uint64_t)hc * 4);
    l.floor_sel = ei_scratch_place(&at, (uint64_t)hc * (l.floor_keep ? l.floor_keep : 1) * 4);
    l.selected = ei_scratch_place(&at, (uint64_t)hc * l.max_keep * 4);
    l.k_stage = ei_scratch_place(&at, rows);
    l.v_stage = ei_scratch_place(&at, rows);
    l.new_lens = ei_scratch_place(&at, (uint64_t)hc * 4);
    l.bytes = at;
    return l;
}

static ei_status check(ei_context *ctx, const ei_kv_cache *c, const ei_entropy_config *cfg,
                       const ei_kv_compress_desc *d) {
    char why[200];
    if (!c || !cfg || !d) return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_kv_compress: NULL argument");
    if (ei_entropy_config_check(cfg, why, sizeof why) != EI_OK)
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_kv_compress: %s", why);
    if ((unsigned)d->method > EI_KV_ADAKV || (unsigned)d->gqa > EI_GQA_MAX)
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_kv_compress: unknown method or GQA scoring");
    if (!d->heads || d->heads % c->heads)
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT,
                       "ei_kv_compress: %u query heads are not a multiple of the cache's %u stored heads", d->heads,
                       c->heads);
    if (!(d->scale >= 0) || !isfinite(d->scale) || !(d->adakv_floor >= 0) || d->adakv_floor > 1)
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_kv_compress: scale must be finite, adakv_floor in [0, 1]");
    if (d->method == EI_KV_ADAKV && c->heads > ADAKV_MAX_HEADS)
        return ei_fail(ctx, EI_ERROR_LIMIT_EXCEEDED, "ei_kv_compress: AdaKV handles at most %d stored heads",
                       ADAKV_MAX_HEADS);
    return EI_OK;
}

uint64_t ei_kv_compress_scratch(const ei_kv_cache *c, const ei_entropy_config *cfg, const ei_kv_compress_desc *d) {
    if (!c || check(NULL, c, cfg, d) != EI_OK) return 0;
    return make_layout(c, cfg, d).bytes;
}

ei_status ei_kv_compress(ei_cmd *cmd, ei_kv_cache *c, const ei_entropy_config *cfg, const ei_kv_compress_desc *d,
                         ei_tensor obs, ei_buffer *scratch) {
    if (!cmd) return EI_ERROR_INVALID_ARGUMENT;
    ei_context *ctx = cmd->ctx;
    ei_status st = check(ctx, c, cfg, d);
    if (st != EI_OK) return st;
    layout l = make_layout(c, cfg, d);
    if (!scratch || scratch->size < l.bytes)
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_kv_compress: scratch must hold %llu bytes",
                       (unsigned long long)l.bytes);
    uint32_t q_start = 0;
    if (!obs.buffer) { /* the cache's own window, a ring of its last W query rows */
        if (!c->obs || c->desc.window != cfg->window || c->desc.query_heads != d->heads || c->obs_count < cfg->window)
            return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT,
                           "ei_kv_compress: the cache's window must hold cfg->window rows of desc->heads heads");
        obs = (ei_tensor){c->obs, 0, c->desc.dtype};
        q_start = (uint32_t)(c->obs_count % cfg->window);
    }
    if (obs.dtype != c->desc.dtype)
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_kv_compress: obs must be in the cache's dtype");
    if ((st = ei_tensor_check(ctx, obs, (uint64_t)cfg->window * d->heads * c->desc.dim, "ei_kv_compress: obs")))
        return st;
    if (d->method == EI_KV_FULL || c->len <= cfg->decode_budget) return EI_OK;
    uint32_t W = cfg->window, hc = c->heads, cap = c->desc.capacity, D = c->desc.dim;
    uint32_t row_words = D * (uint32_t)ei_dtype_size(c->desc.dtype) / 4;
    uint64_t cache_words = (uint64_t)cap * hc * row_words, stage_words = (uint64_t)l.max_rows * hc * row_words;
#define S(name, type) ((ei_tensor){scratch, l.name, type})
    /* Bindings: 0 obs, 1 K, 2 V, 3 lens, 4 stats, 5 score, 6 pooled, 7 keep,
     * 8 floor_sel, 9 selected, 10 k_stage, 11 v_stage, 12 new_lens, 13 K
     * words, 14 V words. */
    ei_binding b[15];
    uint32_t skip[15];
    struct {
        ei_tensor t;
        uint64_t n;
    } all[15] = {{obs, (uint64_t)W * d->heads * D},
                 {ei_kv_cache_keys(c), (uint64_t)cap * hc * D},
                 {ei_kv_cache_values(c), (uint64_t)cap * hc * D},
                 {ei_kv_cache_lengths(c), hc},
                 {S(stats, EI_F32), (uint64_t)d->heads * W * 2},
                 {S(score, EI_F32), (uint64_t)hc * cap},
                 {S(pooled, EI_F32), (uint64_t)hc * cap},
                 {S(keep, EI_U32), hc},
                 {S(floor_sel, EI_U32), (uint64_t)hc * (l.floor_keep ? l.floor_keep : 1)},
                 {S(selected, EI_U32), (uint64_t)hc * l.max_keep},
                 {S(k_stage, EI_U32), stage_words},
                 {S(v_stage, EI_U32), stage_words},
                 {S(new_lens, EI_U32), hc},
                 {ei_kv_words(ei_kv_cache_keys(c)), cache_words},
                 {ei_kv_words(ei_kv_cache_values(c)), cache_words}};
#undef S
    for (int i = 0; i < 15; i++)
        if ((st = ei_tensor_binding(ctx, all[i].t, 0, all[i].n, &b[i], &skip[i]))) return st;

    /* Scores: row statistics, then per key. */
    struct {
        uint32_t heads, cache_heads, capacity;
        float scale;
        uint32_t q_start, q_skip, k_skip, lens_skip, stats_skip, score_skip;
    } sp = {d->heads, hc,      cap,    d->scale > 0 ? d->scale : 1.0f / sqrtf((float)D), q_start, skip[0], skip[1],
            skip[3],  skip[4], skip[5]};
    ei_kernel ks = {.shader = "kv_score",
                    .bindings = 5,
                    .push_size = sizeof sp,
                    .spec_count = 7,
                    .spec = {SCORE_WORKGROUP, SCORE_WORKGROUP, 0, c->desc.dtype, D, W, d->gqa}};
    ei_binding sb[5] = {b[0], b[1], b[3], b[4], b[5]};
    uint32_t key_groups = (cap + SCORE_WORKGROUP - 1) / SCORE_WORKGROUP;
    if ((st = ei_cmd_dispatch_kernel(cmd, &ks, sb, &sp, W, d->heads, 1))) return st;
    ks.spec[2] = 1;
    if ((st = ei_cmd_dispatch_kernel(cmd, &ks, sb, &sp, key_groups, hc, 1))) return st;

    struct {
        uint32_t capacity, window, kernel, score_skip, lens_skip, pooled_skip;
    } pp = {cap, W, cfg->pool_kernel, skip[5], skip[3], skip[6]};
    ei_kernel kp = {
        .shader = "kv_pool", .bindings = 3, .push_size = sizeof pp, .spec_count = 1, .spec = {POOL_WORKGROUP}};
    ei_binding pb[3] = {b[5], b[3], b[6]};
    if ((st = ei_cmd_dispatch_kernel(cmd, &kp, pb, &pp, (cap + POOL_WORKGROUP - 1) / POOL_WORKGROUP, hc, 1))) return st;

    /* Budgets: Bd - W per head, or AdaKV's split. */
    ei_topk_push tp = {
        .rows = 1, .stride = cap, .window = W, .scores_skip = skip[6], .keep_skip = skip[7], .lens_skip = skip[3]};
    if (d->method != EI_KV_ADAKV) {
        ei_cmd_fill(cmd, b[7].buffer, b[7].offset + (uint64_t)skip[7] * 4, (uint64_t)hc * 4, cfg->decode_budget - W);
    } else {
        ei_cmd_fill(cmd, b[7].buffer, b[7].offset + (uint64_t)skip[7] * 4, (uint64_t)hc * 4, l.floor_keep);
        tp.max_keep = l.floor_keep ? l.floor_keep : 1;
        tp.selected_skip = skip[8];
        ei_binding fb[4] = {b[6], b[7], b[8], b[3]};
        if (l.floor_keep && (st = ei_topk_select(cmd, fb, &tp, 1, hc))) return st;
        struct {
            uint32_t cache_heads, capacity, window, floor_keep, total, pooled_skip, lens_skip, floor_skip, keep_skip;
        } bp = {hc, cap, W, l.floor_keep, l.max_keep, skip[6], skip[3], skip[8], skip[7]};
        ei_kernel kb = {.shader = "kv_budget",
                        .bindings = 4,
                        .push_size = sizeof bp,
                        .spec_count = 3,
                        .spec = {TOPK_WORKGROUP, TOPK_WORKGROUP, 0}};
        ei_binding bb[4] = {b[6], b[3], b[8], b[7]};
        if (l.floor_keep && (st = ei_cmd_dispatch_kernel(cmd, &kb, bb, &bp,
                                                         (l.floor_keep + TOPK_WORKGROUP - 1) / TOPK_WORKGROUP, hc, 1)))
            return st;
        kb.spec[2] = 1;
        if ((st = ei_cmd_dispatch_kernel(cmd, &kb, bb, &bp, 1, 1, 1))) return st;
    }
    tp.max_keep = l.max_keep;
    tp.selected_skip = skip[9];
    ei_binding tb[4] = {b[6], b[7], b[9], b[3]};
    if ((st = ei_topk_select(cmd, tb, &tp, 1, hc))) return st;

    /* Compaction: gather, then copy back and set the lengths. */
    struct {
        uint32_t cache_heads, row_words, window, max_keep, max_rows;
        uint32_t k_skip, v_skip, lens_skip, keep_skip, selected_skip, k_stage_skip, v_stage_skip, new_lens_skip;
    } cp = {hc,      row_words, W,       l.max_keep, l.max_rows, skip[13], skip[14],
            skip[3], skip[7],   skip[9], skip[10],   skip[11],   skip[12]};
    ei_kernel kc = {
        .shader = "kv_compact", .bindings = 8, .push_size = sizeof cp, .spec_count = 2, .spec = {COMPACT_WORKGROUP, 0}};
    ei_binding cb[8] = {b[13], b[14], b[3], b[7], b[9], b[10], b[11], b[12]};
    uint64_t groups = (stage_words + COMPACT_WORKGROUP - 1) / COMPACT_WORKGROUP;
    if (groups > ctx->facts.max_workgroup_count[0])
        return ei_fail(ctx, EI_ERROR_LIMIT_EXCEEDED, "ei_kv_compress: the compacted cache is too large to copy");
    if ((st = ei_cmd_dispatch_kernel(cmd, &kc, cb, &cp, (uint32_t)groups, 1, 1))) return st;
    kc.spec[1] = 1;
    if ((st = ei_cmd_dispatch_kernel(cmd, &kc, cb, &cp, (uint32_t)groups, 1, 1))) return st;
    c->len = c->len < l.max_rows ? c->len : l.max_rows;
    return EI_OK;
}
