/* Dense flash attention: prefill (attn_flash), and split-K decode
 * (attn_decode, then attn_combine). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../vk/internal.h"

#define ATTN_WORKGROUP 128
#define ATTN_MAX_TILE 32
/* Decode splits the keys until about this many workgroups are in flight
 * (EI_DECODE_WORKGROUPS overrides it, for tuning sweeps), keeping at least
 * DECODE_MIN_CHUNK keys per split so the merge stays cheap. The kernel is
 * bound by memory latency: the fewer workgroups that still fill the GPU,
 * the longer each one's pipelined stream of tiles. */
static const struct {
    uint32_t vendor_id, workgroups;
} decode_table[] = {
    /* NVIDIA H100 (132 multiprocessors, two of these workgroups each), f16
     * H=32 Hkv=8 D=128, 2026-11-24: at 128K 132 workgroups 0.331 ms, 264:
     * 0.216, 396: 0.259, 1000: 0.252 (docs/performance.md). */
    {0x10de, 264},
};
#define DECODE_WORKGROUPS 1000 /* elsewhere: not measured yet */
#define DECODE_MIN_CHUNK 256
#define DECODE_MAX_ROWS 8

typedef struct flash_push {
    uint32_t q_len, kv_len, heads, kv_heads, row_base, causal, window;
    float scale, softcap;
    uint32_t q_skip, k_skip, v_skip, o_skip;
    uint32_t segment, block, nseg, max_keep, threshold_len, dense_layer, keep_skip, selected_skip;
} flash_push;

typedef struct decode_push {
    uint32_t q_len, kv_len, heads, kv_heads, row_base, use_lens, causal, window;
    float scale, softcap;
    uint32_t chunk, splits;
    uint32_t q_skip, k_skip, v_skip, part_skip;
} decode_push;

typedef struct combine_push {
    uint32_t rows, splits, part_skip, o_skip;
} combine_push;

/* How one call is laid out on this device. */
typedef struct plan {
    uint32_t lanes;     /* T: threads per query row (prefill) */
    uint32_t tile;      /* prefill: keys per shared-memory tile */
    uint32_t rows;      /* query rows per workgroup */
    uint32_t row_tiles; /* workgroups along the rows of one KV head */
    uint32_t splits, chunk;
} plan;

static int dim_supported(uint32_t d) { return d == 64 || d == 80 || d == 96 || d == 128 || d == 256; }

/* Lanes sharing a row: at most `want` and the subgroup size, dividing the
 * pairs of dims (80 dims: 40 pairs, so 8 lanes, not 16). */
static uint32_t lanes(const ei_context *ctx, const ei_attention_desc *d, uint32_t want) {
    uint32_t t = ctx->facts.subgroup_size < want ? ctx->facts.subgroup_size : want;
    while ((d->dim / 2) % t)
        t /= 2;
    return t;
}

static plan make_prefill_plan(const ei_context *ctx, const ei_attention_desc *d) {
    plan p = {0};
    p.lanes = lanes(ctx, d, 8);
    /* K and V tiles of f32 pairs and their key indices must fit the
     * shared memory. */
    uint32_t fit = ctx->facts.max_shared_memory / (2u * d->dim * 4u + 4u);
    p.tile = ATTN_MAX_TILE;
    while (p.tile > fit && p.tile > 1)
        p.tile /= 2;
    p.rows = ATTN_WORKGROUP / p.lanes;
    p.splits = 1;
    return p;
}

/* The cooperative-matrix prefill (attn_flash_coopmat.comp): subgroups of 16
 * query rows per workgroup, per vendor (EI_ATTN_SUBGROUPS overrides it, for
 * tuning sweeps: tools/bench/gpu_coopmat.sh), and the most keys per tile
 * (64, 32, 16) whose K/V tiles and per-subgroup score tiles fit the shared
 * memory. */
static const struct {
    uint32_t vendor_id, subgroups;
} coopmat_table[] = {
    /* NVIDIA H100, f16 H=32 Hkv=8 D=128 causal, 2026-11-23: at 32K 4
     * subgroups 64 TFLOP/s, 8: 113, 16 (16-key tiles): 133; 16 leads from
     * 4K up, 8 at 2K (docs/performance.md). */
    {0x10de, 16},
};
#define COOPMAT_SUBGROUPS 4 /* elsewhere: not measured yet */

/* Fewer rows per workgroup when the call has too few rows to fill the GPU
 * with the table's choice: a 512-token chunk of a model with one KV head
 * and 4 query heads is 8 workgroups of 256 rows (an H100 has 132
 * multiprocessors; vkinfer at 32K with 512-token chunks, Gemma 3 270M:
 * 16 subgroups 3149 ms of prefill, 8 subgroups 1931 ms). */
#define COOPMAT_MIN_WORKGROUPS 256

static uint32_t coopmat_subgroups(const ei_context *ctx, uint64_t rows, uint32_t kv_heads) {
    const char *env = getenv("EI_ATTN_SUBGROUPS");
    long n = env ? strtol(env, NULL, 10) : 0;
    if (n >= 1 && n <= 16) return (uint32_t)n;
    uint32_t s = COOPMAT_SUBGROUPS;
    for (size_t i = 0; i < sizeof coopmat_table / sizeof coopmat_table[0]; i++)
        if (coopmat_table[i].vendor_id == ctx->facts.vendor_id) s = coopmat_table[i].subgroups;
    /* Not below 4: the smallest measured, and where the K/V prefetch still fits in registers. */
    while (s > 4 && (rows + 16 * s - 1) / (16 * s) * kv_heads < COOPMAT_MIN_WORKGROUPS)
        s /= 2;
    return s;
}

static uint32_t coopmat_shared_bytes(uint32_t dim, uint32_t bc, uint32_t subgroups) {
    return 2 * bc * (dim / 8 + 1) * 16 + bc * 4 + subgroups * 16 * ((bc + 4) * 4 + 4) + 256 * 4;
}

/* Keys per tile of the cooperative-matrix path for this call, or 0 where it
 * cannot run: no 16x16x16 f16 shape, not f16, a subgroup size that may vary
 * or is below 16, K/V offsets not 16-byte aligned, or a build without it. */
static uint32_t coopmat_tile(const ei_context *ctx, const ei_attention_desc *d, ei_dtype dtype, const uint32_t skip[4],
                             uint32_t subgroups) {
    if (dtype != EI_F16 || d->dim % 16 || skip[1] % 8 || skip[2] % 8 || skip[0] % 2 || skip[3] % 2 ||
        !ei_coopmat_ready(ctx, "attn_flash_coopmat", subgroups))
        return 0;
    for (uint32_t bc = 64; bc >= 16; bc /= 2)
        if (coopmat_shared_bytes(d->dim, bc, subgroups) <= ctx->facts.max_shared_memory) return bc;
    return 0;
}

static uint32_t decode_workgroups(const ei_context *ctx) {
    const char *env = getenv("EI_DECODE_WORKGROUPS");
    long n = env ? strtol(env, NULL, 10) : 0;
    if (n >= 1 && n <= 1 << 20) return (uint32_t)n;
    for (size_t i = 0; i < sizeof decode_table / sizeof decode_table[0]; i++)
        if (decode_table[i].vendor_id == ctx->facts.vendor_id) return decode_table[i].workgroups;
    return DECODE_WORKGROUPS;
}

static plan make_decode_plan(const ei_context *ctx, const ei_attention_desc *d) {
    plan p = {0};
    uint64_t all_rows = (uint64_t)d->q_len * (d->heads / d->kv_heads);
    p.rows = all_rows < DECODE_MAX_ROWS ? (uint32_t)all_rows : DECODE_MAX_ROWS;
    p.row_tiles = (uint32_t)((all_rows + p.rows - 1) / p.rows);
    uint64_t per_split = (uint64_t)p.row_tiles * d->kv_heads;
    uint64_t want = (decode_workgroups(ctx) + per_split - 1) / per_split;
    uint64_t most = (d->kv_len + DECODE_MIN_CHUNK - 1) / DECODE_MIN_CHUNK;
    if (want > most) want = most;
    if (want < 1) want = 1;
    p.chunk = (uint32_t)((d->kv_len + want - 1) / want);
    p.splits = (uint32_t)((d->kv_len + p.chunk - 1) / p.chunk);
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

/* Checks q, k, v and out against the shapes and binds them. */
static ei_status bind_qkvo(ei_context *ctx, const ei_attention_desc *d, const ei_tensor t[4], ei_binding b[4],
                           uint32_t skip[4], const char *fn) {
    static const char *const names[4] = {"q", "k", "v", "out"};
    if (!ei_is_float(t[0].dtype) || t[1].dtype != t[0].dtype || t[2].dtype != t[0].dtype || !ei_is_float(t[3].dtype))
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "%s: q, k, v must share one float dtype; out must be float", fn);
    uint64_t q_n = (uint64_t)d->q_len * d->heads * d->dim, kv_n = (uint64_t)d->kv_len * d->kv_heads * d->dim;
    const uint64_t n[4] = {q_n, kv_n, kv_n, q_n};
    char what[96];
    for (int i = 0; i < 4; i++) {
        snprintf(what, sizeof what, "%s: %s", fn, names[i]);
        ei_status st = ei_tensor_check(ctx, t[i], n[i], what);
        if (st != EI_OK) return st;
    }
    for (int i = 0; i < 4; i++) {
        ei_status st = ei_tensor_binding(ctx, t[i], 0, n[i], &b[i], &skip[i]);
        if (st != EI_OK) return st;
    }
    return EI_OK;
}

static float softmax_scale(const ei_attention_desc *d) { return d->scale > 0 ? d->scale : 1.0f / sqrtf((float)d->dim); }

/* Dispatches `row_tiles` workgroups along x in pieces within the device's
 * workgroup-count limit; `row_base` in the push constants moves along. */
static ei_status dispatch_rows(ei_cmd *cmd, const ei_pipeline *p, const ei_binding *b, void *push, uint32_t *row_base,
                               const plan *pl, uint32_t gy) {
    uint32_t max_x = cmd->ctx->facts.max_workgroup_count[0];
    ei_status st = EI_OK;
    for (uint64_t t0 = 0; st == EI_OK && t0 < pl->row_tiles; t0 += max_x) {
        uint64_t n = pl->row_tiles - t0 < max_x ? pl->row_tiles - t0 : max_x;
        *row_base = (uint32_t)(t0 * pl->rows);
        st = ei_cmd_dispatch(cmd, p, b, push, (uint32_t)n, gy, pl->splits);
    }
    return st;
}

/* The block lists of a sparse prefill; NULL for dense attention. */
typedef struct sparse_args {
    const ei_entropy_config *cfg;
    uint32_t layer;
    ei_tensor keep, selected;
} sparse_args;

static ei_status record_flash(ei_cmd *cmd, const ei_attention_desc *d, ei_tensor q, ei_tensor k, ei_tensor v,
                              ei_tensor out, const sparse_args *sp, const char *fn) {
    ei_context *ctx = cmd->ctx;
    ei_status st = check_desc(ctx, d, fn);
    if (st != EI_OK) return st;
    plan p = make_prefill_plan(ctx, d);
    const ei_tensor t[4] = {q, k, v, out};
    ei_binding b[6];
    flash_push push = {.q_len = d->q_len,
                       .kv_len = d->kv_len,
                       .heads = d->heads,
                       .kv_heads = d->kv_heads,
                       .causal = d->causal != 0,
                       .window = d->window,
                       .scale = softmax_scale(d),
                       .softcap = d->softcap};
    uint32_t skip[4];
    st = bind_qkvo(ctx, d, t, b, skip, fn);
    if (st != EI_OK) return st;
    push.q_skip = skip[0], push.k_skip = skip[1], push.v_skip = skip[2], push.o_skip = skip[3];
    b[4] = b[5] = b[0]; /* block lists: not read when dense */
    if (sp) {
        const ei_entropy_config *cfg = sp->cfg;
        char why[200];
        if (ei_entropy_config_check(cfg, why, sizeof why) != EI_OK)
            return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "%s: %s", fn, why);
        if (!d->causal || d->window || (d->kv_len - d->q_len) % cfg->segment_size || d->q_len > d->kv_len)
            return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT,
                           "%s: sparse attention is causal, has no window, and its queries start at a segment", fn);
        ei_profile_desc pd = {d->kv_len, d->heads, d->kv_heads, d->dim, q.dtype, sp->layer};
        ei_profile_shape sh = ei_profile_shape_of(&pd, cfg);
        uint64_t hs = (uint64_t)d->kv_heads * sh.nseg;
        if (sp->keep.dtype != EI_U32 || sp->selected.dtype != EI_U32)
            return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "%s: keep and selected must be EI_U32", fn);
        if ((st = ei_tensor_check(ctx, sp->keep, hs, "ei_attention_sparse: keep")) ||
            (st = ei_tensor_check(ctx, sp->selected, hs * sh.max_keep, "ei_attention_sparse: selected")) ||
            (st = ei_tensor_binding(ctx, sp->keep, 0, hs, &b[4], &push.keep_skip)) ||
            (st = ei_tensor_binding(ctx, sp->selected, 0, hs * sh.max_keep, &b[5], &push.selected_skip)))
            return st;
        push.segment = cfg->segment_size;
        push.block = cfg->block_size;
        push.nseg = sh.nseg;
        push.max_keep = sh.max_keep;
        push.threshold_len = cfg->threshold_len;
        push.dense_layer = sp->layer < cfg->layer_skip || cfg->mode == EI_PREFILL_FULL;
    }
    ei_kernel kernel = {
        .shader = "attn_flash",
        .bindings = 6,
        .push_size = sizeof push,
        .spec_count = 8,
        .spec = {ATTN_WORKGROUP, q.dtype, out.dtype, d->dim, p.lanes, p.tile, ATTN_WORKGROUP, sp != NULL}};
    uint32_t subgroups = coopmat_subgroups(ctx, (uint64_t)d->q_len * (d->heads / d->kv_heads), d->kv_heads),
             bc = coopmat_tile(ctx, d, q.dtype, skip, subgroups);
    if (bc) {
        uint32_t sg = ctx->facts.subgroup_size, wg = subgroups * sg;
        kernel = (ei_kernel){.shader = "attn_flash_coopmat",
                             .bindings = 6,
                             .push_size = sizeof push,
                             .spec_count = 8,
                             .spec = {wg, out.dtype, d->dim, bc, subgroups, wg, sp != NULL, sg}};
        p.rows = 16 * subgroups;
    }
    uint32_t G = d->heads / d->kv_heads;
    p.row_tiles = (uint32_t)(((uint64_t)d->q_len * G + p.rows - 1) / p.rows);
    if (sp) { /* workgroups tile each segment of the queries on its own */
        uint32_t S = sp->cfg->segment_size;
        p.row_tiles = (d->q_len + S - 1) / S * ((S * G + p.rows - 1) / p.rows);
    }
    ei_pipeline *pipe;
    st = ei_pipeline_get(ctx, &kernel, &pipe);
    if (st != EI_OK) return st;
    return dispatch_rows(cmd, pipe, b, &push, &push.row_base, &p, d->kv_heads);
}

ei_status ei_attention_prefill(ei_cmd *cmd, const ei_attention_desc *d, ei_tensor q, ei_tensor k, ei_tensor v,
                               ei_tensor out) {
    if (!cmd) return EI_ERROR_INVALID_ARGUMENT;
    return record_flash(cmd, d, q, k, v, out, NULL, "ei_attention_prefill");
}

ei_status ei_attention_sparse(ei_cmd *cmd, const ei_attention_desc *d, const ei_entropy_config *cfg, uint32_t layer,
                              ei_tensor q, ei_tensor k, ei_tensor v, ei_tensor keep, ei_tensor selected,
                              ei_tensor out) {
    if (!cmd) return EI_ERROR_INVALID_ARGUMENT;
    if (!cfg) return ei_fail(cmd->ctx, EI_ERROR_INVALID_ARGUMENT, "ei_attention_sparse: config is NULL");
    sparse_args sp = {cfg, layer, keep, selected};
    return record_flash(cmd, d, q, k, v, out, &sp, "ei_attention_sparse");
}

uint64_t ei_attention_decode_scratch(const ei_context *ctx, const ei_attention_desc *d) {
    if (!ctx || !d || !dim_supported(d->dim) || !d->q_len || !d->kv_len || !d->kv_heads || !d->heads ||
        d->heads % d->kv_heads)
        return 0;
    plan p = make_decode_plan(ctx, d);
    return (uint64_t)p.splits * d->q_len * d->heads * (d->dim + 2) * 4;
}

ei_status ei_attention_decode(ei_cmd *cmd, const ei_attention_desc *d, ei_tensor q, ei_tensor k, ei_tensor v,
                              const ei_tensor *kv_lens, ei_tensor out, ei_tensor scratch) {
    if (!cmd) return EI_ERROR_INVALID_ARGUMENT;
    ei_context *ctx = cmd->ctx;
    const char *fn = "ei_attention_decode";
    ei_status st = check_desc(ctx, d, fn);
    if (st != EI_OK) return st;
    plan p = make_decode_plan(ctx, d);
    uint64_t part_n = (uint64_t)p.splits * d->q_len * d->heads * (d->dim + 2);
    if (scratch.dtype != EI_F32) return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "%s: scratch must be EI_F32", fn);
    st = ei_tensor_check(ctx, scratch, part_n, "ei_attention_decode: scratch");
    if (st == EI_OK && kv_lens) {
        if (kv_lens->dtype != EI_U32) return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "%s: kv_lens must be EI_U32", fn);
        st = ei_tensor_check(ctx, *kv_lens, d->kv_heads, "ei_attention_decode: kv_lens");
    }
    const ei_tensor t[4] = {q, k, v, out};
    ei_binding qkvo[4];
    uint32_t skip[4];
    if (st == EI_OK) st = bind_qkvo(ctx, d, t, qkvo, skip, fn);
    if (st != EI_OK) return st;
    decode_push push = {.q_len = d->q_len,
                        .kv_len = d->kv_len,
                        .heads = d->heads,
                        .kv_heads = d->kv_heads,
                        .use_lens = kv_lens != NULL,
                        .causal = d->causal != 0,
                        .window = d->window,
                        .scale = softmax_scale(d),
                        .softcap = d->softcap,
                        .chunk = p.chunk,
                        .splits = p.splits,
                        .q_skip = skip[0],
                        .k_skip = skip[1],
                        .v_skip = skip[2]};
    ei_binding b[5] = {qkvo[0], qkvo[1], qkvo[2], qkvo[0] /* lens: not read unless given */};
    st = ei_tensor_binding(ctx, scratch, 0, part_n, &b[4], &push.part_skip);
    if (st == EI_OK && kv_lens) {
        uint32_t lens_skip;
        st = ei_tensor_binding(ctx, *kv_lens, 0, d->kv_heads, &b[3], &lens_skip);
        /* The shader indexes lens from the binding's start. */
        if (st == EI_OK && lens_skip)
            return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "%s: kv_lens must start at an offset aligned to %llu bytes",
                           fn, (unsigned long long)ctx->facts.min_storage_buffer_alignment);
    }
    uint32_t rows = d->q_len * d->heads;
    if (st == EI_OK && (p.splits > ctx->facts.max_workgroup_count[2] || rows > ctx->facts.max_workgroup_count[0]))
        return ei_fail(ctx, EI_ERROR_LIMIT_EXCEEDED, "%s: %u key splits or %u query rows exceed the device's limits",
                       fn, p.splits, rows);
    if (st != EI_OK) return st;

    /* 16-byte loads when K and V start at whole 16-byte units (skips are
     * in elements of the dtype; rows are whole units at every head dim). */
    uint32_t unit = q.dtype == EI_F32 ? 4 : 8;
    uint32_t vec4 = push.k_skip % unit == 0 && push.v_skip % unit == 0;
    ei_kernel first = {.shader = "attn_decode",
                       .bindings = 5,
                       .push_size = sizeof push,
                       .spec_count = 6,
                       .spec = {ATTN_WORKGROUP, q.dtype, d->dim, p.rows, ATTN_WORKGROUP, vec4}};
    ei_kernel merge = {.shader = "attn_combine",
                       .bindings = 2,
                       .push_size = sizeof(combine_push),
                       .spec_count = 3,
                       .spec = {d->dim / 2, out.dtype, d->dim}};
    ei_pipeline *fp, *mp;
    st = ei_pipeline_get(ctx, &first, &fp);
    if (st == EI_OK) st = ei_pipeline_get(ctx, &merge, &mp);
    if (st == EI_OK) st = dispatch_rows(cmd, fp, b, &push, &push.row_base, &p, d->kv_heads);
    if (st != EI_OK) return st;
    combine_push cpush = {.rows = rows, .splits = p.splits, .part_skip = push.part_skip, .o_skip = skip[3]};
    ei_binding cb[2] = {b[4], qkvo[3]};
    return ei_cmd_dispatch(cmd, mp, cb, &cpush, rows, 1, 1);
}
