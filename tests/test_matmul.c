/* ei_matmul with weights in every supported ggml type against the
 * reference dequantization (itself checked against the gguf package):
 * decode (1 token) and prefill (ragged token counts), ragged rows, more
 * rows than one dispatch or one binding holds, and the bad inputs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref.h"
#include "util/test_util.h"

/* Random blocks: random bytes with finite f16 scales where the type has
 * them; plain random values for the float types. */
static void random_weights(uint32_t type, uint64_t rows, uint32_t cols, uint8_t *w) {
    uint32_t be = ei_ggml_block_elements(type), bb = ei_ggml_block_bytes(type);
    uint64_t blocks = rows * cols / be;
    for (uint64_t i = 0; i < blocks * bb; i++)
        w[i] = (uint8_t)tu_below(256);
    int halves[2] = {-1, -1};
    switch (type) {
    case EI_GGML_Q4_1:
    case EI_GGML_Q5_1:
    case EI_GGML_Q4_K:
    case EI_GGML_Q5_K: halves[1] = 2; /* fall through */
    case EI_GGML_Q4_0:
    case EI_GGML_Q5_0:
    case EI_GGML_Q8_0: halves[0] = 0; break;
    case EI_GGML_Q6_K: halves[0] = 208; break;
    default: break;
    }
    for (uint64_t b = 0; b < blocks; b++)
        for (int h = 0; h < 2; h++)
            if (halves[h] >= 0) {
                uint16_t v = tu_f32_to_f16(tu_uniform(-0.05f, 0.05f));
                memcpy(w + b * bb + halves[h], &v, 2);
            }
    if (type == EI_GGML_F32 || type == EI_GGML_F16 || type == EI_GGML_BF16) {
        float *tmp = tu_alloc(blocks, 4);
        tu_random_tensor(type == EI_GGML_F32 ? EI_F32 : type == EI_GGML_F16 ? EI_F16 : EI_BF16, blocks, 1.0f, w, tmp);
        free(tmp);
    }
}

static void run_case(ei_context *ctx, uint32_t type, uint32_t rows, uint32_t cols, uint32_t tokens) {
    uint32_t be = ei_ggml_block_elements(type), bb = ei_ggml_block_bytes(type);
    uint64_t w_bytes = (uint64_t)rows * cols / be * bb;
    uint8_t *w = tu_alloc(w_bytes + 4, 1);
    float *dense = tu_alloc((uint64_t)rows * cols, 4), *x = tu_alloc((uint64_t)tokens * cols, 4);
    float *want = tu_alloc((uint64_t)tokens * rows, 4), *got = tu_alloc((uint64_t)tokens * rows, 4);
    random_weights(type, rows, cols, w);
    CHECK(ref_dequantize(type, w, (uint64_t)rows * cols, dense), "type %u", type);
    tu_random_tensor(EI_F32, (uint64_t)tokens * cols, 1.0f, x, x);
    for (uint32_t t = 0; t < tokens; t++)
        for (uint32_t r = 0; r < rows; r++) {
            double s = 0;
            for (uint32_t c = 0; c < cols; c++)
                s += (double)dense[(uint64_t)r * cols + c] * x[(uint64_t)t * cols + c];
            want[(uint64_t)t * rows + r] = (float)s;
        }
    /* Weights at an offset that is not a multiple of the binding alignment. */
    uint64_t ow = 12, ox = (ow + w_bytes + 4 + 15) / 16 * 16, oy = ox + (uint64_t)tokens * cols * 4;
    ei_buffer *b = tu_buffer(ctx, oy + (uint64_t)tokens * rows * 4);
    CHECK_STATUS(ei_buffer_upload(b, ow, w, w_bytes), EI_OK, ctx);
    CHECK_STATUS(ei_buffer_upload(b, ox, x, (uint64_t)tokens * cols * 4), EI_OK, ctx);
    ei_matmul_desc d = {rows, cols, tokens, type};
    ei_cmd *cmd = NULL;
    CHECK_STATUS(ei_cmd_begin(ctx, &cmd), EI_OK, ctx);
    CHECK_STATUS(ei_matmul(cmd, &d, b, ow, (ei_tensor){b, ox, EI_F32}, (ei_tensor){b, oy, EI_F32}), EI_OK, ctx);
    CHECK_STATUS(ei_cmd_run(cmd), EI_OK, ctx);
    ei_cmd_destroy(cmd);
    CHECK_STATUS(ei_buffer_download(b, oy, got, (uint64_t)tokens * rows * 4), EI_OK, ctx);
    double err = tu_rel_error(got, want, (uint64_t)tokens * rows);
    /* From 64 tokens on, devices with cooperative matrices round the
     * activations (and decoded weights) to f16. */
    int f16 = tokens >= 64 && (ei_context_facts(ctx)->features & EI_FEATURE_COOPERATIVE_MATRIX);
    double limit = f16 ? 2e-3 : 1e-5;
    CHECK(err <= limit, "type %u rows %u cols %u tokens %u: relative error %.3g", type, rows, cols, tokens, err);
    printf("matmul type %2u rows %5u cols %4u tokens %2u: rel err %.2e\n", type, rows, cols, tokens, err);
    ei_buffer_destroy(b);
    free(w), free(dense), free(x), free(want), free(got);
}

/* The rate probe on random matrices: each subgroup's 256 sums are
 * 8 * steps * (A B), exact in f32 (entries are multiples of 1/16 in
 * [-1, 1]). Bad arguments fail on every device. */
static void check_peak(ei_context *ctx) {
    enum { GROUPS = 3, STEPS = 5 };
    ei_buffer *ab = tu_buffer(ctx, 1024 + 16), *out = tu_buffer(ctx, GROUPS * 1024 * 4 + 16);
    ei_tensor in = {ab, 16, EI_F16}, sums = {out, 16, EI_F32};
    uint16_t h[512];
    float a[256], b[256];
    for (int i = 0; i < 512; i++) {
        float x = (float)(rand() % 33 - 16) / 16;
        h[i] = tu_f32_to_f16(x);
        (i < 256 ? a : b)[i % 256] = x;
    }
    CHECK_STATUS(ei_buffer_upload(ab, 16, h, sizeof h), EI_OK, ctx);
    ei_cmd *cmd = NULL;
    double flops = 0;
    CHECK_STATUS(ei_cmd_begin(ctx, &cmd), EI_OK, ctx);
    CHECK_STATUS(ei_coopmat_peak(cmd, 0, STEPS, in, sums, &flops), EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK_STATUS(ei_coopmat_peak(cmd, GROUPS, STEPS, (ei_tensor){ab, 16, EI_F32}, sums, &flops),
                 EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK_STATUS(ei_coopmat_peak(cmd, GROUPS + 1, STEPS, in, sums, &flops), EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK(strstr(ei_context_error(ctx), "out") != NULL, "%s", ei_context_error(ctx));
    ei_status st = ei_coopmat_peak(cmd, GROUPS, STEPS, in, sums, &flops);
    if (st == EI_ERROR_FEATURE_NOT_PRESENT)
        printf("cooperative-matrix rate probe skipped: %s\n", ei_context_error(ctx));
    else
        CHECK_STATUS(st, EI_OK, ctx);
    CHECK_STATUS(ei_cmd_run(cmd), EI_OK, ctx);
    ei_cmd_destroy(cmd);
    if (st == EI_OK) {
        CHECK(flops == 2.0 * 4096 * 8 * STEPS * 4 * GROUPS, "flops %g", flops);
        static float got[GROUPS * 1024];
        CHECK_STATUS(ei_buffer_download(out, 16, got, sizeof got), EI_OK, ctx);
        int wrong = 0;
        for (int i = 0; i < GROUPS * 1024; i++) {
            int r = i % 256 / 16, c = i % 16;
            float want = 0;
            for (int k = 0; k < 16; k++)
                want += a[r * 16 + k] * b[k * 16 + c];
            wrong += got[i] != want * 8 * STEPS;
        }
        CHECK(wrong == 0, "cooperative-matrix rate probe: %d of %d sums wrong", wrong, GROUPS * 1024);
        printf("cooperative-matrix rate probe: %d sums checked\n", GROUPS * 1024);
    }
    ei_buffer_destroy(ab);
    ei_buffer_destroy(out);
}

int main(void) {
    tu_seed();
    ei_context *ctx = tu_context();
    const uint32_t types[] = {EI_GGML_F32,  EI_GGML_F16,  EI_GGML_BF16, EI_GGML_Q4_0, EI_GGML_Q4_1, EI_GGML_Q5_0,
                              EI_GGML_Q5_1, EI_GGML_Q8_0, EI_GGML_Q4_K, EI_GGML_Q5_K, EI_GGML_Q6_K};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        run_case(ctx, types[i], 37, 512, 1);
        run_case(ctx, types[i], 19, 768, 11);
        run_case(ctx, types[i], 130, 512, 70); /* a whole tile and ragged ends */
    }
    /* Several tiles each way and many column steps, ragged both ways. */
    run_case(ctx, EI_GGML_F16, 300, 1024, 200);
    run_case(ctx, EI_GGML_Q4_K, 270, 768, 129);
    if (ei_context_facts(ctx)->features & EI_FEATURE_COOPERATIVE_MATRIX) {
        ei_context_desc portable = ei_context_desc_default();
        portable.disabled_features = EI_FEATURE_COOPERATIVE_MATRIX;
        ei_context *plain = tu_context_from(portable);
        printf("the same many-token cases on the portable kernel:\n");
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            run_case(plain, types[i], 130, 512, 70);
        tu_release(plain);
    } else {
        printf("many tokens: cooperative-matrix kernel skipped: the device lacks VK_KHR_cooperative_matrix\n");
    }
    run_case(ctx, EI_GGML_Q8_0, 70001, 32, 1); /* more rows than one dispatch holds on lavapipe */
    /* Matrices larger than one binding (Gemma 3's 178 MB embedding on
     * lavapipe's 128 MiB): with a 16 KiB cap, pieces of rows, some starting
     * inside a 32-bit word (22-byte Q5_0 rows). */
    ei_context_desc capped = ei_context_desc_default();
    capped.max_binding_bytes = 16u << 10;
    ei_context *small = tu_context_from(capped);
    run_case(small, EI_GGML_Q5_0, 1001, 32, 3);
    run_case(small, EI_GGML_Q6_K, 97, 512, 1);
    tu_release(small);

    check_peak(ctx);

    ei_buffer *b = tu_buffer(ctx, 4096);
    ei_tensor f = {b, 0, EI_F32};
    ei_cmd *cmd = NULL;
    CHECK_STATUS(ei_cmd_begin(ctx, &cmd), EI_OK, ctx);
    ei_matmul_desc d = {4, 100, 1, EI_GGML_Q4_K};
    CHECK_STATUS(ei_matmul(cmd, &d, b, 0, f, f), EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK(strstr(ei_context_error(ctx), "whole blocks") != NULL, "%s", ei_context_error(ctx));
    d = (ei_matmul_desc){4, 256, 1, 11 /* Q3_K: no kernel */};
    CHECK_STATUS(ei_matmul(cmd, &d, b, 0, f, f), EI_ERROR_FEATURE_NOT_PRESENT, ctx);
    d = (ei_matmul_desc){64, 256, 1, EI_GGML_Q8_0};
    CHECK_STATUS(ei_matmul(cmd, &d, b, 0, f, f), EI_ERROR_INVALID_ARGUMENT, ctx); /* 64 x 272 bytes > 4096 */
    CHECK(strstr(ei_context_error(ctx), "ei_matmul: w") != NULL, "%s", ei_context_error(ctx));
    d = (ei_matmul_desc){4, 64, 1, EI_GGML_F32};
    CHECK_STATUS(ei_matmul(cmd, &d, b, 0, (ei_tensor){b, 1028, EI_F32}, f), EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK(strstr(ei_context_error(ctx), "16 bytes") != NULL, "%s", ei_context_error(ctx));
    CHECK_STATUS(ei_cmd_run(cmd), EI_OK, ctx);
    ei_cmd_destroy(cmd);
    ei_buffer_destroy(b);
    return tu_finish(ctx);
}
