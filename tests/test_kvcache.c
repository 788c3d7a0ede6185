/* The KV cache and decode-time compression against the CPU reference:
 * appends (plain and expanded per query head), the capacity error, scoring
 * + pooling + selection + compaction for uniform budgets (GQA mean and max)
 * and AdaKV, ragged heads, f16 and f32; kept sets equal except at real
 * ties, compacted rows equal to the gather of the kept ones, and decode
 * after compaction equal to attention over the reference-compacted cache. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref.h"
#include "util/test_util.h"

/* A cache filled with `rows` random rows in two appends; host copies of
 * what was appended (stored bytes and values), per KV head. */
typedef struct filled {
    ei_kv_cache *cache;
    void *stored_k, *stored_v; /* [rows][kv_heads][dim] */
    float *k, *v;
} filled;

static filled fill(ei_context *ctx, ei_kv_cache_desc cd, uint32_t rows) {
    filled f = {0};
    CHECK_STATUS(ei_kv_cache_create(ctx, &cd, &f.cache), EI_OK, ctx);
    size_t es = ei_dtype_size(cd.dtype);
    uint64_t n = (uint64_t)rows * cd.kv_heads * cd.dim;
    f.stored_k = tu_alloc(n, es), f.stored_v = tu_alloc(n, es);
    f.k = tu_alloc(n, 4), f.v = tu_alloc(n, 4);
    tu_random_tensor(cd.dtype, n, 1.0f, f.stored_k, f.k);
    tu_random_tensor(cd.dtype, n, 1.0f, f.stored_v, f.v);
    ei_buffer *b = tu_buffer(ctx, 2 * n * es + 16);
    CHECK_STATUS(ei_buffer_upload(b, 0, f.stored_k, n * es), EI_OK, ctx);
    CHECK_STATUS(ei_buffer_upload(b, n * es, f.stored_v, n * es), EI_OK, ctx);
    uint32_t first = rows * 2 / 3, row = cd.kv_heads * cd.dim;
    ei_cmd *cmd = NULL;
    CHECK_STATUS(ei_cmd_begin(ctx, &cmd), EI_OK, ctx);
    CHECK_STATUS(ei_kv_cache_append(cmd, f.cache, first, (ei_tensor){b, 0, cd.dtype}, (ei_tensor){b, n * es, cd.dtype}),
                 EI_OK, ctx);
    CHECK_STATUS(ei_kv_cache_append(cmd, f.cache, rows - first, (ei_tensor){b, (uint64_t)first * row * es, cd.dtype},
                                    (ei_tensor){b, n * es + (uint64_t)first * row * es, cd.dtype}),
                 EI_OK, ctx);
    CHECK_STATUS(ei_cmd_run(cmd), EI_OK, ctx);
    ei_cmd_destroy(cmd);
    ei_buffer_destroy(b);
    CHECK(ei_kv_cache_len(f.cache) == rows, "cache len %u, want %u", ei_kv_cache_len(f.cache), rows);
    return f;
}

static void drop(filled *f) {
    ei_kv_cache_destroy(f->cache);
    free(f->stored_k), free(f->stored_v), free(f->k), free(f->v);
}

/* Reads the cache back: lengths, and K and V as floats [cap][heads][dim]. */
static void read_cache(ei_context *ctx, const ei_kv_cache *c, const ei_kv_cache_desc *cd, uint32_t *lens, float *k,
                       float *v) {
    uint32_t heads = ei_kv_cache_heads(c);
    uint64_t n = (uint64_t)cd->capacity * heads * cd->dim;
    size_t es = ei_dtype_size(cd->dtype);
    void *raw = tu_alloc(n, es);
    CHECK_STATUS(ei_buffer_download(ei_kv_cache_lengths(c).buffer, 0, lens, heads * 4), EI_OK, ctx);
    CHECK_STATUS(ei_buffer_download(ei_kv_cache_keys(c).buffer, 0, raw, n * es), EI_OK, ctx);
    tu_to_float(cd->dtype, raw, n, k);
    CHECK_STATUS(ei_buffer_download(ei_kv_cache_values(c).buffer, 0, raw, n * es), EI_OK, ctx);
    tu_to_float(cd->dtype, raw, n, v);
    free(raw);
}

/* Appends put every row after each head's length, copied per query head
 * when expanded; a too-long append fails and leaves the cache as it was. */
static void check_append(ei_context *ctx) {
    ei_kv_cache_desc cd = {300, 2, 64, EI_F16, 4, 0, 0};
    filled f = fill(ctx, cd, 250);
    uint32_t heads = ei_kv_cache_heads(f.cache), lens[8];
    uint64_t n = (uint64_t)cd.capacity * heads * cd.dim;
    float *k = tu_alloc(n, 4), *v = tu_alloc(n, 4);
    read_cache(ctx, f.cache, &cd, lens, k, v);
    int ok = heads == 8;
    for (uint32_t h = 0; h < heads; h++)
        ok &= lens[h] == 250;
    for (uint32_t r = 0; r < 250; r++)
        for (uint32_t h = 0; h < heads; h++)
            ok &= memcmp(k + ((uint64_t)r * heads + h) * cd.dim, f.k + ((uint64_t)r * 2 + h / 4) * cd.dim,
                         cd.dim * 4) == 0 &&
                  memcmp(v + ((uint64_t)r * heads + h) * cd.dim, f.v + ((uint64_t)r * 2 + h / 4) * cd.dim,
                         cd.dim * 4) == 0;
    CHECK(ok, "expanded appends put the wrong rows or lengths");
    ei_buffer *b = tu_buffer(ctx, 100 * 2 * 64 * 2);
    ei_cmd *cmd = NULL;
    CHECK_STATUS(ei_cmd_begin(ctx, &cmd), EI_OK, ctx);
    CHECK_STATUS(ei_kv_cache_append(cmd, f.cache, 51, (ei_tensor){b, 0, EI_F16}, (ei_tensor){b, 0, EI_F16}),
                 EI_ERROR_LIMIT_EXCEEDED, ctx);
    CHECK(strstr(ei_context_error(ctx), "capacity") != NULL, "%s", ei_context_error(ctx));
    CHECK_STATUS(ei_kv_cache_append(cmd, f.cache, 10, (ei_tensor){b, 0, EI_F32}, (ei_tensor){b, 0, EI_F32}),
                 EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK_STATUS(ei_cmd_run(cmd), EI_OK, ctx);
    ei_cmd_destroy(cmd);
    read_cache(ctx, f.cache, &cd, lens, k, v);
    CHECK(lens[0] == 250 && lens[7] == 250 && ei_kv_cache_len(f.cache) == 250, "a failed append changed the cache");
    ei_buffer_destroy(b);
    free(k), free(v);
    drop(&f);
}

typedef struct compress_case {
    ei_kv_cache_desc cd;
    uint32_t rows, heads;
    ei_kv_method method;
    ei_gqa_scoring gqa;
    int ragged;
    const char *name;
} compress_case;

static void run_compress(ei_context *ctx, const compress_case *c, const ei_entropy_config *cfg) {
    filled f = fill(ctx, c->cd, c->rows);
    uint32_t hc = ei_kv_cache_heads(f.cache), cap = c->cd.capacity, D = c->cd.dim, W = cfg->window;
    uint32_t *lens = tu_alloc(hc, 4);
    for (uint32_t h = 0; h < hc; h++)
        lens[h] = c->ragged ? c->rows - tu_below(c->rows / 2) : c->rows;
    if (c->ragged) {
        lens[0] = c->rows;    /* keeps the host's bound exact */
        lens[hc - 1] = W + 5; /* a head shorter than the budget: left alone */
        CHECK_STATUS(ei_buffer_upload(ei_kv_cache_lengths(f.cache).buffer, 0, lens, hc * 4), EI_OK, ctx);
    }
    uint64_t cache_n = (uint64_t)cap * hc * D;
    float *k0 = tu_alloc(cache_n, 4), *v0 = tu_alloc(cache_n, 4), *k1 = tu_alloc(cache_n, 4),
          *v1 = tu_alloc(cache_n, 4);
    uint32_t *before = tu_alloc(hc, 4), *after = tu_alloc(hc, 4);
    read_cache(ctx, f.cache, &c->cd, before, k0, v0);

    /* Observation queries, compression, then one decode query. */
    uint64_t obs_n = (uint64_t)W * c->heads * D, q_n = (uint64_t)c->heads * D;
    size_t es = ei_dtype_size(c->cd.dtype);
    void *sobs = tu_alloc(obs_n, es), *sq = tu_alloc(q_n, es), *so = tu_alloc(q_n, es);
    float *fobs = tu_alloc(obs_n, 4), *fq = tu_alloc(q_n, 4), *got = tu_alloc(q_n, 4), *ref = tu_alloc(q_n, 4);
    tu_random_tensor(c->cd.dtype, obs_n, 1.0f, sobs, fobs);
    tu_random_tensor(c->cd.dtype, q_n, 1.0f, sq, fq);
    ei_kv_compress_desc kd = {c->method, c->gqa, c->heads, 0, 0};
    uint64_t scratch_n = ei_kv_compress_scratch(f.cache, cfg, &kd);
    CHECK(scratch_n > 0, "%s: no scratch size", c->name);
    ei_buffer *scratch = tu_buffer(ctx, scratch_n);
    ei_attention_desc ad = ei_kv_cache_attention_desc(f.cache, 1, c->heads);
    uint64_t attn_scratch = ei_attention_decode_scratch(ctx, &ad);
    uint64_t oq = 0, oo = (q_n * es + 255) / 256 * 256, oobs = oo + (q_n * es + 255) / 256 * 256;
    uint64_t oscr = oobs + (obs_n * es + 255) / 256 * 256;
    ei_buffer *io = tu_buffer(ctx, oscr + attn_scratch + 4);
    CHECK_STATUS(ei_buffer_upload(io, oq, sq, q_n * es), EI_OK, ctx);
    CHECK_STATUS(ei_buffer_upload(io, oobs, sobs, obs_n * es), EI_OK, ctx);
    ei_cmd *cmd = NULL;
    CHECK_STATUS(ei_cmd_begin(ctx, &cmd), EI_OK, ctx);
    ei_tensor obs = {io, oobs, c->cd.dtype};
    if (c->cd.window) {
        /* Through the cache's ring: 13 older rows (the first 13 of obs),
         * then the W that count, wrapping around. */
        CHECK_STATUS(ei_kv_cache_observe(cmd, f.cache, 13, obs), EI_OK, ctx);
        CHECK_STATUS(ei_kv_cache_observe(cmd, f.cache, W, obs), EI_OK, ctx);
        obs.buffer = NULL;
    }
    CHECK_STATUS(ei_kv_compress(cmd, f.cache, cfg, &kd, obs, scratch), EI_OK, ctx);
    CHECK_STATUS(ei_cmd_run(cmd), EI_OK, ctx);
    ei_cmd_destroy(cmd);
    read_cache(ctx, f.cache, &c->cd, after, k1, v1);
    ad = ei_kv_cache_attention_desc(f.cache, 1, c->heads);
    CHECK_STATUS(ei_cmd_begin(ctx, &cmd), EI_OK, ctx);
    CHECK_STATUS(ei_kv_cache_attend(cmd, f.cache, &ad, (ei_tensor){io, oq, c->cd.dtype},
                                    (ei_tensor){io, oo, c->cd.dtype}, (ei_tensor){io, oscr, EI_F32}),
                 EI_OK, ctx);
    CHECK_STATUS(ei_cmd_run(cmd), EI_OK, ctx);
    ei_cmd_destroy(cmd);
    CHECK_STATUS(ei_buffer_download(io, oo, so, q_n * es), EI_OK, ctx);
    tu_to_float(c->cd.dtype, so, q_n, got);

    /* The reference: scores, pooling, each head's keep and kept set. */
    double *score = tu_alloc((uint64_t)hc * cap, 8), *pooled = tu_alloc((uint64_t)hc * cap, 8);
    ref_kv_scores(hc, c->heads, D, W, cap, before, k0, fobs, 1.0 / sqrt((double)D), c->gqa == EI_GQA_MAX, score);
    ref_kv_pool(hc, cap, W, cfg->pool_kernel, before, score, pooled);
    uint32_t per_head = cfg->decode_budget - W, *keep = tu_alloc(hc, 4), *sel = tu_alloc(cap, 4);
    if (c->method == EI_KV_ADAKV)
        ref_kv_adakv_keep(hc, cap, W, before, pooled, (uint32_t)floorf(0.2f * per_head), hc * per_head, keep);
    else
        for (uint32_t h = 0; h < hc; h++)
            keep[h] = per_head;
    /* Which original rows did the GPU keep? Rows are random: match them. */
    uint64_t wrong_len = 0, not_gather = 0, beyond_ties = 0, ties = 0;
    uint32_t *kept = tu_alloc(cap, 4);
    float *host_k = tu_alloc(cache_n, 4), *host_v = tu_alloc(cache_n, 4);
    for (uint32_t h = 0; h < hc; h++) {
        uint32_t len = before[h], n = len - (W < len ? W : len);
        uint32_t m = ref_topk(pooled + (uint64_t)h * cap, n, keep[h], sel);
        uint32_t want_len = len <= cfg->decode_budget && c->method != EI_KV_ADAKV ? len : m + (len - n);
        wrong_len += after[h] != want_len;
        /* kept[i]: the original row of compacted row i (rows ascending). */
        uint32_t found = 0;
        for (uint32_t r = 0; r < len && found < after[h]; r++)
            if (!memcmp(k0 + ((uint64_t)r * hc + h) * D, k1 + ((uint64_t)found * hc + h) * D, D * 4) &&
                !memcmp(v0 + ((uint64_t)r * hc + h) * D, v1 + ((uint64_t)found * hc + h) * D, D * 4))
                kept[found++] = r;
        not_gather += found != after[h];
        /* Kept rows before the window against the reference's top set. */
        double threshold = INFINITY;
        for (uint32_t i = 0; i < m; i++)
            threshold = fmin(threshold, pooled[(uint64_t)h * cap + sel[i]]);
        for (uint32_t i = 0; i < found && kept[i] < n; i++) {
            int in_ref = 0;
            for (uint32_t x = 0; x < m; x++)
                in_ref |= sel[x] == kept[i];
            if (in_ref) continue;
            if (fabs(pooled[(uint64_t)h * cap + kept[i]] - threshold) <= 1e-6 * fabs(threshold) + 1e-9)
                ties++;
            else
                beyond_ties++;
        }
        for (uint32_t i = 0; i < found; i++) {
            memcpy(host_k + ((uint64_t)i * hc + h) * D, k0 + ((uint64_t)kept[i] * hc + h) * D, D * 4);
            memcpy(host_v + ((uint64_t)i * hc + h) * D, v0 + ((uint64_t)kept[i] * hc + h) * D, D * 4);
        }
    }
    CHECK(wrong_len == 0, "%s: %llu heads have the wrong length", c->name, (unsigned long long)wrong_len);
    CHECK(not_gather == 0, "%s: %llu heads are not a gather of their original rows", c->name,
          (unsigned long long)not_gather);
    CHECK(beyond_ties == 0, "%s: %llu kept keys differ from the reference beyond ties", c->name,
          (unsigned long long)beyond_ties);
    /* Decode over the compacted cache = attention over the host gather. */
    ei_attention_desc rd = {1, cap, c->heads, hc, D, 0, 1, 0, 0};
    ref_attention(&rd, fq, host_k, host_v, after, ref);
    double err = tu_rel_error(got, ref, q_n);
    double tol = c->cd.dtype == EI_F32 ? 1e-5 : 2e-3;
    CHECK(err <= tol, "%s: decode after compaction: relative error %.3g", c->name, err);
    uint32_t min_len = UINT32_MAX, max_len = 0;
    for (uint32_t h = 0; h < hc; h++)
        min_len = after[h] < min_len ? after[h] : min_len, max_len = after[h] > max_len ? after[h] : max_len;
    printf("%-26s %s G %u: %u rows -> heads %u..%u (bound %u), ties %llu, decode err %.1e\n", c->name,
           tu_dtype_name(c->cd.dtype), c->heads / hc, c->rows, min_len, max_len, ei_kv_cache_len(f.cache),
           (unsigned long long)ties, err);
    ei_buffer_destroy(scratch), ei_buffer_destroy(io);
    free(lens), free(k0), free(v0), free(k1), free(v1), free(before), free(after), free(sobs), free(sq), free(so);
    free(fobs), free(fq), free(got), free(ref), free(score), free(pooled), free(keep), free(sel), free(kept);
    free(host_k), free(host_v);
    drop(&f);
}

static void check_schedule(void) {
    ei_entropy_config cfg = ei_entropy_config_default();
    CHECK(ei_kv_compress_due(&cfg, EI_KV_LATENT, 17) && !ei_kv_compress_due(&cfg, EI_KV_LATENT, 16) &&
              !ei_kv_compress_due(&cfg, EI_KV_LATENT, 0),
          "latent compresses at decode step N_d + 1 = 17 only");
    CHECK(ei_kv_compress_due(&cfg, EI_KV_SNAPKV, 0) && !ei_kv_compress_due(&cfg, EI_KV_SNAPKV, 1) &&
              ei_kv_compress_due(&cfg, EI_KV_ADAKV, 0) && !ei_kv_compress_due(&cfg, EI_KV_FULL, 0),
          "SnapKV and AdaKV compress after prefill; full never");
    CHECK(ei_kv_prompt_observations(&cfg, EI_KV_LATENT) == 16 && ei_kv_prompt_observations(&cfg, EI_KV_SNAPKV) == 32,
          "prompt observations: latent max(W - N_d, 1) = 16, SnapKV W = 32");
    cfg.decode_gap = 40;
    CHECK(ei_kv_prompt_observations(&cfg, EI_KV_LATENT) == 1, "latent keeps at least one prompt query");
    cfg.decode_gap = -1;
    CHECK(ei_kv_compress_due(&cfg, EI_KV_LATENT, 0), "decode_gap -1 makes latent SnapKV");
}

static void check_bad_input(ei_context *ctx) {
    ei_entropy_config cfg = ei_entropy_config_default();
    cfg.decode_budget = 64;
    cfg.window = 8;
    ei_kv_cache_desc cd = {200, 2, 64, EI_F16, 1, 0, 0};
    filled f = fill(ctx, cd, 150);
    ei_buffer *b = tu_buffer(ctx, 1 << 20);
    ei_kv_compress_desc kd = {EI_KV_SNAPKV, EI_GQA_MEAN, 5, 0, 0};
    ei_cmd *cmd = NULL;
    CHECK_STATUS(ei_cmd_begin(ctx, &cmd), EI_OK, ctx);
    CHECK_STATUS(ei_kv_compress(cmd, f.cache, &cfg, &kd, (ei_tensor){b, 0, EI_F16}, b), EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK(strstr(ei_context_error(ctx), "multiple") != NULL, "%s", ei_context_error(ctx));
    kd.heads = 8;
    CHECK_STATUS(ei_kv_compress(cmd, f.cache, &cfg, &kd, (ei_tensor){b, 0, EI_F32}, b), EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK_STATUS(ei_kv_compress(cmd, f.cache, &cfg, &kd, (ei_tensor){b, 0, EI_F16}, NULL), EI_ERROR_INVALID_ARGUMENT,
                 ctx);
    CHECK(strstr(ei_context_error(ctx), "scratch") != NULL, "%s", ei_context_error(ctx));
    cfg.decode_budget = 8; /* not above the window */
    CHECK_STATUS(ei_kv_compress(cmd, f.cache, &cfg, &kd, (ei_tensor){b, 0, EI_F16}, b), EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK(strstr(ei_context_error(ctx), "decode_budget") != NULL, "%s", ei_context_error(ctx));
    /* A cache within the budget: nothing to do, nothing recorded. */
    cfg.decode_budget = 150;
    CHECK_STATUS(ei_kv_compress(cmd, f.cache, &cfg, &kd, (ei_tensor){b, 0, EI_F16}, b), EI_OK, ctx);
    CHECK_STATUS(ei_cmd_run(cmd), EI_OK, ctx);
    ei_cmd_destroy(cmd);
    CHECK(ei_kv_cache_len(f.cache) == 150, "a cache within the budget changed");
    ei_kv_cache *none = NULL;
    ei_kv_cache_desc bad = {100, 2, 63, EI_F16, 1, 0, 0};
    CHECK_STATUS(ei_kv_cache_create(ctx, &bad, &none), EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK(none == NULL, "no cache on failure");
    bad.dim = 64;
    bad.window = 8; /* without query heads */
    CHECK_STATUS(ei_kv_cache_create(ctx, &bad, &none), EI_ERROR_INVALID_ARGUMENT, ctx);
    cmd = NULL;
    CHECK_STATUS(ei_cmd_begin(ctx, &cmd), EI_OK, ctx);
    CHECK_STATUS(ei_kv_cache_observe(cmd, f.cache, 1, (ei_tensor){b, 0, EI_F16}), EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK(strstr(ei_context_error(ctx), "no window") != NULL, "%s", ei_context_error(ctx));
    CHECK_STATUS(ei_kv_compress(cmd, f.cache, &cfg, &kd, (ei_tensor){NULL, 0, EI_F16}, b), EI_ERROR_INVALID_ARGUMENT,
                 ctx);
    CHECK_STATUS(ei_cmd_run(cmd), EI_OK, ctx);
    ei_cmd_destroy(cmd);
    ei_buffer_destroy(b);
    drop(&f);
}

int main(void) {
    tu_seed();
    ei_context *ctx = tu_context();
    check_schedule();
    check_append(ctx);
    /* Small budgets keep the reference quick: Bd = 96, W = 16. */
    ei_entropy_config cfg = ei_entropy_config_default();
    cfg.decode_budget = 96;
    cfg.window = 16;
    const compress_case cases[] = {
        {{700, 2, 64, EI_F32, 1}, 650, 8, EI_KV_SNAPKV, EI_GQA_MEAN, 0, "uniform, gqa 4 mean"},
        {{700, 2, 128, EI_F16, 1}, 611, 16, EI_KV_LATENT, EI_GQA_MAX, 1, "uniform, gqa 8 max, ragged"},
        {{500, 4, 64, EI_F16, 1}, 480, 4, EI_KV_SNAPKV, EI_GQA_MEAN, 1, "uniform, gqa 1, ragged"},
        {{400, 2, 64, EI_F32, 4}, 390, 8, EI_KV_SNAPKV, EI_GQA_MEAN, 0, "per query head (expanded)"},
        {{600, 2, 64, EI_F16, 1, 16, 8}, 555, 8, EI_KV_LATENT, EI_GQA_MEAN, 0, "window kept by the cache"},
        {{800, 4, 64, EI_F32, 1}, 777, 16, EI_KV_ADAKV, EI_GQA_MEAN, 0, "AdaKV, gqa 4"},
        {{800, 4, 96, EI_F16, 1}, 700, 8, EI_KV_ADAKV, EI_GQA_MAX, 1, "AdaKV, ragged"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_compress(ctx, &cases[i], &cfg);
    check_bad_input(ctx);
    return tu_finish(ctx);
}
