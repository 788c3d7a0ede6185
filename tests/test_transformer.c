/* RMSNorm, gated activations, residual adds, bias rows, rotary embeddings
 * and the embedding lookup against the CPU reference, and their bad inputs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref.h"
#include "util/test_util.h"

/* A buffer holding `n` floats of host data at offset 0 (and room after). */
static ei_buffer *upload(ei_context *ctx, const float *host, uint64_t n, uint64_t room) {
    ei_buffer *b = tu_buffer(ctx, (n + room) * 4);
    CHECK_STATUS(ei_buffer_upload(b, 0, host, n * 4), EI_OK, ctx);
    return b;
}

static double compare(ei_context *ctx, ei_buffer *b, uint64_t offset, const float *want, uint64_t n) {
    float *got = tu_alloc(n, 4);
    CHECK_STATUS(ei_buffer_download(b, offset, got, n * 4), EI_OK, ctx);
    double err = tu_rel_error(got, want, n);
    free(got);
    return err;
}

static void run(ei_context *ctx, ei_cmd *cmd) {
    CHECK_STATUS(ei_cmd_run(cmd), EI_OK, ctx);
    ei_cmd_destroy(cmd);
}

static void check_norm(ei_context *ctx, uint32_t rows, uint32_t dim, int weighted) {
    uint64_t n = (uint64_t)rows * dim;
    float *x = tu_alloc(n + dim, 4), *want = tu_alloc(n, 4);
    tu_random_tensor(EI_F32, n + dim, 2.0f, x, x);
    ref_rms_norm(rows, dim, 1e-6, x, weighted ? x + n : NULL, want);
    ei_buffer *b = upload(ctx, x, n + dim, n);
    ei_tensor w = {b, n * 4, EI_F32};
    ei_cmd *cmd = NULL;
    CHECK_STATUS(ei_cmd_begin(ctx, &cmd), EI_OK, ctx);
    CHECK_STATUS(ei_rms_norm(cmd, rows, dim, 1e-6f, (ei_tensor){b, 0, EI_F32}, weighted ? &w : NULL,
                             (ei_tensor){b, (n + dim) * 4, EI_F32}),
                 EI_OK, ctx);
    run(ctx, cmd);
    double err = compare(ctx, b, (n + dim) * 4, want, n);
    CHECK(err <= 1e-6, "rms_norm rows %u dim %u: %.3g", rows, dim, err);
    printf("rms_norm rows %5u dim %4u%s: rel err %.2e\n", rows, dim, weighted ? " weighted" : "", err);
    ei_buffer_destroy(b);
    free(x), free(want);
}

static void check_elementwise(ei_context *ctx, ei_elementwise_op op, uint64_t n) {
    float *ab = tu_alloc(2 * n, 4), *want = tu_alloc(n, 4);
    tu_random_tensor(EI_F32, 2 * n, 4.0f, ab, ab);
    ref_elementwise(op, n, ab, ab + n, want);
    ei_buffer *b = upload(ctx, ab, 2 * n, 0);
    ei_cmd *cmd = NULL;
    CHECK_STATUS(ei_cmd_begin(ctx, &cmd), EI_OK, ctx);
    /* In place: the result replaces a. */
    CHECK_STATUS(
        ei_elementwise(cmd, op, n, (ei_tensor){b, 0, EI_F32}, (ei_tensor){b, n * 4, EI_F32}, (ei_tensor){b, 0, EI_F32}),
        EI_OK, ctx);
    run(ctx, cmd);
    double err = compare(ctx, b, 0, want, n);
    CHECK(err <= 2e-6, "elementwise %d: %.3g", (int)op, err);
    printf("elementwise op %d n %llu: rel err %.2e\n", (int)op, (unsigned long long)n, err);
    ei_buffer_destroy(b);
    free(ab), free(want);
}

/* f32 to f16, bf16 and f32, written after a 2-element offset: bit-exact
 * against the host's round-to-nearest-even conversions, infinities, NaN and
 * subnormals included. */
static void check_convert(ei_context *ctx, ei_dtype dtype, uint64_t n) {
    float *x = tu_alloc(n, 4);
    tu_random_tensor(EI_F32, n, 100.0f, x, x);
    const float edges[] = {INFINITY, -INFINITY, 1e-6f, -3e-8f, 70000.0f, 65519.0f, 0.0f, -0.0f};
    for (int i = 0; i < 8; i++)
        x[i * 7 % n] = edges[i];
    uint64_t esize = ei_dtype_size(dtype);
    ei_buffer *b = upload(ctx, x, n, (n * esize + 8) / 4 + 1);
    ei_cmd *cmd = NULL;
    CHECK_STATUS(ei_cmd_begin(ctx, &cmd), EI_OK, ctx);
    CHECK_STATUS(ei_convert(cmd, n, (ei_tensor){b, 0, EI_F32}, (ei_tensor){b, n * 4 + 2 * esize, dtype}), EI_OK, ctx);
    run(ctx, cmd);
    uint8_t *got = tu_alloc(n, esize);
    CHECK_STATUS(ei_buffer_download(b, n * 4 + 2 * esize, got, n * esize), EI_OK, ctx);
    uint64_t wrong = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint32_t want, have = 0;
        memcpy(&have, got + i * esize, esize);
        if (dtype == EI_F32)
            memcpy(&want, &x[i], 4);
        else
            want = dtype == EI_F16 ? tu_f32_to_f16(x[i]) : tu_f32_to_bf16(x[i]);
        wrong += have != want;
    }
    CHECK(wrong == 0, "convert to dtype %d: %llu of %llu differ", (int)dtype, (unsigned long long)wrong,
          (unsigned long long)n);
    printf("convert n %llu to dtype %d: bit-exact\n", (unsigned long long)n, (int)dtype);
    ei_buffer_destroy(b);
    free(x), free(got);
}

static void check_add_bias(ei_context *ctx, uint32_t rows, uint32_t dim) {
    uint64_t n = (uint64_t)rows * dim;
    float *xb = tu_alloc(n + dim, 4), *want = tu_alloc(n, 4);
    tu_random_tensor(EI_F32, n + dim, 1.0f, xb, xb);
    for (uint64_t i = 0; i < n; i++)
        want[i] = xb[i] + xb[n + i % dim];
    ei_buffer *b = upload(ctx, xb, n + dim, 0);
    ei_cmd *cmd = NULL;
    CHECK_STATUS(ei_cmd_begin(ctx, &cmd), EI_OK, ctx);
    CHECK_STATUS(ei_add_bias(cmd, rows, dim, (ei_tensor){b, 0, EI_F32}, (ei_tensor){b, n * 4, EI_F32},
                             (ei_tensor){b, 0, EI_F32}),
                 EI_OK, ctx);
    run(ctx, cmd);
    double err = compare(ctx, b, 0, want, n);
    CHECK(err == 0, "add_bias %u x %u: %.3g", rows, dim, err);
    printf("add_bias rows %u dim %u: rel err %.2e\n", rows, dim, err);
    ei_buffer_destroy(b);
    free(xb), free(want);
}

static void check_rope(ei_context *ctx, ei_rope_desc d, int with_factors) {
    uint64_t n = (uint64_t)d.tokens * d.heads * d.dim;
    float *x = tu_alloc(n + d.rot / 2, 4), *factors = x + n;
    tu_random_tensor(EI_F32, n, 1.0f, x, x);
    for (uint32_t i = 0; i < d.rot / 2; i++)
        factors[i] = 1.0f + (float)i / 8;
    float *want = tu_alloc(n, 4);
    memcpy(want, x, n * 4);
    ref_rope(&d, want, with_factors ? factors : NULL);
    ei_buffer *b = upload(ctx, x, n + d.rot / 2, 0);
    ei_tensor f = {b, n * 4, EI_F32};
    ei_cmd *cmd = NULL;
    CHECK_STATUS(ei_cmd_begin(ctx, &cmd), EI_OK, ctx);
    CHECK_STATUS(ei_rope(cmd, &d, (ei_tensor){b, 0, EI_F32}, with_factors ? &f : NULL), EI_OK, ctx);
    run(ctx, cmd);
    double err = compare(ctx, b, 0, want, n);
    /* The GPU's sin and cos of angles up to pos0 + tokens radians. */
    CHECK(err <= 1e-4, "rope: %.3g", err);
    printf("rope %s tokens %u at %u heads %u dim %u rot %u%s: rel err %.2e\n", d.neox ? "neox" : "normal", d.tokens,
           d.pos0, d.heads, d.dim, d.rot, with_factors ? " factors" : "", err);
    ei_buffer_destroy(b);
    free(x), free(want);
}

static void check_embed(ei_context *ctx, uint32_t wtype) {
    uint32_t vocab = 50, dim = 512, tokens = 9, be = ei_ggml_block_elements(wtype), bb = ei_ggml_block_bytes(wtype);
    uint64_t w_bytes = (uint64_t)vocab * dim / be * bb;
    uint8_t *w = tu_alloc(w_bytes + 4, 1);
    float *dense = tu_alloc((uint64_t)vocab * dim, 4), *want = tu_alloc((uint64_t)tokens * dim, 4);
    if (wtype == EI_GGML_F16) {
        tu_random_tensor(EI_F16, (uint64_t)vocab * dim, 1.0f, w, dense);
    } else { /* Q8_0: random int8 with finite scales */
        for (uint64_t i = 0; i < w_bytes; i++)
            w[i] = (uint8_t)tu_below(256);
        for (uint64_t blk = 0; blk < w_bytes / bb; blk++) {
            uint16_t h = tu_f32_to_f16(tu_uniform(-0.1f, 0.1f));
            memcpy(w + blk * bb, &h, 2);
        }
    }
    CHECK(ref_dequantize(wtype, w, (uint64_t)vocab * dim, dense), "type");
    uint32_t ids[9] = {0, 49, 7, 7, 23, 1, 48, 30, 12};
    for (uint32_t t = 0; t < tokens; t++)
        for (uint32_t c = 0; c < dim; c++)
            want[(uint64_t)t * dim + c] = dense[(uint64_t)ids[t] * dim + c] * 3.5f;
    uint64_t oi = (w_bytes + 4 + 15) / 16 * 16, oo = oi + 64;
    ei_buffer *b = tu_buffer(ctx, oo + (uint64_t)tokens * dim * 4);
    CHECK_STATUS(ei_buffer_upload(b, 0, w, w_bytes), EI_OK, ctx);
    CHECK_STATUS(ei_buffer_upload(b, oi, ids, sizeof ids), EI_OK, ctx);
    ei_cmd *cmd = NULL;
    CHECK_STATUS(ei_cmd_begin(ctx, &cmd), EI_OK, ctx);
    CHECK_STATUS(
        ei_embed(cmd, tokens, dim, vocab, wtype, 3.5f, b, 0, (ei_tensor){b, oi, EI_U32}, (ei_tensor){b, oo, EI_F32}),
        EI_OK, ctx);
    run(ctx, cmd);
    double err = compare(ctx, b, oo, want, (uint64_t)tokens * dim);
    CHECK(err <= 1e-6, "embed type %u: %.3g", wtype, err);
    printf("embed type %u: rel err %.2e\n", wtype, err);
    ei_buffer_destroy(b);
    free(w), free(dense), free(want);
}

static void check_bad_input(ei_context *ctx) {
    ei_buffer *b = tu_buffer(ctx, 4096);
    ei_tensor f = {b, 0, EI_F32}, h = {b, 0, EI_F16};
    ei_cmd *cmd = NULL;
    CHECK_STATUS(ei_cmd_begin(ctx, &cmd), EI_OK, ctx);
    CHECK_STATUS(ei_rms_norm(cmd, 4, 64, -1.0f, f, NULL, f), EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK_STATUS(ei_rms_norm(cmd, 4, 64, 1e-6f, h, NULL, f), EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK_STATUS(ei_rms_norm(cmd, 400, 64, 1e-6f, f, NULL, f), EI_ERROR_INVALID_ARGUMENT, ctx); /* too big */
    CHECK_STATUS(ei_elementwise(cmd, (ei_elementwise_op)7, 8, f, f, f), EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK_STATUS(ei_add_bias(cmd, 0, 8, f, f, f), EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK_STATUS(ei_convert(cmd, 7, f, h), EI_ERROR_INVALID_ARGUMENT, ctx);                         /* odd n */
    CHECK_STATUS(ei_convert(cmd, 8, f, (ei_tensor){b, 2, EI_F16}), EI_ERROR_INVALID_ARGUMENT, ctx); /* half a word */
    CHECK_STATUS(ei_convert(cmd, 8, f, (ei_tensor){b, 0, EI_U32}), EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK_STATUS(ei_convert(cmd, 2048, f, h), EI_ERROR_INVALID_ARGUMENT, ctx);       /* x past the buffer */
    CHECK_STATUS(ei_add_bias(cmd, 64, 64, f, f, f), EI_ERROR_INVALID_ARGUMENT, ctx); /* past the buffer */
    ei_rope_desc r = {2, 2, 64, 63, 0, 10000.0f, 1.0f, 0};
    CHECK_STATUS(ei_rope(cmd, &r, f, NULL), EI_ERROR_INVALID_ARGUMENT, ctx); /* odd rot */
    r.rot = 64;
    r.base = 0;
    CHECK_STATUS(ei_rope(cmd, &r, f, NULL), EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK_STATUS(ei_embed(cmd, 1, 100, 10, EI_GGML_Q8_0, 1.0f, b, 0, (ei_tensor){b, 0, EI_U32}, f),
                 EI_ERROR_INVALID_ARGUMENT, ctx); /* 100 is not whole blocks of 32 */
    CHECK_STATUS(ei_embed(cmd, 1, 64, 10, EI_GGML_F16, 1.0f, b, 0, f, f), EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK_STATUS(ei_cmd_run(cmd), EI_OK, ctx);
    ei_cmd_destroy(cmd);
    ei_buffer_destroy(b);
}

int main(void) {
    tu_seed();
    ei_context *ctx = tu_context();
    check_norm(ctx, 7, 640, 1);
    check_norm(ctx, 4 * 11, 256, 1); /* QK-norm: a row per head */
    check_norm(ctx, 70000, 2, 0);    /* more rows than one dispatch holds on lavapipe */
    check_elementwise(ctx, EI_SWIGLU, 5000);
    check_elementwise(ctx, EI_GEGLU_TANH, 4097);
    check_elementwise(ctx, EI_ADD, 33);
    check_add_bias(ctx, 13, 320);
    check_convert(ctx, EI_F16, 4098);
    check_convert(ctx, EI_BF16, 1000);
    check_convert(ctx, EI_F32, 66);
    check_rope(ctx, (ei_rope_desc){5, 3, 128, 128, 0, 10000.0f, 1.0f, 0}, 0);
    check_rope(ctx, (ei_rope_desc){7, 2, 256, 256, 300, 1000000.0f, 1.0f, 1}, 0);
    check_rope(ctx, (ei_rope_desc){4, 4, 128, 64, 17, 500000.0f, 0.25f, 1}, 1); /* partial rotation, factors */
    check_embed(ctx, EI_GGML_F16);
    check_embed(ctx, EI_GGML_Q8_0);
    /* A vocabulary larger than one binding: rows in pieces (20 KiB cap). */
    ei_context_desc capped = ei_context_desc_default();
    capped.max_binding_bytes = 20u << 10;
    ei_context *small = tu_context_from(capped);
    check_embed(small, EI_GGML_Q8_0);
    tu_release(small);
    check_bad_input(ctx);
    return tu_finish(ctx);
}
