/* The small pieces of a transformer layer: RMSNorm, gated activations and
 * residual adds, conversion to 16-bit types, rotary embeddings, embedding
 * lookup. */
#include <math.h>

#include "../vk/internal.h"
#include "entropyinfer_gguf.h"

#define NORM_WORKGROUP 128
#define ELEMENT_WORKGROUP 256

/* Checks and binds an f32 tensor of n elements. */
static ei_status f32(ei_context *ctx, ei_tensor t, uint64_t n, const char *what, ei_binding *b, uint32_t *skip) {
    if (t.dtype != EI_F32) return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "%s must be EI_F32", what);
    ei_status st = ei_tensor_check(ctx, t, n, what);
    return st == EI_OK ? ei_tensor_binding(ctx, t, 0, n, b, skip) : st;
}

ei_status ei_rms_norm(ei_cmd *cmd, uint32_t rows, uint32_t dim, float eps, ei_tensor x, const ei_tensor *weight,
                      ei_tensor out) {
    if (!cmd) return EI_ERROR_INVALID_ARGUMENT;
    ei_context *ctx = cmd->ctx;
    if (!rows || !dim || !(eps >= 0) || !isfinite(eps))
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_rms_norm: rows and dim must be positive, eps finite >= 0");
    struct {
        uint32_t dim, row_base, has_weight;
        float eps;
        uint32_t x_skip, w_skip, o_skip;
    } p = {dim, 0, weight != NULL, eps};
    uint64_t n = (uint64_t)rows * dim;
    ei_binding b[3];
    ei_status st;
    if ((st = f32(ctx, x, n, "ei_rms_norm: x", &b[0], &p.x_skip)) ||
        (weight && (st = f32(ctx, *weight, dim, "ei_rms_norm: weight", &b[1], &p.w_skip))) ||
        (st = f32(ctx, out, n, "ei_rms_norm: out", &b[2], &p.o_skip)))
        return st;
    if (!weight) b[1] = b[0]; /* not read */
    ei_kernel k = {.shader = "transformer_norm",
                   .bindings = 3,
                   .push_size = sizeof p,
                   .spec_count = 2,
                   .spec = {NORM_WORKGROUP, NORM_WORKGROUP}};
    uint32_t max_x = ctx->facts.max_workgroup_count[0];
    for (uint32_t r0 = 0; st == EI_OK && r0 < rows; r0 += max_x) {
        p.row_base = r0;
        st = ei_cmd_dispatch_kernel(cmd, &k, b, &p, rows - r0 < max_x ? rows - r0 : max_x, 1, 1);
    }
    return st;
}

/* out[i] = op(a[i], b[i % b_period]) for i < n. */
static ei_status elementwise(ei_cmd *cmd, ei_elementwise_op op, uint64_t n, uint32_t b_period, ei_tensor a,
                             ei_tensor b_in, ei_tensor out, const char *what) {
    ei_context *ctx = cmd->ctx;
    struct {
        uint32_t n, base, b_period, a_skip, b_skip, o_skip;
    } p = {(uint32_t)n, 0, b_period};
    ei_binding b[3];
    ei_status st;
    if ((st = f32(ctx, a, n, what, &b[0], &p.a_skip)) || (st = f32(ctx, b_in, b_period, what, &b[1], &p.b_skip)) ||
        (st = f32(ctx, out, n, what, &b[2], &p.o_skip)))
        return st;
    ei_kernel k = {.shader = "transformer_glu",
                   .bindings = 3,
                   .push_size = sizeof p,
                   .spec_count = 2,
                   .spec = {ELEMENT_WORKGROUP, (uint32_t)op}};
    uint64_t per = (uint64_t)ctx->facts.max_workgroup_count[0] * ELEMENT_WORKGROUP;
    for (uint64_t i0 = 0; st == EI_OK && i0 < n; i0 += per) {
        p.base = (uint32_t)i0;
        uint64_t m = n - i0 < per ? n - i0 : per;
        st = ei_cmd_dispatch_kernel(cmd, &k, b, &p, (uint32_t)((m + ELEMENT_WORKGROUP - 1) / ELEMENT_WORKGROUP), 1, 1);
    }
    return st;
}

ei_status ei_elementwise(ei_cmd *cmd, ei_elementwise_op op, uint64_t n, ei_tensor a, ei_tensor b, ei_tensor out) {
    if (!cmd) return EI_ERROR_INVALID_ARGUMENT;
    if ((unsigned)op > EI_ADD || n == 0 || n > UINT32_MAX)
        return ei_fail(cmd->ctx, EI_ERROR_INVALID_ARGUMENT, "ei_elementwise: unknown op or n not in 1..2^32-1");
    return elementwise(cmd, op, n, (uint32_t)n, a, b, out, "ei_elementwise");
}

ei_status ei_convert(ei_cmd *cmd, uint64_t n, ei_tensor x, ei_tensor out) {
    if (!cmd) return EI_ERROR_INVALID_ARGUMENT;
    ei_context *ctx = cmd->ctx;
    if (n == 0 || n % 2 || n / 2 > UINT32_MAX || !ei_is_float(out.dtype))
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_convert: n must be even and positive, out a float dtype");
    struct {
        uint32_t pairs, base, x_skip, o_skip;
    } p = {(uint32_t)(n / 2)};
    ei_binding b[2];
    ei_status st = f32(ctx, x, n, "ei_convert: x", &b[0], &p.x_skip);
    if (st == EI_OK) st = ei_tensor_check(ctx, out, n, "ei_convert: out");
    if (st == EI_OK) st = ei_tensor_binding(ctx, out, 0, n, &b[1], &p.o_skip);
    if (st != EI_OK) return st;
    if (p.o_skip % 2) /* a 16-bit pair must be one whole word */
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_convert: out must start at an even element of a word");
    ei_kernel k = {.shader = "convert",
                   .bindings = 2,
                   .push_size = sizeof p,
                   .spec_count = 2,
                   .spec = {ELEMENT_WORKGROUP, out.dtype}};
    uint64_t per = (uint64_t)ctx->facts.max_workgroup_count[0] * ELEMENT_WORKGROUP;
    for (uint64_t i0 = 0; st == EI_OK && i0 < p.pairs; i0 += per) {
        uint64_t m = p.pairs - i0 < per ? p.pairs - i0 : per;
        p.base = (uint32_t)i0;
        st = ei_cmd_dispatch_kernel(cmd, &k, b, &p, (uint32_t)((m + ELEMENT_WORKGROUP - 1) / ELEMENT_WORKGROUP), 1, 1);
    }
    return st;
}

ei_status ei_add_bias(ei_cmd *cmd, uint32_t rows, uint32_t dim, ei_tensor x, ei_tensor bias, ei_tensor out) {
    if (!cmd) return EI_ERROR_INVALID_ARGUMENT;
    if (!rows || !dim || (uint64_t)rows * dim > UINT32_MAX)
        return ei_fail(cmd->ctx, EI_ERROR_INVALID_ARGUMENT, "ei_add_bias: rows x dim not in 1..2^32-1");
    return elementwise(cmd, EI_ADD, (uint64_t)rows * dim, dim, x, bias, out, "ei_add_bias");
}

ei_status ei_rope(ei_cmd *cmd, const ei_rope_desc *d, ei_tensor x, const ei_tensor *factors) {
    if (!cmd) return EI_ERROR_INVALID_ARGUMENT;
    ei_context *ctx = cmd->ctx;
    if (!d || !d->tokens || !d->heads || !d->rot || d->rot % 2 || d->rot > d->dim || !(d->base > 0) ||
        !isfinite(d->base) || !(d->freq_scale > 0) || !isfinite(d->freq_scale))
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT,
                       "ei_rope: tokens, heads positive, rot even and at most dim, base and freq_scale positive");
    struct {
        uint32_t tokens, heads, dim, rot, pos0, has_factors;
        float base, freq_scale;
        uint32_t x_skip, f_skip;
    } p = {d->tokens, d->heads, d->dim, d->rot, d->pos0, factors != NULL, d->base, d->freq_scale};
    ei_binding b[2];
    ei_status st;
    if ((st = f32(ctx, x, (uint64_t)d->tokens * d->heads * d->dim, "ei_rope: x", &b[0], &p.x_skip)) ||
        (factors && (st = f32(ctx, *factors, d->rot / 2, "ei_rope: factors", &b[1], &p.f_skip))))
        return st;
    if (!factors) b[1] = b[0]; /* not read */
    uint64_t threads = (uint64_t)d->tokens * d->heads * (d->rot / 2);
    ei_kernel k = {.shader = "transformer_rope",
                   .bindings = 2,
                   .push_size = sizeof p,
                   .spec_count = 2,
                   .spec = {ELEMENT_WORKGROUP, d->neox != 0}};
    return ei_cmd_dispatch_kernel(cmd, &k, b, &p, (uint32_t)((threads + ELEMENT_WORKGROUP - 1) / ELEMENT_WORKGROUP), 1,
                                  1);
}

ei_status ei_embed(ei_cmd *cmd, uint32_t tokens, uint32_t dim, uint32_t vocab, uint32_t wtype, float scale,
                   ei_buffer *w, uint64_t w_offset, ei_tensor ids, ei_tensor out) {
    if (!cmd) return EI_ERROR_INVALID_ARGUMENT;
    ei_context *ctx = cmd->ctx;
    uint32_t be = ei_ggml_block_elements(wtype), bb = ei_ggml_block_bytes(wtype);
    if (!w || !tokens || !vocab || !dim || !be || dim % be || wtype == EI_GGML_Q8_1 || wtype == EI_GGML_Q2_K ||
        wtype == EI_GGML_Q3_K || wtype == EI_GGML_Q8_K || !isfinite(scale))
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT,
                       "ei_embed: positive sizes, a supported type (%u) and dim whole blocks of it", wtype);
    if (ids.dtype != EI_U32) return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_embed: ids must be EI_U32");
    uint64_t row_bytes = (uint64_t)dim / be * bb;
    struct {
        uint32_t tokens, dim, vocab;
        float scale;
        uint32_t row_base, rows, w_byte0, ids_skip, o_skip;
    } p = {tokens, dim, vocab, scale};
    ei_binding b[3];
    ei_status st;
    if ((st = ei_tensor_check(ctx, (ei_tensor){w, w_offset, EI_U32}, (row_bytes * vocab + 3) / 4, "ei_embed: w")) ||
        (st = ei_tensor_check(ctx, ids, tokens, "ei_embed: ids")) ||
        (st = ei_tensor_binding(ctx, ids, 0, tokens, &b[1], &p.ids_skip)) ||
        (st = f32(ctx, out, (uint64_t)tokens * dim, "ei_embed: out", &b[2], &p.o_skip)))
        return st;
    ei_kernel k = {.shader = "transformer_embed",
                   .bindings = 3,
                   .push_size = sizeof p,
                   .spec_count = 4,
                   .spec = {ELEMENT_WORKGROUP, wtype, be, bb}};
    uint64_t threads = (uint64_t)tokens * dim;
    /* A vocabulary larger than one binding goes in pieces of rows; each
     * piece writes the tokens whose rows it holds. */
    for (uint32_t r0 = 0; st == EI_OK && r0 < vocab; r0 += p.rows) {
        p.row_base = r0;
        st = ei_weight_piece(ctx, w, w_offset, row_bytes, vocab, r0, UINT32_MAX, &b[0], &p.w_byte0, &p.rows);
        if (st == EI_OK)
            st = ei_cmd_dispatch_kernel(cmd, &k, b, &p,
                                        (uint32_t)((threads + ELEMENT_WORKGROUP - 1) / ELEMENT_WORKGROUP), 1, 1);
    }
    return st;
}
