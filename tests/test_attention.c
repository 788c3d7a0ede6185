/* Dense flash attention against the CPU reference: every head dim, GQA
 * ratios 1..16, ragged lengths (multiples of no tile), query chunks against
 * longer caches, non-causal, sliding windows, soft-capping, every dtype;
 * decode with split keys and ragged per-head caches; and the bad inputs. */
#include <stdlib.h>
#include <string.h>

#include "ref/ref.h"
#include "util/test_util.h"

static double tolerance(ei_dtype t) { return t == EI_F32 ? 1e-5 : t == EI_F16 ? 2e-3 : 1e-2; }

static uint64_t round16(uint64_t x) { return (x + 15) / 16 * 16; }

/* Runs the recording, reads the n-element output and checks it against ref
 * within the dtype's tolerance; returns the relative error. */
static double run_and_compare(ei_context *ctx, ei_cmd *cmd, ei_tensor out, uint64_t n, const float *ref,
                              const char *what) {
    CHECK_STATUS(ei_cmd_run(cmd), EI_OK, ctx);
    ei_cmd_destroy(cmd);
    void *stored = tu_alloc(n * ei_dtype_size(out.dtype), 1);
    float *got = tu_alloc(n * 4, 1);
    CHECK_STATUS(ei_buffer_download(out.buffer, out.offset, stored, n * ei_dtype_size(out.dtype)), EI_OK, ctx);
    tu_to_float(out.dtype, stored, n, got);
    double err = tu_rel_error(got, ref, n);
    CHECK(err <= tolerance(out.dtype), "%s: relative error %.3g over %.1g", what, err, tolerance(out.dtype));
    free(stored);
    free(got);
    return err;
}

/* K and V at 16-byte aligned offsets (kernels may use 16-byte loads) or 4
 * bytes off (they must not). */
static int kv_aligned;

/* Runs one case; lens (per KV head) selects decode. */
static void run_case(ei_context *ctx, ei_attention_desc d, ei_dtype dtype, int decode, const uint32_t *lens,
                     const char *what) {
    uint64_t q_n = (uint64_t)d.q_len * d.heads * d.dim, kv_n = (uint64_t)d.kv_len * d.kv_heads * d.dim;
    size_t es = ei_dtype_size(dtype);
    void *sq = tu_alloc(q_n * es, 1), *sk = tu_alloc(kv_n * es, 1), *sv = tu_alloc(kv_n * es, 1);
    float *fq = tu_alloc(q_n * 4, 1), *fk = tu_alloc(kv_n * 4, 1), *fv = tu_alloc(kv_n * 4, 1),
          *ref = tu_alloc(q_n * 4, 1);
    tu_random_tensor(dtype, q_n, 1.0f, sq, fq);
    tu_random_tensor(dtype, kv_n, 1.0f, sk, fk);
    tu_random_tensor(dtype, kv_n, 1.0f, sv, fv);
    ref_attention(&d, fq, fk, fv, lens, ref);

    /* Everything in one buffer at uneven offsets. */
    uint64_t scratch = decode ? ei_attention_decode_scratch(ctx, &d) : 0;
    uint64_t off = kv_aligned ? 0 : 4;
    uint64_t oq = 4, ok = round16(oq + q_n * es) + off, ov = round16(ok + kv_n * es) + off, oo = ov + kv_n * es + 8;
    uint64_t ol = (oo + q_n * es + 255) / 256 * 256, os = ol + 4 * d.kv_heads + 4;
    ei_buffer *b = tu_buffer(ctx, os + scratch + 4);
    CHECK_STATUS(ei_buffer_upload(b, oq, sq, q_n * es), EI_OK, ctx);
    CHECK_STATUS(ei_buffer_upload(b, ok, sk, kv_n * es), EI_OK, ctx);
    CHECK_STATUS(ei_buffer_upload(b, ov, sv, kv_n * es), EI_OK, ctx);
    if (lens) CHECK_STATUS(ei_buffer_upload(b, ol, lens, 4 * d.kv_heads), EI_OK, ctx);
    ei_tensor tl = {b, ol, EI_U32};
    ei_cmd *cmd = NULL;
    CHECK_STATUS(ei_cmd_begin(ctx, &cmd), EI_OK, ctx);
    if (decode)
        CHECK_STATUS(ei_attention_decode(cmd, &d, (ei_tensor){b, oq, dtype}, (ei_tensor){b, ok, dtype},
                                         (ei_tensor){b, ov, dtype}, lens ? &tl : NULL, (ei_tensor){b, oo, dtype},
                                         (ei_tensor){b, os, EI_F32}),
                     EI_OK, ctx);
    else
        CHECK_STATUS(ei_attention_prefill(cmd, &d, (ei_tensor){b, oq, dtype}, (ei_tensor){b, ok, dtype},
                                          (ei_tensor){b, ov, dtype}, (ei_tensor){b, oo, dtype}),
                     EI_OK, ctx);
    double err = run_and_compare(ctx, cmd, (ei_tensor){b, oo, dtype}, q_n, ref, what);
    printf("%-6s %-4s Lq %4u Lk %5u H %2u Hkv %2u D %3u%s%s%s%s%s: rel err %.2e\n", decode ? "decode" : "attn",
           tu_dtype_name(dtype), d.q_len, d.kv_len, d.heads, d.kv_heads, d.dim, d.causal ? " causal" : "",
           d.window ? " window" : "", d.softcap > 0 ? " softcap" : "", lens ? " ragged" : "",
           kv_aligned ? "" : " kv+4B", err);
    ei_buffer_destroy(b);
    free(sq), free(sk), free(sv), free(fq), free(fk), free(fv), free(ref);
}

static ei_attention_desc desc(uint32_t lq, uint32_t lk, uint32_t h, uint32_t hkv, uint32_t dim) {
    ei_attention_desc d = {lq, lk, h, hkv, dim, 0, 1, 0, 0};
    return d;
}

/* Sparse prefill with host-made block lists: random keeps and blocks, or
 * (full) every earlier block, where it must equal dense attention. */
static void run_sparse_case(ei_context *ctx, ei_attention_desc d, ei_entropy_config cfg, uint32_t layer, ei_dtype dtype,
                            int full, const char *what) {
    ei_profile_desc pd = {d.kv_len, d.heads, d.kv_heads, d.dim};
    ei_profile_shape sh = ei_profile_shape_of(&pd, &cfg);
    uint32_t nrep = cfg.segment_size / cfg.block_size;
    uint64_t q_n = (uint64_t)d.q_len * d.heads * d.dim, kv_n = (uint64_t)d.kv_len * d.kv_heads * d.dim;
    uint64_t hs = (uint64_t)d.kv_heads * sh.nseg, sel_n = hs * sh.max_keep;
    size_t es = ei_dtype_size(dtype);
    void *sq = tu_alloc(q_n * es, 1), *sk = tu_alloc(kv_n * es, 1), *sv = tu_alloc(kv_n * es, 1);
    float *fq = tu_alloc(q_n * 4, 1), *fk = tu_alloc(kv_n * 4, 1), *fv = tu_alloc(kv_n * 4, 1),
          *ref = tu_alloc(q_n * 4, 1);
    uint32_t *keep = tu_alloc(hs * 4, 1), *sel = tu_alloc(sel_n * 4 + 4, 1);
    tu_random_tensor(dtype, q_n, 1.0f, sq, fq);
    tu_random_tensor(dtype, kv_n, 1.0f, sk, fk);
    tu_random_tensor(dtype, kv_n, 1.0f, sv, fv);
    uint64_t sparse_segments = 0;
    for (uint32_t hk = 0; hk < d.kv_heads; hk++)
        for (uint32_t s = 0; s < sh.nseg; s++) {
            uint32_t visible = s * nrep < sh.nblk ? s * nrep : sh.nblk,
                     most = visible < sh.max_keep ? visible : sh.max_keep;
            uint32_t k = full ? visible : (most ? tu_below(most + 1) : 0),
                     *list = sel + (hk * sh.nseg + s) * sh.max_keep;
            keep[hk * sh.nseg + s] = k;
            /* k distinct blocks below `visible`, ascending: a random subset walk. */
            for (uint32_t j = 0, need = k; j < visible && need; j++)
                if (tu_below(visible - j) < need) list[k - need--] = j;
            sparse_segments += k && s * cfg.segment_size >= cfg.threshold_len && s + 1 < sh.nseg;
        }
    if (full)
        ref_attention(&d, fq, fk, fv, NULL, ref);
    else
        ref_attention_sparse(&d, &cfg, layer, fq, fk, fv, keep, sel, ref);

    uint64_t oq = 0, ok = round16(q_n * es), ov = round16(ok + kv_n * es), oo = round16(ov + kv_n * es);
    uint64_t okp = round16(oo + q_n * es), osel = round16(okp + hs * 4);
    ei_buffer *b = tu_buffer(ctx, osel + sel_n * 4 + 4);
    CHECK_STATUS(ei_buffer_upload(b, oq, sq, q_n * es), EI_OK, ctx);
    CHECK_STATUS(ei_buffer_upload(b, ok, sk, kv_n * es), EI_OK, ctx);
    CHECK_STATUS(ei_buffer_upload(b, ov, sv, kv_n * es), EI_OK, ctx);
    CHECK_STATUS(ei_buffer_upload(b, okp, keep, hs * 4), EI_OK, ctx);
    CHECK_STATUS(ei_buffer_upload(b, osel, sel, sel_n * 4), EI_OK, ctx);
    ei_cmd *cmd = NULL;
    CHECK_STATUS(ei_cmd_begin(ctx, &cmd), EI_OK, ctx);
    CHECK_STATUS(ei_attention_sparse(cmd, &d, &cfg, layer, (ei_tensor){b, oq, dtype}, (ei_tensor){b, ok, dtype},
                                     (ei_tensor){b, ov, dtype}, (ei_tensor){b, okp, EI_U32},
                                     (ei_tensor){b, osel, EI_U32}, (ei_tensor){b, oo, dtype}),
                 EI_OK, ctx);
    double err = run_and_compare(ctx, cmd, (ei_tensor){b, oo, dtype}, q_n, ref, what);
    printf("sparse %-4s Lq %4u Lk %5u H %2u Hkv %2u D %3u layer %u %s: %llu sparse (head, segment)s, rel err %.2e\n",
           tu_dtype_name(dtype), d.q_len, d.kv_len, d.heads, d.kv_heads, d.dim, layer,
           full ? "every block kept, vs dense" : "random blocks", (unsigned long long)sparse_segments, err);
    ei_buffer_destroy(b);
    free(sq), free(sk), free(sv), free(fq), free(fk), free(fv), free(ref), free(keep), free(sel);
}

static void check_bad_input(ei_context *ctx) {
    ei_buffer *b = tu_buffer(ctx, 1 << 20);
    ei_tensor t = {b, 0, EI_F16};
    ei_cmd *cmd = NULL;
    CHECK_STATUS(ei_cmd_begin(ctx, &cmd), EI_OK, ctx);
    ei_attention_desc d = desc(8, 8, 4, 2, 72);
    CHECK_STATUS(ei_attention_prefill(cmd, &d, t, t, t, t), EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK(strstr(ei_context_error(ctx), "head dim 72") != NULL, "%s", ei_context_error(ctx));
    d = desc(8, 8, 6, 4, 64);
    CHECK_STATUS(ei_attention_prefill(cmd, &d, t, t, t, t), EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK(strstr(ei_context_error(ctx), "not a multiple") != NULL, "%s", ei_context_error(ctx));
    d = desc(4096, 4096, 4, 2, 64); /* q alone is 2 MiB: more than the buffer */
    CHECK_STATUS(ei_attention_prefill(cmd, &d, t, t, t, t), EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK(strstr(ei_context_error(ctx), ": q:") != NULL, "%s", ei_context_error(ctx));
    d = desc(8, 8, 4, 2, 64);
    CHECK_STATUS(ei_attention_prefill(cmd, &d, t, (ei_tensor){b, 0, EI_F32}, t, t), EI_ERROR_INVALID_ARGUMENT, ctx);
    d.scale = -1;
    CHECK_STATUS(ei_attention_prefill(cmd, &d, t, t, t, t), EI_ERROR_INVALID_ARGUMENT, ctx);
    d = desc(1, 2048, 4, 2, 64);
    ei_tensor lens = {b, 0, EI_F32};
    CHECK_STATUS(ei_attention_decode(cmd, &d, t, t, t, &lens, t, (ei_tensor){b, 0, EI_F32}), EI_ERROR_INVALID_ARGUMENT,
                 ctx);
    CHECK(ei_attention_decode_scratch(ctx, &d) >= 8 * (64 + 2) * 4 * 2, "a 2048-key decode splits its keys");
    CHECK_STATUS(ei_attention_decode(cmd, &d, t, t, t, NULL, t, (ei_tensor){NULL, 0, EI_F32}),
                 EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK(strstr(ei_context_error(ctx), "scratch") != NULL, "%s", ei_context_error(ctx));
    CHECK_STATUS(ei_attention_prefill(cmd, NULL, t, t, t, t), EI_ERROR_INVALID_ARGUMENT, ctx);
    ei_entropy_config cfg = ei_entropy_config_default();
    d = desc(64, 64, 4, 2, 64);
    d.window = 16;
    ei_tensor u = {b, 0, EI_U32};
    CHECK_STATUS(ei_attention_sparse(cmd, &d, &cfg, 1, t, t, t, u, u, t), EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK(strstr(ei_context_error(ctx), "no window") != NULL, "%s", ei_context_error(ctx));
    d.window = 0;
    CHECK_STATUS(ei_attention_sparse(cmd, &d, &cfg, 1, t, t, t, t, u, t), EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK(strstr(ei_context_error(ctx), "EI_U32") != NULL, "%s", ei_context_error(ctx));
    CHECK_STATUS(ei_cmd_run(cmd), EI_OK, ctx); /* nothing was recorded */
    ei_cmd_destroy(cmd);
    ei_buffer_destroy(b);
}

/* Prefill, dense and sparse: every case runs on each path the device has. */
static void prefill_cases(ei_context *ctx) {
    const ei_dtype dtypes[] = {EI_F32, EI_F16, EI_BF16};
    const uint32_t dims[] = {64, 80, 96, 128, 256};
    /* Every head dim and dtype, ragged lengths, GQA 4. */
    for (int i = 0; i < 5; i++)
        for (int t = 0; t < 3; t++)
            run_case(ctx, desc(77, 77, 8, 2, dims[i]), dtypes[t], 0, NULL, "dims");
    /* GQA ratios 1, 2, 8, 16; chunks of queries against longer caches. */
    run_case(ctx, desc(130, 130, 4, 4, 64), EI_F16, 0, NULL, "gqa 1");
    run_case(ctx, desc(45, 301, 4, 2, 128), EI_F32, 0, NULL, "gqa 2 chunk");
    run_case(ctx, desc(45, 301, 4, 2, 128), EI_F16, 0, NULL, "gqa 2 chunk f16");
    run_case(ctx, desc(33, 97, 16, 2, 64), EI_F16, 0, NULL, "gqa 8 chunk");
    run_case(ctx, desc(19, 211, 16, 1, 128), EI_BF16, 0, NULL, "gqa 16 chunk");
    /* Non-causal, windows, soft-capping, a model scale. */
    ei_attention_desc d = desc(70, 150, 8, 2, 128);
    d.causal = 0;
    run_case(ctx, d, EI_F32, 0, NULL, "non-causal");
    run_case(ctx, d, EI_F16, 0, NULL, "non-causal f16");
    d = desc(200, 200, 8, 4, 256);
    d.window = 37;
    run_case(ctx, d, EI_F16, 0, NULL, "window");
    d = desc(60, 260, 4, 2, 96);
    d.window = 100;
    d.softcap = 5.0f;
    d.scale = 0.3f;
    run_case(ctx, d, EI_F32, 0, NULL, "window+softcap chunk");
    run_case(ctx, d, EI_F16, 0, NULL, "window+softcap chunk f16");
    /* A random shape each run. */
    d = desc(1 + tu_below(150), 0, 0, 1 + tu_below(4), dims[tu_below(5)]);
    d.heads = d.kv_heads * (1u << tu_below(4));
    d.kv_len = d.q_len + tu_below(200);
    run_case(ctx, d, dtypes[tu_below(3)], 0, NULL, "random");

    /* Sparse prefill: small segments so many are sparse. */
    ei_entropy_config cfg = ei_entropy_config_default();
    cfg.segment_size = 64;
    cfg.base_budget = 64;
    cfg.threshold_len = 128;
    run_sparse_case(ctx, desc(1000, 1000, 8, 2, 64), cfg, 1, EI_F32, 0, "sparse gqa 4");
    run_sparse_case(ctx, desc(777, 777, 16, 2, 128), cfg, 3, EI_F16, 0, "sparse gqa 8 ragged");
    run_sparse_case(ctx, desc(500, 500, 4, 4, 256), cfg, 2, EI_BF16, 0, "sparse gqa 1");
    run_sparse_case(ctx, desc(360, 1000, 8, 2, 96), cfg, 1, EI_F16, 0, "sparse chunk from segment 10");
    run_sparse_case(ctx, desc(600, 600, 8, 2, 80), cfg, 0, EI_F32, 0, "layer below layer_skip: dense");
    run_sparse_case(ctx, desc(500, 500, 8, 2, 256), cfg, 2, EI_F16, 0, "sparse dim 256 f16");
    cfg.base_budget = 1024; /* max_keep covers every block */
    run_sparse_case(ctx, desc(900, 900, 8, 2, 64), cfg, 1, EI_F32, 1, "every block kept");
    run_sparse_case(ctx, desc(650, 650, 16, 2, 128), cfg, 1, EI_F16, 1, "every block kept f16");
}

int main(void) {
    tu_seed();
    ei_context *ctx = tu_context();
    ei_attention_desc d;
    /* Decode: 1 and 4 query rows, split keys, uniform and ragged caches;
     * K and V aligned for 16-byte loads, and (once) not. */
    run_case(ctx, desc(1, 3001, 8, 2, 128), EI_F16, 1, NULL, "decode kv+4B");
    kv_aligned = 1;
    run_case(ctx, desc(1, 3001, 8, 2, 128), EI_F16, 1, NULL, "decode");
    run_case(ctx, desc(1, 1000, 32, 8, 64), EI_F32, 1, NULL, "decode gqa 4");
    run_case(ctx, desc(4, 2049, 16, 2, 256), EI_F32, 1, NULL, "decode 4 rows");
    /* Rows of 32 and 24 16-byte units: two lanes per key for the scores. */
    run_case(ctx, desc(2, 1700, 8, 2, 256), EI_F16, 1, NULL, "decode dim 256 f16");
    run_case(ctx, desc(1, 1300, 16, 4, 96), EI_F32, 1, NULL, "decode dim 96 f32");
    const uint32_t ragged[4] = {1500, 2077, 33, 2100};
    run_case(ctx, desc(1, 2100, 8, 4, 128), EI_F16, 1, ragged, "decode ragged");
    const uint32_t ragged3[2] = {1, 499}; /* head 0 has fewer keys than queries */
    d = desc(3, 500, 8, 2, 64);
    run_case(ctx, d, EI_F32, 1, ragged3, "decode short head");
    d.causal = 0;
    run_case(ctx, d, EI_F16, 1, ragged3, "decode non-causal");
    const uint32_t ragged2[2] = {5, 640};
    d = desc(2, 640, 16, 2, 80);
    d.window = 300;
    run_case(ctx, d, EI_BF16, 1, ragged2, "decode ragged window");

    prefill_cases(ctx);
    /* Where the device has cooperative matrices, f16 prefill ran on them
     * above; the portable kernel gets the same cases on a second context. */
    if (ei_context_facts(ctx)->features & EI_FEATURE_COOPERATIVE_MATRIX) {
        printf("prefill: cooperative-matrix path above; now the portable path\n");
        ei_context_desc portable = ei_context_desc_default();
        portable.disabled_features = EI_FEATURE_COOPERATIVE_MATRIX;
        ei_context *plain = tu_context_from(portable);
        prefill_cases(plain);
        tu_release(plain);
    } else {
        printf("prefill: cooperative-matrix path skipped: the device lacks VK_KHR_cooperative_matrix "
               "(or its Vulkan memory model, f16 arithmetic or 16-bit storage)\n");
    }
    check_bad_input(ctx);
    return tu_finish(ctx);
}
