/* Matrix products with weights in their GGUF (ggml) storage type. */
#include "../vk/internal.h"
#include "entropyinfer_gguf.h"

#define MATMUL_WORKGROUP 64
#define MATMUL_TOKENS 16 /* tokens per workgroup in prefill: each weight decoded once for 16 */
/* matmul_coopmat.comp: 4 subgroups, 128 rows x 64 tokens a workgroup,
 * columns in steps of 32; from COOPMAT_MIN_TOKENS tokens on (below, most of
 * a tile would be padding, and short prompts and decode keep f32
 * activations). */
#define COOPMAT_SUBGROUPS 4
#define COOPMAT_ROWS 128
#define COOPMAT_TOKENS 64
#define COOPMAT_COLS 32
#define COOPMAT_MIN_TOKENS 64

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
    if (d->tokens >= COOPMAT_MIN_TOKENS && d->cols % COOPMAT_COLS == 0 &&
        ei_coopmat_ready(ctx, "matmul_coopmat", COOPMAT_SUBGROUPS)) {
        uint32_t wg = COOPMAT_SUBGROUPS * ctx->facts.subgroup_size;
        k = (ei_kernel){.shader = "matmul_coopmat",
                        .bindings = 3,
                        .push_size = sizeof p,
                        .spec_count = 5,
                        .spec = {wg, wg, d->wtype, be, bb}};
        per_group = COOPMAT_ROWS;
        gy = (d->tokens + COOPMAT_TOKENS - 1) / COOPMAT_TOKENS;
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
