/* ei-bench: times the library's operations on the GPU with timestamps.
 *
 *   ei-bench --op attn|decode --len N --heads H --kv-heads Hkv --dim D
 *            --dtype f16|f32|bf16 [--reps R] [--json] [--sweep]
 *
 * attn: causal prefill of N queries over N keys; reports TFLOP/s counted as
 * 4*H*D*N^2/2 (the causal half). decode: one query over an N-key cache;
 * reports GB/s of K and V read. --sweep runs N = 128K, 64K, ... 1K (--max-len
 * caps it), longest first: a large allocation made after smaller ones were
 * freed ran several times slower on an NVIDIA H200 (fragmented memory). Times are the median of R runs, each bracketed by timestamps. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <entropyinfer.h>

typedef struct args {
    const char *op;
    unsigned len, heads, kv_heads, dim, reps, max_len;
    ei_dtype dtype;
    int json, sweep;
} args;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static const char *dtype_name(ei_dtype t) { return t == EI_F32 ? "f32" : t == EI_F16 ? "f16" : "bf16"; }

/* Fills a buffer with small random values in the given dtype. */
static ei_status fill_random(ei_buffer *b, uint64_t n, ei_dtype t, uint32_t seed) {
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

/* One case: returns the median milliseconds in *ms. */
static ei_status run_case(ei_context *ctx, const args *a, unsigned len, double *ms, uint64_t *scratch_bytes) {
    int decode = strcmp(a->op, "decode") == 0;
    ei_attention_desc d = {decode ? 1 : len, len, a->heads, a->kv_heads, a->dim, 0, 1, 0, 0};
    size_t es = ei_dtype_size(a->dtype);
    uint64_t q_n = (uint64_t)d.q_len * d.heads * d.dim, kv_n = (uint64_t)len * d.kv_heads * d.dim;
    *scratch_bytes = decode ? ei_attention_decode_scratch(ctx, &d) : 0;
    ei_buffer *q = NULL, *k = NULL, *v = NULL, *o = NULL, *s = NULL;
    ei_cmd *cmd = NULL;
    ei_status st;
    if ((st = ei_buffer_create(ctx, q_n * es, &q)) || (st = ei_buffer_create(ctx, kv_n * es, &k)) ||
        (st = ei_buffer_create(ctx, kv_n * es, &v)) || (st = ei_buffer_create(ctx, q_n * es, &o)) ||
        (*scratch_bytes && (st = ei_buffer_create(ctx, *scratch_bytes, &s))) ||
        (st = fill_random(q, q_n, a->dtype, 1)) || (st = fill_random(k, kv_n, a->dtype, 2)) ||
        (st = fill_random(v, kv_n, a->dtype, 3)))
        goto done;
    ei_tensor tq = {q, 0, a->dtype}, tk = {k, 0, a->dtype}, tv = {v, 0, a->dtype}, to = {o, 0, a->dtype};
    ei_tensor ts = {s, 0, EI_F32};
    uint32_t reps = a->reps, t[EI_MAX_TIMESTAMPS];
#define RECORD_OP()                                                            \
    (decode ? ei_attention_decode(cmd, &d, tq, tk, tv, NULL, to, ts)           \
            : ei_attention_prefill(cmd, &d, tq, tk, tv, to))
    /* Warm up for 200 ms (or 200 runs): a GPU idle while the inputs were
     * made runs the first short kernels at a lower clock. */
    double start = now_ms();
    for (int i = 0; st == EI_OK && i < 200 && now_ms() - start < 200; i++) {
        if ((st = ei_cmd_begin(ctx, &cmd)) == EI_OK && (st = RECORD_OP()) == EI_OK) st = ei_cmd_run(cmd);
        ei_cmd_destroy(cmd);
        cmd = NULL;
    }
    /* Then reps runs in one recording, each between two timestamps. */
    if (st != EI_OK || (st = ei_cmd_begin(ctx, &cmd))) goto done;
    for (uint32_t i = 0; st == EI_OK && i < reps; i++)
        if ((st = ei_cmd_timestamp(cmd, &t[i])) == EI_OK) st = RECORD_OP();
#undef RECORD_OP
    if (st == EI_OK) st = ei_cmd_timestamp(cmd, &t[reps]);
    if (st == EI_OK) st = ei_cmd_run(cmd);
    double times[EI_MAX_TIMESTAMPS];
    for (uint32_t i = 0; st == EI_OK && i < reps; i++) st = ei_cmd_elapsed_ms(cmd, t[i], t[i + 1], &times[i]);
    if (st == EI_OK) {
        qsort(times, reps, sizeof times[0], cmp_double);
        *ms = reps % 2 ? times[reps / 2] : 0.5 * (times[reps / 2 - 1] + times[reps / 2]);
    }
done:
    ei_cmd_destroy(cmd);
    ei_buffer_destroy(q), ei_buffer_destroy(k), ei_buffer_destroy(v), ei_buffer_destroy(o), ei_buffer_destroy(s);
    return st;
}

static void report(const ei_context *ctx, const args *a, unsigned len, double ms, uint64_t scratch) {
    int decode = strcmp(a->op, "decode") == 0;
    double flops = 4.0 * a->heads * a->dim * (double)len * len / 2.0;
    double bytes = 2.0 * len * a->kv_heads * a->dim * ei_dtype_size(a->dtype);
    double rate = decode ? bytes / ms * 1e-6 : flops / ms * 1e-9;
    const char *device = ei_context_facts(ctx)->name;
    if (!a->json) {
        printf("%-6s len %6u H %2u Hkv %2u D %3u %-4s  %9.3f ms  %8.2f %s\n", a->op, len, a->heads, a->kv_heads,
               a->dim, dtype_name(a->dtype), ms, rate, decode ? "GB/s" : "TFLOP/s");
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
    cJSON_AddNumberToObject(o, "ms", ms);
    cJSON_AddNumberToObject(o, decode ? "gbps" : "tflops", rate);
    if (decode) cJSON_AddNumberToObject(o, "scratch_bytes", (double)scratch);
    cJSON_AddStringToObject(o, "device", device);
    char *text = cJSON_PrintUnformatted(o);
    if (text) printf("%s\n", text);
    cJSON_free(text);
    cJSON_Delete(o);
}

static int usage(int code) {
    fprintf(code ? stderr : stdout,
            "usage: ei-bench --op attn|decode [--len N] [--heads H] [--kv-heads Hkv] [--dim D]\n"
            "                [--dtype f16|f32|bf16] [--reps R] [--json] [--sweep [--max-len N]]\n");
    return code;
}

int main(int argc, char **argv) {
    args a = {"attn", 4096, 32, 8, 128, 9, 131072, EI_F16, 0, 0};
    static const struct option opts[] = {
        {"op", required_argument, 0, 'o'},     {"len", required_argument, 0, 'l'},
        {"heads", required_argument, 0, 'H'},  {"kv-heads", required_argument, 0, 'K'},
        {"dim", required_argument, 0, 'd'},    {"dtype", required_argument, 0, 't'},
        {"reps", required_argument, 0, 'r'},   {"json", no_argument, 0, 'j'},
        {"sweep", no_argument, 0, 's'},        {"max-len", required_argument, 0, 'm'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
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
        case 't':
            if (strcmp(optarg, "f16") == 0) a.dtype = EI_F16;
            else if (strcmp(optarg, "f32") == 0) a.dtype = EI_F32;
            else if (strcmp(optarg, "bf16") == 0) a.dtype = EI_BF16;
            else return usage(2);
            break;
        case 'h': return usage(0);
        default: return usage(2);
        }
    }
    if (strcmp(a.op, "attn") != 0 && strcmp(a.op, "decode") != 0) return usage(2);
    if (a.reps < 1 || a.reps >= EI_MAX_TIMESTAMPS || a.len < 1) {
        fprintf(stderr, "ei-bench: --reps must be 1..%d and --len positive\n", EI_MAX_TIMESTAMPS - 1);
        return 2;
    }
    char error[512] = "";
    ei_context_desc desc = ei_context_desc_default();
    desc.required_features = EI_FEATURE_TIMESTAMPS;
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
    while (a.sweep && top * 2 <= a.max_len) top *= 2;
    for (unsigned len = top; len >= (a.sweep ? 1024u : a.len); len /= 2) {
        double ms = 0;
        uint64_t scratch = 0;
        st = run_case(ctx, &a, len, &ms, &scratch);
        if (st == EI_OK) {
            report(ctx, &a, len, ms, scratch);
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
