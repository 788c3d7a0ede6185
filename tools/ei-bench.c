/* ei-bench: times the library's operations on the GPU with timestamps.
 *
 *   ei-bench --op attn|decode|prefill --len N --heads H --kv-heads Hkv
 *            --dim D --dtype f16|f32|bf16 [--method M] [--inputs I]
 *            [--reps R] [--json] [--sweep]
 *
 * attn: dense causal prefill of N queries over N keys; reports TFLOP/s
 * counted as 4*H*D*N^2/2 (the causal half). decode: one query over an
 * N-key cache; reports GB/s of K and V read, after compressing the cache
 * with --kv full|latent|snapkv|adakv (the paper's budget, Bd = 1024, W =
 * 32; compress_ms is the one-off compression). prefill: one layer of
 * EntropyInfer prefill (--method full|entropy|reference|critiprefill, the
 * paper's constants, layer 1), split into profile_ms (pool, observe,
 * budgets, select) and attn_ms, with the mean keep per (head, segment) and
 * the density (attended over causal query-key pairs). peak: the matrix
 * units' rate through cooperative matrices (ei_coopmat_peak: --len
 * products a subgroup, 8192 workgroups), the ceiling of the matmul and
 * attention kernels; the results are checked. --inputs random (the
 * default: near-uniform attention) or structured (even KV heads get an
 * attention sink at block 0: queries positive, those keys all 1). --sweep runs N = 128K, 64K, ... 1K (--max-len
 * caps it), longest first: a large allocation made after smaller ones were
 * freed ran several times slower on an NVIDIA H200 (fragmented memory). Times are the median of R runs, each bracketed
 * by timestamps. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <entropyinfer.h>
#include <entropyinfer_gguf.h>

typedef struct args {
    const char *op, *method, *inputs, *kv;
    unsigned len, heads, kv_heads, dim, reps, max_len;
    unsigned rows, cols; /* matmul: the weight's shape (F16), len tokens */
    ei_dtype dtype;
    int json, sweep, portable;
} args;

/* What one case measured. */
typedef struct result {
    double ms, phase_ms[2];
    uint64_t scratch;
    double mean_keep, density;
    double compress_ms;
    uint64_t cache_before, cache_after; /* bytes of K and V held */
    double flops;                       /* peak: one run's work, as ei_coopmat_peak counts it */
} result;

#define PEAK_WORKGROUPS 8192u /* peak: workgroups (of 4 subgroups) a run */

static const char *const methods[] = {"entropy", "reference", "critiprefill", "full"};
static const char *const kv_methods[] = {"full", "latent", "snapkv", "adakv"};

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static const char *dtype_name(ei_dtype t) { return t == EI_F32 ? "f32" : t == EI_F16 ? "f16" : "bf16"; }

/* Fills a buffer with small random values in the given dtype. */
static ei_status fill_random(ei_buffer *b, uint64_t n, ei_dtype t, uint32_t seed, int positive) {
    size_t es = ei_dtype_size(t);
    uint64_t chunk = 1u << 22, done = 0;
    unsigned char *host = malloc(chunk * es);
    if (!host) return EI_ERROR_OUT_OF_HOST_MEMORY;
    ei_status st = EI_OK;
    while (st == EI_OK && done < n) {
        uint64_t m = n - done < chunk ? n - done : chunk;
        for (uint64_t i = 0; i < m; i++) {
            seed = seed * 1664525u + 1013904223u;
            float x = (float)(seed >> 8) / 16777216.0f * 2.0f - 1.0f;
            if (positive && x < 0) x = -x;
            if (t == EI_F32) {
                memcpy(host + 4 * i, &x, 4);
            } else {
                uint16_t h;
                if (t == EI_BF16) {
                    uint32_t u;
                    memcpy(&u, &x, 4);
                    h = (uint16_t)(u >> 16);
                } else { /* values in (-1, 1): a normal f16 or zero, truncated */
                    uint32_t u;
                    memcpy(&u, &x, 4);
                    int e = (int)((u >> 23) & 0xff) - 127 + 15;
                    h = (uint16_t)(((u >> 16) & 0x8000u) | (e > 0 ? ((uint32_t)e << 10) | ((u >> 13) & 0x3ffu) : 0));
                }
                memcpy(host + 2 * i, &h, 2);
            }
        }
        st = ei_buffer_upload(b, done * es, host, m * es);
        done += m;
    }
    free(host);
    return st;
}

static double now_ms(void) {
    struct timespec ts;
    timespec_get(&ts, TIME_UTC); /* C11; only spans of ~200 ms are measured */
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static double median(double *x, uint32_t n) {
    qsort(x, n, sizeof x[0], cmp_double);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

/* Structured inputs: keys of block 0 of every even KV head set to 1. */
static ei_status plant_sinks(ei_buffer *k, const args *a, uint32_t block) {
    size_t es = ei_dtype_size(a->dtype);
    unsigned char one[4];
    float f = 1.0f;
    uint16_t h = a->dtype == EI_F16 ? 0x3c00 : 0x3f80;
    if (a->dtype == EI_F32)
        memcpy(one, &f, 4);
    else
        memcpy(one, &h, 2);
    unsigned char *row = malloc((size_t)a->dim * es);
    if (!row) return EI_ERROR_OUT_OF_HOST_MEMORY;
    for (unsigned i = 0; i < a->dim; i++)
        memcpy(row + i * es, one, es);
    ei_status st = EI_OK;
    for (uint32_t r = 0; st == EI_OK && r < block; r++)
        for (uint32_t hk = 0; st == EI_OK && hk < a->kv_heads; hk += 2)
            st = ei_buffer_upload(k, ((uint64_t)r * a->kv_heads + hk) * a->dim * es, row, a->dim * es);
    free(row);
    return st;
}

typedef struct bench_case {
    const args *a;
    int op; /* 0 attn, 1 decode, 2 prefill, 3 matmul, 4 peak */
    ei_attention_desc d;
    ei_entropy_config cfg;
    ei_tensor q, k, v, o, s;
    ei_buffer *scratch;
    ei_kv_cache *cache; /* decode */
    double *flops;      /* peak: where each recording leaves its work */
} bench_case;

/* Records phase 0 or 1 of one run: the whole op, or for prefill the
 * profile (0) and the attention (1). */
static ei_status record(ei_cmd *cmd, const bench_case *c, int phase) {
    const ei_attention_desc *d = &c->d;
    if (c->op == 3) { /* weight in q (F16), activations in k, result in o */
        ei_matmul_desc md = {c->a->rows, c->a->cols, d->q_len, EI_GGML_F16};
        return ei_matmul(cmd, &md, c->q.buffer, 0, c->k, c->o);
    }
    if (c->op == 4) /* A and B in q, the sums in o */
        return ei_coopmat_peak(cmd, PEAK_WORKGROUPS, c->a->len, c->q, c->o, c->flops);
    if (c->op == 0) return ei_attention_prefill(cmd, d, c->q, c->k, c->v, c->o);
    if (c->op == 1) return ei_kv_cache_attend(cmd, c->cache, d, c->q, c->o, c->s);
    return phase == 0 ? ei_prefill_profile(cmd, d, &c->cfg, 1, c->q, c->k, c->scratch)
                      : ei_prefill_attend(cmd, d, &c->cfg, 1, c->q, c->k, c->v, c->o, c->scratch);
}

/* Mean keep over the profiled (head, segment)s and the density of the
 * attended query-key pairs, from the layer's keep counts. */
static ei_status keep_stats(const bench_case *c, const ei_prefill_layout *l, result *r) {
    r->mean_keep = 0;
    r->density = 1;
    if (!l->profiled) return EI_OK;
    uint32_t nseg = l->shape.nseg, S = c->cfg.segment_size, b = c->cfg.block_size, L = c->d.q_len;
    uint32_t *keep = malloc((size_t)c->d.kv_heads * nseg * 4);
    if (!keep) return EI_ERROR_OUT_OF_HOST_MEMORY;
    ei_status st = ei_buffer_download(c->scratch, l->keep, keep, (uint64_t)c->d.kv_heads * nseg * 4);
    double kept = 0, attended = 0, causal = 0;
    uint32_t first = (c->cfg.threshold_len + S - 1) / S;
    for (uint32_t hk = 0; st == EI_OK && hk < c->d.kv_heads; hk++)
        for (uint32_t s = 0; s < nseg; s++) {
            uint32_t n = keep[hk * nseg + s], rows = (s + 1) * S < L ? S : L - s * S;
            int sparse = s >= first && s >= 1 && s + 1 < nseg && n > 0;
            kept += n;
            for (uint32_t i = 0; i < rows; i++) {
                double pos = (double)s * S + i;
                causal += pos + 1;
                attended += sparse ? (double)n * b + i + 1 : pos + 1;
            }
        }
    free(keep);
    r->mean_keep = kept / ((double)c->d.kv_heads * nseg);
    r->density = attended / causal;
    return st;
}

/* Decode: a cache of len rows from k and v (appended in pieces), W
 * observation queries, and one compression (timed) with the --kv method.
 * Leaves c->cache, c->d and the scratch for decoding over it. */
static ei_status build_cache(ei_context *ctx, const args *a, bench_case *c, unsigned len, ei_buffer **s, result *r) {
    ei_kv_method method = EI_KV_FULL;
    for (int m = 0; m < 4; m++)
        if (strcmp(a->kv, kv_methods[m]) == 0) method = (ei_kv_method)m;
    ei_entropy_config cfg = ei_entropy_config_default();
    ei_kv_cache_desc cd = {len, a->kv_heads, a->dim, a->dtype, 1, cfg.window, a->heads};
    size_t es = ei_dtype_size(a->dtype);
    uint64_t row = (uint64_t)a->kv_heads * a->dim * es, obs_n = (uint64_t)cfg.window * a->heads * a->dim;
    ei_buffer *obs = NULL, *scratch = NULL;
    ei_cmd *cmd = NULL;
    ei_status st = ei_kv_cache_create(ctx, &cd, &c->cache);
    if (st == EI_OK) st = ei_buffer_create(ctx, obs_n * es, &obs);
    if (st == EI_OK) st = fill_random(obs, obs_n, a->dtype, 4, 0);
    if (st == EI_OK) st = ei_cmd_begin(ctx, &cmd);
    for (unsigned at = 0; st == EI_OK && at < len; at += 8192) {
        unsigned n = len - at < 8192 ? len - at : 8192;
        st = ei_kv_cache_append(cmd, c->cache, n, (ei_tensor){c->k.buffer, at * row, a->dtype},
                                (ei_tensor){c->v.buffer, at * row, a->dtype});
    }
    if (st == EI_OK) st = ei_kv_cache_observe(cmd, c->cache, cfg.window, (ei_tensor){obs, 0, a->dtype});
    if (st == EI_OK) st = ei_cmd_run(cmd);
    ei_cmd_destroy(cmd);
    cmd = NULL;
    r->cache_before = r->cache_after = 2 * (uint64_t)len * row;
    ei_kv_compress_desc kd = {method, EI_GQA_MEAN, a->heads, 0, 0};
    if (st == EI_OK && method != EI_KV_FULL) {
        uint32_t t0, t1;
        if ((st = ei_buffer_create(ctx, ei_kv_compress_scratch(c->cache, &cfg, &kd), &scratch)) ||
            (st = ei_cmd_begin(ctx, &cmd)) || (st = ei_cmd_timestamp(cmd, &t0)) ||
            (st = ei_kv_compress(cmd, c->cache, &cfg, &kd, (ei_tensor){NULL, 0, a->dtype}, scratch)) ||
            (st = ei_cmd_timestamp(cmd, &t1)) || (st = ei_cmd_run(cmd)) ||
            (st = ei_cmd_elapsed_ms(cmd, t0, t1, &r->compress_ms)))
            goto done;
        uint32_t *lens = malloc(a->kv_heads * 4);
        if (!lens) {
            st = EI_ERROR_OUT_OF_HOST_MEMORY;
            goto done;
        }
        st = ei_buffer_download(ei_kv_cache_lengths(c->cache).buffer, 0, lens, a->kv_heads * 4);
        r->cache_after = 0;
        for (unsigned h = 0; h < a->kv_heads; h++)
            r->cache_after += 2 * (uint64_t)lens[h] * a->dim * es;
        free(lens);
    }
    c->d = ei_kv_cache_attention_desc(c->cache, 1, a->heads);
    r->scratch = ei_attention_decode_scratch(ctx, &c->d);
    if (st == EI_OK) st = ei_buffer_create(ctx, r->scratch, s);
done:
    ei_cmd_destroy(cmd);
    ei_buffer_destroy(obs);
    ei_buffer_destroy(scratch);
    return st;
}

/* One case: medians of the phases over reps runs, after a warm-up. */
/* Warm-up, then c->a->reps timed runs of `phases` phases in one recording:
 * medians into r->ms and r->phase_ms. */
static ei_status time_runs(ei_context *ctx, const bench_case *c, int phases, result *r) {
    ei_status st = EI_OK;
    ei_cmd *cmd = NULL;
    /* Warm up for 200 ms (or 200 runs): a GPU idle while the inputs were
     * made runs the first short kernels at a lower clock. */
    double start = now_ms();
    for (int i = 0; st == EI_OK && i < 200 && now_ms() - start < 200; i++) {
        if ((st = ei_cmd_begin(ctx, &cmd)) == EI_OK) {
            for (int p = 0; st == EI_OK && p < phases; p++)
                st = record(cmd, c, p);
            if (st == EI_OK) st = ei_cmd_run(cmd);
        }
        ei_cmd_destroy(cmd);
        cmd = NULL;
    }
    /* Then reps runs in one recording, a timestamp before each phase. */
    uint32_t reps = c->a->reps, t[EI_MAX_TIMESTAMPS];
    if (st == EI_OK) st = ei_cmd_begin(ctx, &cmd);
    for (uint32_t i = 0; st == EI_OK && i < reps; i++)
        for (int p = 0; st == EI_OK && p < phases; p++)
            if ((st = ei_cmd_timestamp(cmd, &t[i * phases + p])) == EI_OK) st = record(cmd, c, p);
    if (st == EI_OK) st = ei_cmd_timestamp(cmd, &t[reps * phases]);
    if (st == EI_OK) st = ei_cmd_run(cmd);
    double total[EI_MAX_TIMESTAMPS], part[2][EI_MAX_TIMESTAMPS];
    for (uint32_t i = 0; st == EI_OK && i < reps; i++) {
        for (int p = 0; st == EI_OK && p < phases; p++)
            st = ei_cmd_elapsed_ms(cmd, t[i * phases + p], t[i * phases + p + 1], &part[p][i]);
        if (st == EI_OK) st = ei_cmd_elapsed_ms(cmd, t[i * phases], t[(i + 1) * phases], &total[i]);
    }
    if (st == EI_OK) {
        r->ms = median(total, reps);
        for (int p = 0; p < phases; p++)
            r->phase_ms[p] = median(part[p], reps);
    }
    ei_cmd_destroy(cmd);
    return st;
}

/* matmul: an F16 weight [rows][cols] against len tokens of f32. */
static ei_status run_matmul(ei_context *ctx, bench_case *c, result *r) {
    const args *a = c->a;
    uint64_t w_n = (uint64_t)a->rows * a->cols, x_n = (uint64_t)c->d.q_len * a->cols,
             y_n = (uint64_t)c->d.q_len * a->rows;
    ei_buffer *w = NULL, *x = NULL, *y = NULL;
    ei_status st;
    if (!(st = ei_buffer_create(ctx, w_n * 2, &w)) && !(st = ei_buffer_create(ctx, x_n * 4, &x)) &&
        !(st = ei_buffer_create(ctx, y_n * 4, &y)) && !(st = fill_random(w, w_n, EI_F16, 1, 0)) &&
        !(st = fill_random(x, x_n, EI_F32, 2, 0))) {
        c->q = (ei_tensor){w, 0, EI_F16}, c->k = (ei_tensor){x, 0, EI_F32}, c->o = (ei_tensor){y, 0, EI_F32};
        st = time_runs(ctx, c, 1, r);
    }
    ei_buffer_destroy(w), ei_buffer_destroy(x), ei_buffer_destroy(y);
    return st;
}

/* peak: A all ones, B all 2^-10, so every sum must be len / 8 (exact in f32). */
static ei_status run_peak(ei_context *ctx, bench_case *c, result *r) {
    uint64_t out_n = (uint64_t)PEAK_WORKGROUPS * 1024;
    uint16_t ab[512];
    for (int i = 0; i < 512; i++)
        ab[i] = i < 256 ? 0x3c00 : 0x1400; /* 1.0, 2^-10 */
    ei_buffer *in = NULL, *out = NULL;
    float *got = NULL;
    ei_status st;
    if (!(st = ei_buffer_create(ctx, sizeof ab, &in)) && !(st = ei_buffer_create(ctx, out_n * 4, &out)) &&
        !(st = ei_buffer_upload(in, 0, ab, sizeof ab))) {
        c->q = (ei_tensor){in, 0, EI_F16}, c->o = (ei_tensor){out, 0, EI_F32}, c->flops = &r->flops;
        st = time_runs(ctx, c, 1, r);
    }
    if (st == EI_OK && !(got = malloc(out_n * 4))) st = EI_ERROR_OUT_OF_HOST_MEMORY;
    if (st == EI_OK) st = ei_buffer_download(out, 0, got, out_n * 4);
    uint64_t wrong = 0;
    for (uint64_t i = 0; st == EI_OK && i < out_n; i++)
        wrong += got[i] != (float)c->a->len / 8;
    if (wrong) {
        fprintf(stderr, "ei-bench: peak: %llu of %llu sums are not %g\n", (unsigned long long)wrong,
                (unsigned long long)out_n, (double)c->a->len / 8);
        st = EI_ERROR_VULKAN;
    }
    free(got);
    ei_buffer_destroy(in), ei_buffer_destroy(out);
    return st;
}

static ei_status run_case(ei_context *ctx, const args *a, unsigned len, result *r) {
    bench_case c = {.a = a,
                    .op = strcmp(a->op, "attn") == 0     ? 0
                          : strcmp(a->op, "decode") == 0 ? 1
                          : strcmp(a->op, "matmul") == 0 ? 3
                          : strcmp(a->op, "peak") == 0   ? 4
                                                         : 2};
    c.d = (ei_attention_desc){c.op == 1 ? 1 : len, len, a->heads, a->kv_heads, a->dim, 0, 1, 0, 0};
    c.cfg = ei_entropy_config_default();
    for (int m = 0; m < 4; m++)
        if (strcmp(a->method, methods[m]) == 0) c.cfg.mode = (ei_prefill_mode)m;
    int phases = c.op == 2 ? 2 : 1;
    memset(r, 0, sizeof *r);
    ei_prefill_layout layout = {0};
    size_t es = ei_dtype_size(a->dtype);
    uint64_t q_n = (uint64_t)c.d.q_len * c.d.heads * c.d.dim, kv_n = (uint64_t)len * c.d.kv_heads * c.d.dim;
    ei_status st = EI_OK;
    if (c.op == 3) return run_matmul(ctx, &c, r);
    if (c.op == 4) return run_peak(ctx, &c, r);
    if (c.op == 2 && (st = ei_prefill_layout_of(ctx, &c.d, &c.cfg, 1, &layout)) == EI_OK) r->scratch = layout.bytes;
    ei_buffer *q = NULL, *k = NULL, *v = NULL, *o = NULL, *s = NULL;
    int structured = strcmp(a->inputs, "structured") == 0;
    if (st || (st = ei_buffer_create(ctx, q_n * es, &q)) || (st = ei_buffer_create(ctx, kv_n * es, &k)) ||
        (st = ei_buffer_create(ctx, kv_n * es, &v)) || (st = ei_buffer_create(ctx, q_n * es, &o)) ||
        (r->scratch && (st = ei_buffer_create(ctx, r->scratch, &s))) ||
        (st = fill_random(q, q_n, a->dtype, 1, structured)) || (st = fill_random(k, kv_n, a->dtype, 2, 0)) ||
        (st = fill_random(v, kv_n, a->dtype, 3, 0)) || (structured && (st = plant_sinks(k, a, c.cfg.block_size))))
        goto done;
    c.q = (ei_tensor){q, 0, a->dtype}, c.k = (ei_tensor){k, 0, a->dtype}, c.v = (ei_tensor){v, 0, a->dtype};
    c.o = (ei_tensor){o, 0, a->dtype};
    if (c.op == 1 && (st = build_cache(ctx, a, &c, len, &s, r))) goto done;
    c.s = (ei_tensor){s, 0, EI_F32}, c.scratch = s;
    st = time_runs(ctx, &c, phases, r);
    if (st == EI_OK && c.op == 2) st = keep_stats(&c, &layout, r);
done:
    ei_buffer_destroy(q), ei_buffer_destroy(k), ei_buffer_destroy(v), ei_buffer_destroy(o), ei_buffer_destroy(s);
    ei_kv_cache_destroy(c.cache);
    return st;
}

static void report(const ei_context *ctx, const args *a, unsigned len, const result *r) {
    int decode = strcmp(a->op, "decode") == 0, prefill = strcmp(a->op, "prefill") == 0;
    int matmul = strcmp(a->op, "matmul") == 0, peak = strcmp(a->op, "peak") == 0;
    double flops = matmul ? 2.0 * a->rows * a->cols * len
                   : peak ? r->flops
                          : 4.0 * a->heads * a->dim * (double)len * len / 2.0;
    double bytes = decode ? (double)r->cache_after : 0;
    double rate = decode ? bytes / r->ms * 1e-6 : flops / r->ms * 1e-9;
    const char *device = ei_context_facts(ctx)->name;
    if (!a->json) {
        printf("%-7s len %6u H %2u Hkv %2u D %3u %-4s  %9.3f ms  %8.2f %s", a->op, len, a->heads, a->kv_heads, a->dim,
               dtype_name(a->dtype), r->ms, rate,
               decode    ? "GB/s"
               : prefill ? "TFLOP/s dense-equivalent"
                         : "TFLOP/s");
        if (prefill)
            printf("  %s %s: profile %.3f ms, attention %.3f ms, mean keep %.1f, density %.3f", a->method, a->inputs,
                   r->phase_ms[0], r->phase_ms[1], r->mean_keep, r->density);
        printf("\n");
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "impl", "entropyinfer");
    cJSON_AddStringToObject(o, "op", a->op);
    cJSON_AddNumberToObject(o, "len", len);
    cJSON_AddNumberToObject(o, "heads", a->heads);
    cJSON_AddNumberToObject(o, "kv_heads", a->kv_heads);
    cJSON_AddNumberToObject(o, "dim", a->dim);
    cJSON_AddStringToObject(o, "dtype", dtype_name(a->dtype));
    cJSON_AddNumberToObject(o, "reps", a->reps);
    cJSON_AddNumberToObject(o, "ms", r->ms);
    cJSON_AddNumberToObject(o, decode ? "gbps" : "tflops", rate);
    if (matmul) {
        cJSON_AddNumberToObject(o, "rows", a->rows);
        cJSON_AddNumberToObject(o, "cols", a->cols);
        cJSON_AddStringToObject(o, "wtype", "f16");
    }
    if (decode) {
        cJSON_AddStringToObject(o, "kv", a->kv);
        cJSON_AddNumberToObject(o, "compress_ms", r->compress_ms);
        cJSON_AddNumberToObject(o, "cache_bytes_before", (double)r->cache_before);
        cJSON_AddNumberToObject(o, "cache_bytes_after", (double)r->cache_after);
        cJSON_AddNumberToObject(o, "scratch_bytes", (double)r->scratch);
    }
    if (prefill) {
        cJSON_AddStringToObject(o, "method", a->method);
        cJSON_AddStringToObject(o, "inputs", a->inputs);
        cJSON_AddNumberToObject(o, "profile_ms", r->phase_ms[0]);
        cJSON_AddNumberToObject(o, "attn_ms", r->phase_ms[1]);
        cJSON_AddNumberToObject(o, "mean_keep", r->mean_keep);
        cJSON_AddNumberToObject(o, "density", r->density);
    }
    cJSON_AddStringToObject(o, "device", device);
    /* Whether f16 prefill may take the cooperative-matrix kernel here. */
    cJSON_AddBoolToObject(o, "coopmat", (ei_context_facts(ctx)->features & EI_FEATURE_COOPERATIVE_MATRIX) != 0);
    char *text = cJSON_PrintUnformatted(o);
    if (text) printf("%s\n", text);
    cJSON_free(text);
    cJSON_Delete(o);
}

static int usage(int code) {
    fprintf(code ? stderr : stdout,
            "usage: ei-bench --op attn|decode|prefill|matmul|peak [--len N] [--heads H] [--kv-heads Hkv] [--dim D]\n"
            "                [--dtype f16|f32|bf16] [--method entropy|reference|critiprefill|full]\n"
            "                [--kv full|latent|snapkv|adakv]\n"
            "                [--inputs random|structured] [--reps R] [--json] [--sweep [--max-len N]]\n"
            "                [--rows R --cols C]   (matmul: an F16 weight R x C against --len tokens)\n"
            "                [--portable]   (no cooperative-matrix kernels, even where the device has them)\n");
    return code;
}

int main(int argc, char **argv) {
    args a = {"attn", "entropy", "random", "full", 4096, 32, 8, 128, 9, 131072, 4096, 4096, EI_F16, 0, 0, 0};
    static const struct option opts[] = {{"op", required_argument, 0, 'o'},     {"len", required_argument, 0, 'l'},
                                         {"heads", required_argument, 0, 'H'},  {"kv-heads", required_argument, 0, 'K'},
                                         {"dim", required_argument, 0, 'd'},    {"dtype", required_argument, 0, 't'},
                                         {"reps", required_argument, 0, 'r'},   {"json", no_argument, 0, 'j'},
                                         {"sweep", no_argument, 0, 's'},        {"max-len", required_argument, 0, 'm'},
                                         {"method", required_argument, 0, 'M'}, {"inputs", required_argument, 0, 'I'},
                                         {"kv", required_argument, 0, 'V'},     {"portable", no_argument, 0, 'P'},
                                         {"rows", required_argument, 0, 'R'},   {"cols", required_argument, 0, 'C'},
                                         {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'o': a.op = optarg; break;
        case 'l': a.len = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'H': a.heads = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'K': a.kv_heads = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'd': a.dim = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'r': a.reps = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'j': a.json = 1; break;
        case 's': a.sweep = 1; break;
        case 'm': a.max_len = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'M': a.method = optarg; break;
        case 'I': a.inputs = optarg; break;
        case 'V': a.kv = optarg; break;
        case 'P': a.portable = 1; break;
        case 'R': a.rows = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'C': a.cols = (unsigned)strtoul(optarg, NULL, 10); break;
        case 't':
            if (strcmp(optarg, "f16") == 0)
                a.dtype = EI_F16;
            else if (strcmp(optarg, "f32") == 0)
                a.dtype = EI_F32;
            else if (strcmp(optarg, "bf16") == 0)
                a.dtype = EI_BF16;
            else
                return usage(2);
            break;
        case 'h': return usage(0);
        default: return usage(2);
        }
    }
    int known_method = 0, known_kv = 0;
    for (int m = 0; m < 4; m++) {
        known_method |= strcmp(a.method, methods[m]) == 0;
        known_kv |= strcmp(a.kv, kv_methods[m]) == 0;
    }
    if ((strcmp(a.op, "attn") && strcmp(a.op, "decode") && strcmp(a.op, "prefill") && strcmp(a.op, "matmul") &&
         strcmp(a.op, "peak")) ||
        !known_method || !known_kv || (strcmp(a.inputs, "random") && strcmp(a.inputs, "structured")))
        return usage(2);
    unsigned most = strcmp(a.op, "prefill") == 0 ? EI_MAX_TIMESTAMPS / 2 - 1 : EI_MAX_TIMESTAMPS - 1;
    if (a.reps < 1 || a.reps > most || a.len < 1) {
        fprintf(stderr, "ei-bench: --reps must be 1..%u and --len positive\n", most);
        return 2;
    }
    char error[512] = "";
    ei_context_desc desc = ei_context_desc_default();
    desc.required_features = EI_FEATURE_TIMESTAMPS;
    if (a.portable) desc.disabled_features = EI_FEATURE_COOPERATIVE_MATRIX;
    desc.error = error;
    desc.error_size = sizeof error;
    ei_context *ctx = NULL;
    ei_status st = ei_context_create(&desc, &ctx);
    if (st != EI_OK) {
        fprintf(stderr, "ei-bench: %s: %s\n", ei_status_name(st), error);
        return 1;
    }
    int rc = 0;
    unsigned top = a.sweep ? 1024 : a.len;
    while (a.sweep && top * 2 <= a.max_len)
        top *= 2;
    for (unsigned len = top; len >= (a.sweep ? 1024u : a.len); len /= 2) {
        result r;
        st = run_case(ctx, &a, len, &r);
        if (st == EI_OK) {
            report(ctx, &a, len, &r);
            fflush(stdout);
        } else {
            fprintf(stderr, "ei-bench: len %u: %s: %s\n", len, ei_status_name(st), ei_context_error(ctx));
            rc = 1;
            if (!a.sweep) break;
            continue; /* a shorter one may fit */
        }
        if (!a.sweep) break;
    }
    ei_context_destroy(ctx);
    return rc;
}
