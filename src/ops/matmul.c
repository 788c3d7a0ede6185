/* Matrix products with weights in their GGUF (ggml) storage type. */
#include <stdio.h>
#include <stdlib.h>

#include "../vk/internal.h"
#include "entropyinfer_gguf.h"

#define MATMUL_WORKGROUP 64
#define MATMUL_TOKENS 16 /* tokens per workgroup in prefill: each weight decoded once for 16 */
/* matmul_coopmat.comp from COOPMAT_MIN_TOKENS tokens on (below, most of a
 * tile would be padding, and short prompts and decode keep f32
 * activations). Tiles per vendor: subgroups along rows and tokens, 16x16
 * accumulators a subgroup along each, columns a step. */
#define COOPMAT_MIN_TOKENS 64
typedef struct {
    uint32_t sg_r, sg_t, tm, tn, bk;
} coopmat_tile;
static const struct {
    uint32_t vendor_id;
    coopmat_tile tile;
} coopmat_table[] = {
    /* H100, 2026-12-07, tools/bench/gpu_matmul.sh at 16384 tokens: 145-148
     * TFLOP/s on the four Llama-3-8B shapes; bk 32 gave 76, 4x4 subgroups
     * of 2x2 blocks 118-126, any tm*tn of 32 spills (23-34). */
    {0x10de, {2, 2, 4, 4, 16}},
};
static const coopmat_tile coopmat_default = {4, 1, 2, 4, 32}; /* elsewhere unmeasured: the smallest register need (47 TFLOP/s on the H100) */

/* EI_MATMUL_TILE="sg_r,sg_t,tm,tn,bk" replaces the table's choice (for sweeps). */
static coopmat_tile coopmat_choice(const ei_context *ctx) {
    coopmat_tile t = coopmat_default;
    for (size_t i = 0; i < sizeof coopmat_table / sizeof coopmat_table[0]; i++)
        if (coopmat_table[i].vendor_id == ctx->facts.vendor_id) t = coopmat_table[i].tile;
    const char *env = getenv("EI_MATMUL_TILE");
    coopmat_tile e;
    if (env && sscanf(env, "%u,%u,%u,%u,%u", &e.sg_r, &e.sg_t, &e.tm, &e.tn, &e.bk) == 5) t = e;
    return t;
}

/* Whether tile t runs here for cols columns: whole steps, a workgroup the
 * device allows, every invocation reading whole quads, both stages in
 * shared memory and the subgroups' 1 KiB staging tiles inside them. */
static int coopmat_fits(const ei_context *ctx, coopmat_tile t, uint32_t cols) {
    uint64_t sgs = (uint64_t)t.sg_r * t.sg_t, wg = sgs * ctx->facts.subgroup_size;
    uint64_t bm = 16ull * t.sg_r * t.tm, bn = 16ull * t.sg_t * t.tn, as = t.bk / 4 + 2;
    uint64_t stage_bytes = (bm + bn) * as * 8;
    return t.bk && t.bk % 16 == 0 && t.tm && t.tn && t.tm * t.tn <= 32 && sgs && cols % t.bk == 0 &&
           wg <= ctx->facts.max_workgroup_invocations && bm * t.bk / 4 % wg == 0 && bn * t.bk / 4 % wg == 0 &&
           2 * stage_bytes <= ctx->facts.max_shared_memory && sgs * 1024 <= 2 * stage_bytes &&
           ei_coopmat_ready(ctx, "matmul_coopmat", (uint32_t)sgs);
}

static int supported(uint32_t t) {
    return t == EI_GGML_F32 || t == EI_GGML_F16 || t == EI_GGML_BF16 || t == EI_GGML_Q4_0 || t == EI_GGML_Q4_1 ||
           t == EI_GGML_Q5_0 || t == EI_GGML_Q5_1 || t == EI_GGML_Q8_0 || t == EI_GGML_Q4_K || t == EI_GGML_Q5_K ||
           t == EI_GGML_Q6_K;
}

ei_status ei_matmul(ei_cmd *cmd, const ei_matmul_desc *d, ei_buffer *w, uint64_t w_offset, ei_tensor x, ei_tensor y) {
    if (!cmd) return EI_ERROR_INVALID_ARGUMENT;
    ei_context *ctx = cmd->ctx;
    if (!d || !w) return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_matmul: NULL argument");
    if (!supported(d->wtype))
        return ei_fail(ctx, EI_ERROR_FEATURE_NOT_PRESENT, "ei_matmul: weight type %u is not supported", d->wtype);
    uint32_t be = ei_ggml_block_elements(d->wtype), bb = ei_ggml_block_bytes(d->wtype);
    /* The kernel reads four columns at a time: float types need cols % 4. */
    if (!d->rows || !d->cols || !d->tokens || d->cols % be || d->cols % 4)
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT,
                       "ei_matmul: rows, cols, tokens must be positive and cols (%u) whole blocks of %u and of 4",
                       d->cols, be);
    if (x.dtype != EI_F32 || y.dtype != EI_F32)
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_matmul: x and y must be EI_F32");
    if (x.offset % 16) /* the kernel reads x four floats at a time */
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_matmul: x must start at a multiple of 16 bytes");
    uint64_t row_bytes = (uint64_t)d->cols / be * bb, w_words = (d->rows * row_bytes + 3) / 4;
    struct {
        uint32_t rows, cols, tokens, row_base, piece_rows, w_byte0, x_skip, y_skip;
    } p = {d->rows, d->cols, d->tokens};
    ei_binding b[3];
    ei_status st;
    if ((st = ei_tensor_check(ctx, (ei_tensor){w, w_offset, EI_U32}, w_words, "ei_matmul: w")) ||
        (st = ei_tensor_check(ctx, x, (uint64_t)d->tokens * d->cols, "ei_matmul: x")) ||
        (st = ei_tensor_check(ctx, y, (uint64_t)d->tokens * d->rows, "ei_matmul: y")) ||
        (st = ei_tensor_binding(ctx, x, 0, (uint64_t)d->tokens * d->cols, &b[1], &p.x_skip)) ||
        (st = ei_tensor_binding(ctx, y, 0, (uint64_t)d->tokens * d->rows, &b[2], &p.y_skip)))
        return st;
    /* Threads per row: on GPUs decode spreads a row over the whole
     * workgroup (coalesced reads of one row; H100, F16 4096 x 14336: 16
     * lanes 1.08 TB/s, 32: 1.93, 64: 2.48, with 4 steps in flight: UNROLL); prefill,
     * and decode on CPU devices (lavapipe: 1.7x faster measured on the
     * 262144 x 640 Q8_0 logits), give each thread a row of its own, so the
     * tokens' activations are one address for the whole workgroup and no
     * reduction is needed. */
    uint32_t lanes =
        d->tokens == 1 && ctx->facts.device_type != VK_PHYSICAL_DEVICE_TYPE_CPU ? MATMUL_WORKGROUP : 1;
    uint32_t tt = d->tokens == 1 ? 1 : MATMUL_TOKENS, gy = (d->tokens + tt - 1) / tt;
    uint32_t per_group = MATMUL_WORKGROUP / lanes;
    ei_kernel k = {.shader = "matmul_quant",
                   .bindings = 3,
                   .push_size = sizeof p,
                   .spec_count = 8,
                   .spec = {MATMUL_WORKGROUP, MATMUL_WORKGROUP, d->wtype, be, bb, tt, lanes, lanes > 1 ? 4 : 1}};
    /* Many tokens: the cooperative-matrix kernel (f16 activations). */
    coopmat_tile t = coopmat_choice(ctx);
    if (d->tokens >= COOPMAT_MIN_TOKENS && coopmat_fits(ctx, t, d->cols)) {
        uint32_t wg = t.sg_r * t.sg_t * ctx->facts.subgroup_size;
        k = (ei_kernel){.shader = "matmul_coopmat",
                        .bindings = 3,
                        .push_size = sizeof p,
                        .spec_count = 10,
                        .spec = {wg, wg, d->wtype, be, bb, t.sg_r, t.sg_t, t.tm, t.tn, t.bk}};
        per_group = 16 * t.sg_r * t.tm;
        uint32_t bn = 16 * t.sg_t * t.tn;
        gy = (d->tokens + bn - 1) / bn;
    }
    if (gy > ctx->facts.max_workgroup_count[1])
        return ei_fail(ctx, EI_ERROR_LIMIT_EXCEEDED, "ei_matmul: %u tokens at once are too many", d->tokens);
    ei_pipeline *pipe;
    if ((st = ei_pipeline_get(ctx, &k, &pipe))) return st;
    /* Rows in pieces within the workgroup-count limit (vocabularies of
     * 262144 rows pass lavapipe's 65535) and the binding range. */
    for (uint32_t r0 = 0; st == EI_OK && r0 < d->rows; r0 += p.piece_rows) {
        p.row_base = r0;
        st = ei_weight_piece(ctx, w, w_offset, row_bytes, d->rows, r0, ctx->facts.max_workgroup_count[0] * per_group,
                             &b[0], &p.w_byte0, &p.piece_rows);
        if (st == EI_OK) st = ei_cmd_dispatch(cmd, pipe, b, &p, (p.piece_rows + per_group - 1) / per_group, gy, 1);
    }
    return st;
}
