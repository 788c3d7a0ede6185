/* Dense flash attention: prefill, and split-K decode with its merge pass. */
#include <math.h>
#include <stdio.h>

#include "../vk/internal.h"

#define ATTN_WORKGROUP 128
#define ATTN_MAX_TILE 32
/* Enough workgroups to fill a large GPU (an H100 has 132 multiprocessors):
 * decode splits the keys until about this many are in flight. */
#define DECODE_TARGET_WORKGROUPS 1024
#define DECODE_MAX_SPLITS 1024

typedef struct flash_push {
    uint32_t q_len, kv_len, heads, kv_heads, row_base, use_lens, causal, window;
    float scale, softcap;
    uint32_t chunk, splits;
    uint32_t q_skip, k_skip, v_skip, o_skip, part_skip;
} flash_push;

typedef struct combine_push {
    uint32_t rows, splits, part_skip, o_skip;
} combine_push;

/* How one call is laid out on this device. */
typedef struct plan {
    uint32_t lanes;    /* T: threads per query row */
    uint32_t tile;     /* BC: keys per shared-memory tile */
    uint32_t rows;     /* R: query rows per workgroup */
    uint32_t row_tiles;
    uint32_t splits, chunk;
} plan;

static int dim_supported(uint32_t d) { return d == 64 || d == 80 || d == 96 || d == 128 || d == 256; }

static plan make_plan(const ei_context *ctx, const ei_attention_desc *d, int decode) {
    plan p;
    p.lanes = ctx->facts.subgroup_size < 8 ? ctx->facts.subgroup_size : 8;
    /* K and V tiles of f32 pairs must fit the shared memory. */
    uint32_t fit = ctx->facts.max_shared_memory / (2u * d->dim * 4u);
    p.tile = ATTN_MAX_TILE;
    while (p.tile > fit && p.tile > 1) p.tile /= 2;
    p.rows = ATTN_WORKGROUP / p.lanes;
    uint64_t all_rows = (uint64_t)d->q_len * (d->heads / d->kv_heads);
    p.row_tiles = (uint32_t)((all_rows + p.rows - 1) / p.rows);
    p.splits = 1;
    p.chunk = d->kv_len ? d->kv_len : 1;
    if (decode) {
        uint64_t per_split = (uint64_t)p.row_tiles * d->kv_heads;
        uint64_t want = (DECODE_TARGET_WORKGROUPS + per_split - 1) / per_split;
        uint64_t tiles = (d->kv_len + p.tile - 1) / p.tile;
        if (want > tiles) want = tiles;
        if (want > DECODE_MAX_SPLITS) want = DECODE_MAX_SPLITS;
        if (want > 1) {
            uint64_t chunk_tiles = (tiles + want - 1) / want;
            p.chunk = (uint32_t)(chunk_tiles * p.tile);
            p.splits = (uint32_t)((d->kv_len + p.chunk - 1) / p.chunk);
        }
    }
    return p;
}

static ei_status check_desc(ei_context *ctx, const ei_attention_desc *d, const char *fn) {
    if (!d) return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "%s: desc is NULL", fn);
    if (!dim_supported(d->dim))
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "%s: head dim %u is not supported (64, 80, 96, 128, 256)", fn,
                       d->dim);
    if (d->q_len == 0 || d->kv_len == 0 || d->heads == 0 || d->kv_heads == 0)
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "%s: q_len, kv_len, heads and kv_heads must be positive", fn);
    if (d->heads % d->kv_heads)
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "%s: heads %u is not a multiple of kv_heads %u", fn, d->heads,
                       d->kv_heads);
    if (!(d->scale >= 0) || !isfinite(d->scale) || !(d->softcap >= 0) || !isfinite(d->softcap))
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "%s: scale and softcap must be finite and not negative", fn);
    if (!(ctx->subgroup_ops & VK_SUBGROUP_FEATURE_SHUFFLE_BIT))
        return ei_fail(ctx, EI_ERROR_FEATURE_NOT_PRESENT, "%s: the device lacks subgroup shuffles in compute shaders",
                       fn);
    return EI_OK;
}

uint64_t ei_attention_decode_scratch(const ei_context *ctx, const ei_attention_desc *d) {
    if (!ctx || !d || !dim_supported(d->dim) || !d->kv_heads || !d->heads || d->heads % d->kv_heads) return 0;
    plan p = make_plan(ctx, d, 1);
    if (p.splits == 1) return 0;
    return (uint64_t)p.splits * d->q_len * d->heads * (d->dim + 2) * 4;
}

/* Records the flash pass (and the merge when the plan splits the keys). */
static ei_status record(ei_cmd *cmd, const ei_attention_desc *d, const plan *p, ei_tensor q, ei_tensor k,
                        ei_tensor v, const ei_tensor *lens, ei_tensor out, ei_tensor part, const char *fn) {
    ei_context *ctx = cmd->ctx;
    if (!ei_is_float(q.dtype) || k.dtype != q.dtype || v.dtype != q.dtype || !ei_is_float(out.dtype))
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "%s: q, k, v must share one float dtype; out must be float", fn);
    uint64_t q_n = (uint64_t)d->q_len * d->heads * d->dim, kv_n = (uint64_t)d->kv_len * d->kv_heads * d->dim;
    uint64_t part_n = (uint64_t)p->splits * d->q_len * d->heads * (d->dim + 2);
    ei_binding b[6];
    flash_push push = {.q_len = d->q_len,
                       .kv_len = d->kv_len,
                       .heads = d->heads,
                       .kv_heads = d->kv_heads,
                       .use_lens = lens != NULL,
                       .causal = d->causal != 0,
                       .window = d->window,
                       .scale = d->scale > 0 ? d->scale : 1.0f / sqrtf((float)d->dim),
                       .softcap = d->softcap,
                       .chunk = p->chunk,
                       .splits = p->splits};
    char what[96];
#define CHECK_TENSOR(t, n, name)                                     \
    snprintf(what, sizeof what, "%s: %s", fn, name);                 \
    if ((st = ei_tensor_check(ctx, t, n, what)) != EI_OK) return st;
    ei_status st;
    CHECK_TENSOR(q, q_n, "q")
    CHECK_TENSOR(k, kv_n, "k")
    CHECK_TENSOR(v, kv_n, "v")
    CHECK_TENSOR(out, q_n, "out")
    if (lens) {
        if (lens->dtype != EI_U32) return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "%s: kv_lens must be EI_U32", fn);
        CHECK_TENSOR(*lens, d->kv_heads, "kv_lens")
    }
    if (p->splits > 1) {
        if (part.dtype != EI_F32) return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "%s: scratch must be EI_F32", fn);
        CHECK_TENSOR(part, part_n, "scratch")
    }
#undef CHECK_TENSOR
    st = ei_tensor_binding(ctx, q, 0, q_n, &b[0], &push.q_skip);
    if (st == EI_OK) st = ei_tensor_binding(ctx, k, 0, kv_n, &b[1], &push.k_skip);
    if (st == EI_OK) st = ei_tensor_binding(ctx, v, 0, kv_n, &b[2], &push.v_skip);
    if (st == EI_OK) st = ei_tensor_binding(ctx, out, 0, q_n, &b[3], &push.o_skip);
    b[4] = b[0]; /* lens: not read unless given */
    b[5] = b[3]; /* partials: not written unless split */
    uint32_t skip = 0;
    if (st == EI_OK && lens) {
        st = ei_tensor_binding(ctx, *lens, 0, d->kv_heads, &b[4], &skip);
        /* The shader indexes lens from the binding's start. */
        if (st == EI_OK && skip)
            return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "%s: kv_lens must start at an offset aligned to %llu bytes",
                           fn, (unsigned long long)ctx->facts.min_storage_buffer_alignment);
    }
    if (st == EI_OK && p->splits > 1) st = ei_tensor_binding(ctx, part, 0, part_n, &b[5], &push.part_skip);
    if (st != EI_OK) return st;
    if (p->splits > ctx->facts.max_workgroup_count[2])
        return ei_fail(ctx, EI_ERROR_LIMIT_EXCEEDED, "%s: %u key splits exceed the device's workgroup count", fn,
                       p->splits);

    ei_kernel flash = {.shader = "attn_flash",
                       .bindings = 6,
                       .push_size = sizeof(flash_push),
                       .spec_count = 7,
                       .spec = {ATTN_WORKGROUP, q.dtype, p->splits > 1 ? EI_F32 : out.dtype, d->dim, p->lanes,
                                p->tile, ATTN_WORKGROUP}};
    ei_pipeline *fp, *cp = NULL;
    st = ei_pipeline_get(ctx, &flash, &fp);
    if (st == EI_OK && p->splits > 1) {
        ei_kernel combine = {.shader = "attn_combine",
                             .bindings = 2,
                             .push_size = sizeof(combine_push),
                             .spec_count = 3,
                             .spec = {d->dim / 2, out.dtype, d->dim}};
        st = ei_pipeline_get(ctx, &combine, &cp);
    }
    if (st != EI_OK) return st;

    /* Pieces of whole row tiles, within the workgroup-count limit. */
    uint32_t max_x = ctx->facts.max_workgroup_count[0];
    for (uint64_t t0 = 0; st == EI_OK && t0 < p->row_tiles; t0 += max_x) {
        uint64_t n = p->row_tiles - t0 < max_x ? p->row_tiles - t0 : max_x;
        push.row_base = (uint32_t)(t0 * p->rows);
        st = ei_cmd_dispatch(cmd, fp, b, &push, (uint32_t)n, d->kv_heads, p->splits);
    }
    if (st == EI_OK && cp) {
        combine_push cpush = {.rows = d->q_len * d->heads, .splits = p->splits, .part_skip = push.part_skip,
                              .o_skip = push.o_skip};
        ei_binding cb[2] = {b[5], b[3]};
        if (cpush.rows > max_x)
            return ei_fail(ctx, EI_ERROR_LIMIT_EXCEEDED, "%s: %u query rows exceed the device's workgroup count", fn,
                           cpush.rows);
        st = ei_cmd_dispatch(cmd, cp, cb, &cpush, cpush.rows, 1, 1);
    }
    return st;
}

ei_status ei_attention_prefill(ei_cmd *cmd, const ei_attention_desc *d, ei_tensor q, ei_tensor k, ei_tensor v,
                               ei_tensor out) {
    if (!cmd) return EI_ERROR_INVALID_ARGUMENT;
    ei_status st = check_desc(cmd->ctx, d, "ei_attention_prefill");
    if (st != EI_OK) return st;
    plan p = make_plan(cmd->ctx, d, 0);
    return record(cmd, d, &p, q, k, v, NULL, out, (ei_tensor){0}, "ei_attention_prefill");
}

ei_status ei_attention_decode(ei_cmd *cmd, const ei_attention_desc *d, ei_tensor q, ei_tensor k, ei_tensor v,
                              const ei_tensor *kv_lens, ei_tensor out, ei_tensor scratch) {
    if (!cmd) return EI_ERROR_INVALID_ARGUMENT;
    ei_status st = check_desc(cmd->ctx, d, "ei_attention_decode");
    if (st != EI_OK) return st;
    plan p = make_plan(cmd->ctx, d, 1);
    return record(cmd, d, &p, q, k, v, kv_lens, out, scratch, "ei_attention_decode");
}
