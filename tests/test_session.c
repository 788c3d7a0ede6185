/* Sessions of tiny random-weight models (written here as GGUF): chunked
 * prefill equals one-shot prefill, decode equals prefill, reset repeats,
 * a full context or a bad id is refused leaving the session usable, and a
 * broken model (missing tensor, wrong shape, unsupported head dim) is
 * refused with a message naming the fault; the methods (sparse prompt, KV
 * compression) run inside the model; a device-memory budget too small for
 * the work fails cleanly and leaves the context usable. The logits themselves are
 * checked against an independent numpy forward pass by tests/model_check.py. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "entropyinfer_model.h"
#include "ref/ref.h"
#include "util/gguf_writer.h"
#include "util/test_util.h"

#define VOCAB 96
#define EMBD 128
#define FF 192

typedef struct tiny {
    const char *arch;
    uint32_t layers, heads, kv_heads, head_dim;
    const char *skip;  /* a tensor to leave out */
    const char *wrong; /* a tensor to write with a wrong shape */
} tiny;

typedef struct tensor_spec {
    char name[64];
    uint64_t cols, rows;
} tensor_spec;

static int tensors_of(const tiny *t, tensor_spec *out) {
    int n = 0, gemma = !strcmp(t->arch, "gemma3"), qwen2 = !strcmp(t->arch, "qwen2");
    uint64_t qd = (uint64_t)t->heads * t->head_dim, kvd = (uint64_t)t->kv_heads * t->head_dim;
#define ADD(nm, c, r) (snprintf(out[n].name, sizeof out[n].name, "%s", nm), out[n].cols = (c), out[n].rows = (r), n++)
    ADD("token_embd.weight", EMBD, VOCAB);
    ADD("output_norm.weight", EMBD, 1);
    for (uint32_t l = 0; l < t->layers; l++) {
        char b[64];
#define LAYER(suffix, c, r) (snprintf(b, sizeof b, "blk.%u." suffix, l), ADD(b, c, r))
        LAYER("attn_norm.weight", EMBD, 1);
        LAYER("attn_q.weight", EMBD, qd);
        LAYER("attn_k.weight", EMBD, kvd);
        LAYER("attn_v.weight", EMBD, kvd);
        LAYER("attn_output.weight", qd, EMBD);
        LAYER("ffn_norm.weight", EMBD, 1);
        LAYER("ffn_gate.weight", EMBD, FF);
        LAYER("ffn_up.weight", EMBD, FF);
        LAYER("ffn_down.weight", FF, EMBD);
        if (qwen2) LAYER("attn_q.bias", qd, 1), LAYER("attn_k.bias", kvd, 1), LAYER("attn_v.bias", kvd, 1);
        if (gemma) {
            LAYER("attn_q_norm.weight", t->head_dim, 1);
            LAYER("attn_k_norm.weight", t->head_dim, 1);
            LAYER("post_attention_norm.weight", EMBD, 1);
            LAYER("post_ffw_norm.weight", EMBD, 1);
        }
#undef LAYER
    }
#undef ADD
    return n;
}

static void kv_u32(gw *w, const char *arch, const char *key, uint32_t v) {
    char k[96];
    snprintf(k, sizeof k, "%s.%s", arch, key);
    gw_str(w, k), gw_u32(w, 4), gw_u32(w, v);
}

/* An F32 model with weights ~ U(-s, s), s = 1/sqrt(fan-in), norms ~1. */
static gw write_model(const tiny *t) {
    static tensor_spec specs[512];
    int n = tensors_of(t, specs);
    gw w = {0};
    gw_bytes(&w, "GGUF", 4);
    gw_u32(&w, 3);
    gw_u64(&w, (uint64_t)n - (t->skip != NULL));
    gw_u64(&w, 9);
    gw_str(&w, "general.architecture"), gw_u32(&w, 8), gw_str(&w, t->arch);
    kv_u32(&w, t->arch, "block_count", t->layers);
    kv_u32(&w, t->arch, "embedding_length", EMBD);
    kv_u32(&w, t->arch, "feed_forward_length", FF);
    kv_u32(&w, t->arch, "attention.head_count", t->heads);
    kv_u32(&w, t->arch, "attention.head_count_kv", t->kv_heads);
    kv_u32(&w, t->arch, "attention.key_length", t->head_dim);
    kv_u32(&w, t->arch, "attention.sliding_window", 6); /* Gemma 3's local layers see 6 keys */
    gw_str(&w, "tokenizer.ggml.tokens"), gw_u32(&w, 9), gw_u32(&w, 8), gw_u64(&w, VOCAB);
    for (int i = 0; i < VOCAB; i++)
        gw_str(&w, "t");
    uint64_t offset = 0;
    for (int i = 0; i < n; i++) {
        if (t->skip && !strcmp(specs[i].name, t->skip)) continue;
        int wrong = t->wrong && !strcmp(specs[i].name, t->wrong);
        gw_str(&w, specs[i].name);
        gw_u32(&w, 2), gw_u64(&w, specs[i].cols + (wrong ? 4 : 0)), gw_u64(&w, specs[i].rows);
        gw_u32(&w, 0 /* F32 */), gw_u64(&w, offset);
        offset += ((specs[i].cols + (wrong ? 4 : 0)) * specs[i].rows * 4 + 31) / 32 * 32;
    }
    gw_pad(&w, 32);
    for (int i = 0; i < n; i++) {
        if (t->skip && !strcmp(specs[i].name, t->skip)) continue;
        int wrong = t->wrong && !strcmp(specs[i].name, t->wrong);
        uint64_t count = (specs[i].cols + (wrong ? 4 : 0)) * specs[i].rows;
        float s = specs[i].rows == 1 ? 0.2f : 1.0f / sqrtf((float)specs[i].cols);
        for (uint64_t j = 0; j < count; j++) {
            float v = (specs[i].rows == 1 && strstr(specs[i].name, "norm") ? 1.0f : 0.0f) + tu_uniform(-s, s);
            uint32_t bits;
            memcpy(&bits, &v, 4);
            gw_u32(&w, bits);
        }
        gw_pad(&w, 32);
    }
    return w;
}

/* When set, load() parses this file instead of writing new random weights
 * (runs that must give equal logits). */
static const gw *fixed_model;

static ei_status load(ei_context *ctx, const tiny *t, ei_gguf **g, ei_model **m) {
    static gw file; /* the parsed GGUF points into it */
    gw_free(&file);
    file = fixed_model ? (gw){0} : write_model(t);
    if (fixed_model) gw_bytes(&file, fixed_model->data, fixed_model->size);
    char error[256];
    ei_status st = ei_gguf_parse(file.data, file.size, g, error, sizeof error);
    CHECK(st == EI_OK, "%s: %s", t->arch, error);
    if (st != EI_OK) return st;
    return ei_model_load(ctx, *g, m);
}

static void forward(ei_context *ctx, ei_session *s, const uint32_t *ids, uint32_t n, float *logits) {
    uint32_t batch = ei_session_n_batch(s);
    for (uint32_t done = 0; done < n;) {
        uint32_t k = n - done < batch ? n - done : batch;
        CHECK_STATUS(ei_session_forward(s, ids + done, k, done + k == n ? logits : NULL), EI_OK, ctx);
        done += k;
    }
}

static double rel(const float *a, const float *b) {
    double err = 0, mag = 0;
    for (int i = 0; i < VOCAB; i++)
        err = fmax(err, fabs(a[i] - b[i])), mag = fmax(mag, fabs(b[i]));
    return err / mag;
}

/* With `kv_dtype` caches: chunks, decode and a reset give the logits of
 * one pass. Both sides round K, V and Q to the same 16-bit values, but on
 * devices with cooperative matrices the prefill also rounds probabilities
 * to f16 against a running maximum that depends on how keys are tiled
 * (1.1e-4 seen for gemma3 on an H100): 16-bit caches get 1e-3. */
static void check_model(ei_context *ctx, const tiny *t, ei_dtype kv_dtype) {
    ei_gguf *g = NULL;
    ei_model *m = NULL;
    CHECK_STATUS(load(ctx, t, &g, &m), EI_OK, ctx);
    if (!m) return;
    enum { N = 23 };
    uint32_t ids[N + 1];
    for (int i = 0; i <= N; i++)
        ids[i] = tu_below(VOCAB);
    float one_shot[VOCAB], chunked[VOCAB], decoded[VOCAB], again[VOCAB];
    ei_session *whole = NULL, *chunks = NULL;
    CHECK_STATUS(ei_session_create(m, &(ei_session_desc){32, 32, .kv_dtype = kv_dtype}, &whole), EI_OK, ctx);
    CHECK_STATUS(ei_session_create(m, &(ei_session_desc){32, 5, .kv_dtype = kv_dtype}, &chunks), EI_OK, ctx);
    /* The prompt in one pass and in chunks of 5 (ragged last chunk). */
    forward(ctx, whole, ids, N + 1, one_shot);
    forward(ctx, chunks, ids, N + 1, chunked);
    double e1 = rel(chunked, one_shot), limit = kv_dtype == EI_F32 ? 1e-5 : 1e-3;
    CHECK(e1 <= limit, "%s: chunked prefill differs from one-shot: %.3g", t->arch, e1);
    /* N tokens, then the last as a decode step. */
    CHECK_STATUS(ei_session_reset(chunks), EI_OK, ctx);
    forward(ctx, chunks, ids, N, NULL);
    CHECK_STATUS(ei_session_forward(chunks, ids + N, 1, decoded), EI_OK, ctx);
    double e2 = rel(decoded, one_shot);
    CHECK(e2 <= limit, "%s: decode differs from prefill: %.3g", t->arch, e2);
    /* A full context is refused and changes nothing. */
    uint32_t more[16] = {0};
    CHECK(ei_session_pos(chunks) == N + 1, "pos %u", ei_session_pos(chunks));
    CHECK_STATUS(ei_session_forward(chunks, more, 5, NULL), EI_OK, ctx);
    CHECK_STATUS(ei_session_forward(chunks, more, 4, NULL), EI_ERROR_LIMIT_EXCEEDED, ctx);
    CHECK(strstr(ei_context_error(ctx), "context is full") != NULL, "%s", ei_context_error(ctx));
    CHECK(ei_session_pos(chunks) == N + 6, "pos %u after a refused call", ei_session_pos(chunks));
    more[1] = VOCAB;
    CHECK_STATUS(ei_session_forward(chunks, more, 2, NULL), EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK_STATUS(ei_session_forward(chunks, more, 6, NULL), EI_ERROR_INVALID_ARGUMENT, ctx); /* > n_batch */
    /* After a reset, the same prompt gives the same logits. */
    CHECK_STATUS(ei_session_reset(whole), EI_OK, ctx);
    forward(ctx, whole, ids, N + 1, again);
    CHECK(memcmp(again, one_shot, sizeof again) == 0, "%s: reset does not repeat", t->arch);
    printf("%s: %u layers, %u/%u heads of %u, %s caches: chunked %.2e, decode %.2e\n", t->arch, t->layers, t->heads,
           t->kv_heads, t->head_dim,
           kv_dtype == EI_F32   ? "f32"
           : kv_dtype == EI_F16 ? "f16"
                                : "bf16",
           e1, e2);
    ei_session_destroy(whole);
    ei_session_destroy(chunks);
    ei_model_destroy(m);
    ei_gguf_close(g);
}

/* Logits of `steps` greedy-free steps: the prompt, then ids[n..] one at a
 * time; returns the last step's logits in out. */
/* The caches' type in check_methods' sessions. */
static ei_dtype methods_kv_dtype = EI_F32;

static void run_method(ei_context *ctx, ei_model *m, const ei_entropy_config *cfg, ei_kv_method kv, const uint32_t *ids,
                       uint32_t n, uint32_t steps, float *out, uint32_t *lens) {
    ei_session *s = NULL;
    ei_session_desc d = {.n_ctx = 64, .n_batch = 64, .method = cfg, .kv = kv, .kv_dtype = methods_kv_dtype};
    CHECK_STATUS(ei_session_create(m, &d, &s), EI_OK, ctx);
    if (!s) return;
    CHECK_STATUS(ei_session_forward(s, ids, n, out), EI_OK, ctx);
    lens[0] = ei_session_cache_len(s, 0);
    for (uint32_t i = 0; i < steps; i++) {
        CHECK_STATUS(ei_session_forward(s, ids + n + i, 1, out), EI_OK, ctx);
        lens[i + 1] = ei_session_cache_len(s, 0);
    }
    if (cfg && (cfg->mode != EI_PREFILL_FULL || lens[steps] < n + steps)) /* the method takes one token at a time */
        CHECK_STATUS(ei_session_forward(s, ids, 2, NULL), EI_ERROR_INVALID_ARGUMENT, ctx);
    ei_session_destroy(s);
}

static int finite(const float *x) {
    for (int i = 0; i < VOCAB; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* The methods inside the model: a sparse prompt whose budgets cover every
 * block equals dense attention, a small budget differs; SnapKV and latent
 * compress when and to what algorithm.md section 4 says, and a budget above
 * the cache compresses nothing. */
static void check_methods(ei_context *ctx) {
    const tiny t = {"llama", 2, 4, 2, 64};
    ei_gguf *g = NULL;
    ei_model *m = NULL;
    CHECK_STATUS(load(ctx, &t, &g, &m), EI_OK, ctx);
    if (!m) return;
    enum { N = 40, STEPS = 4 };
    uint32_t ids[N + STEPS], lens[STEPS + 1], full_lens[STEPS + 1];
    for (int i = 0; i < N + STEPS; i++)
        ids[i] = tu_below(VOCAB);
    float dense[VOCAB], got[VOCAB];
    run_method(ctx, m, NULL, EI_KV_FULL, ids, N, 0, dense, full_lens);

    ei_entropy_config cfg = ei_entropy_config_default();
    cfg.segment_size = 8, cfg.block_size = 4, cfg.threshold_len = 8, cfg.layer_skip = 0;
    cfg.mode = EI_PREFILL_CRITIPREFILL;
    cfg.base_budget = 64; /* every earlier block of every segment */
    run_method(ctx, m, &cfg, EI_KV_FULL, ids, N, 0, got, lens);
    double e = rel(got, dense);
    CHECK(e <= 1e-5, "critiprefill keeping every block differs from dense: %.3g", e);
    cfg.base_budget = 4; /* one block */
    for (int mode = EI_PREFILL_ENTROPY; mode <= EI_PREFILL_CRITIPREFILL; mode++) {
        cfg.mode = (ei_prefill_mode)mode;
        run_method(ctx, m, &cfg, EI_KV_FULL, ids, N, 0, got, lens);
        double d = rel(got, dense);
        CHECK(finite(got) && d > 1e-4, "mode %d with one block a segment: difference %.3g from dense", mode, d);
        printf("prefill mode %d, one block a segment: %.3g from dense\n", mode, d);
    }

    cfg.mode = EI_PREFILL_FULL;
    cfg.window = 4, cfg.decode_budget = 24, cfg.decode_gap = 2;
    run_method(ctx, m, NULL, EI_KV_FULL, ids, N, STEPS, dense, full_lens);
    run_method(ctx, m, &cfg, EI_KV_SNAPKV, ids, N, STEPS, got, lens);
    CHECK(lens[0] == 24 && lens[STEPS] == 24 + STEPS, "SnapKV lengths %u .. %u", lens[0], lens[STEPS]);
    CHECK(finite(got) && rel(got, dense) > 1e-4, "SnapKV changed nothing");
    run_method(ctx, m, &cfg, EI_KV_LATENT, ids, N, STEPS, got, lens);
    /* Steps 1, 2 grow the cache; step 3 = N_d + 1 appends, attends, compresses to Bd; step 4 appends. */
    CHECK(lens[0] == N && lens[2] == N + 2 && lens[3] == 24 && lens[4] == 25, "latent lengths %u %u %u %u %u", lens[0],
          lens[1], lens[2], lens[3], lens[4]);
    run_method(ctx, m, &cfg, EI_KV_ADAKV, ids, N, STEPS, got, lens);
    CHECK(lens[0] <= N && lens[0] >= 24 && finite(got), "AdaKV: longest head %u", lens[0]);
    cfg.decode_budget = 60; /* above the cache: nothing to compress */
    run_method(ctx, m, &cfg, EI_KV_LATENT, ids, N, STEPS, got, lens);
    CHECK(lens[STEPS] == N + STEPS && rel(got, dense) <= 1e-6, "latent under budget differs: %.3g", rel(got, dense));
    ei_model_destroy(m);
    ei_gguf_close(g);
}

/* One layer's prefill stats against the CPU reference: the budgets that
 * ref_budgets derives from the layer's entropies are its keep counts and
 * rigid flags, and keep stays within algorithm.md's bounds. */
static void check_layer_stats(const ei_prefill_stats *st, const ei_entropy_config *cfg, uint32_t len, uint32_t heads,
                              uint32_t layer) {
    ei_profile_desc pd = {len, heads, st->kv_heads, 64, EI_F32, layer};
    ei_profile_shape sh = ei_profile_shape_of(&pd, cfg);
    CHECK(st->nseg == sh.nseg, "layer %u: %u segments, want %u", layer, st->nseg, sh.nseg);
    if (st->nseg != sh.nseg) return;
    uint32_t keep[64], rigid[8], nrep = cfg->segment_size / cfg->block_size;
    uint32_t maxeff = sh.nblk - ((len % cfg->segment_size) / cfg->block_size + 1);
    ref_budgets(&pd, cfg, st->entropy, keep, rigid);
    for (uint32_t hk = 0; hk < st->kv_heads; hk++) {
        int low = 1;
        for (uint32_t s = 0; s < sh.nseg; s++) {
            uint32_t i = hk * sh.nseg + s, cap = s * nrep < maxeff ? s * nrep : maxeff;
            uint32_t least = cfg->base_budget / cfg->block_size, most = 3 * least;
            least = least < cap ? least : cap, most = most < cap ? most : cap;
            CHECK(isfinite(st->entropy[i]) && st->entropy[i] >= 0, "layer %u head %u segment %u: entropy %g", layer, hk,
                  s, st->entropy[i]);
            CHECK(st->keep[i] == keep[i], "layer %u head %u segment %u: keep %u, the reference %u", layer, hk, s,
                  st->keep[i], keep[i]);
            CHECK(s == 0 ? st->keep[i] == 0 : st->keep[i] >= least && st->keep[i] <= most,
                  "layer %u head %u segment %u: keep %u outside [%u, %u]", layer, hk, s, st->keep[i], least, most);
            if (s >= 1 && !(st->entropy[i] < cfg->e_t)) low = 0;
        }
        CHECK(st->rigid[hk] == rigid[hk] && st->rigid[hk] == (uint32_t)low, "layer %u head %u: rigid %u, want %u",
              layer, hk, st->rigid[hk], rigid[hk]);
    }
}

/* A session's prefill stats (ei_session_prefill_stats): the profiled layers
 * are the global ones from layer_skip on, each consistent with the CPU
 * reference in every sparse mode, with every head rigid under a huge e_t;
 * keeping them changes no logit; the refusals. */
static void check_prefill_stats(ei_context *ctx) {
    const tiny t = {"gemma3", 7, 4, 2, 64}; /* layers 0-4 and 6 local, 5 global */
    ei_gguf *g = NULL;
    ei_model *m = NULL;
    CHECK_STATUS(load(ctx, &t, &g, &m), EI_OK, ctx);
    if (!m) return;
    enum { N = 44 };
    uint32_t ids[N];
    for (int i = 0; i < N; i++)
        ids[i] = tu_below(VOCAB);
    ei_entropy_config cfg = ei_entropy_config_default();
    cfg.segment_size = 8, cfg.block_size = 4, cfg.threshold_len = 8, cfg.base_budget = 8, cfg.layer_skip = 6;
    float plain[VOCAB], kept[VOCAB], entropy[16] = {0}, e_first[16] = {0};
    uint32_t keep[16] = {0}, rigid[2] = {0};
    ei_prefill_stats st = {.entropy = entropy, .keep = keep, .rigid = rigid};
    /* Each mode; layer_skip past the global layer; every head rigid. */
    const struct {
        ei_prefill_mode mode;
        uint32_t layer_skip;
        float e_t;
    } runs[] = {{EI_PREFILL_ENTROPY, 1, 1e-5f},
                {EI_PREFILL_REFERENCE, 1, 1e-5f},
                {EI_PREFILL_CRITIPREFILL, 1, 1e-5f},
                {EI_PREFILL_ENTROPY, 6, 1e-5f},
                {EI_PREFILL_ENTROPY, 1, 1e6f}};
    for (int run = 0; run < 5; run++) {
        cfg.mode = runs[run].mode, cfg.layer_skip = runs[run].layer_skip, cfg.e_t = runs[run].e_t;
        ei_session_desc d = {.n_ctx = 64, .n_batch = 64, .method = &cfg};
        ei_session *s = NULL, *with = NULL;
        CHECK_STATUS(ei_session_create(m, &d, &s), EI_OK, ctx);
        d.prefill_stats = 1;
        CHECK_STATUS(ei_session_create(m, &d, &with), EI_OK, ctx);
        if (!s || !with) break;
        CHECK_STATUS(ei_session_prefill_stats(s, 5, &st), EI_ERROR_INVALID_ARGUMENT, ctx);    /* keeps none */
        CHECK_STATUS(ei_session_prefill_stats(with, 5, &st), EI_ERROR_INVALID_ARGUMENT, ctx); /* no prompt yet */
        CHECK_STATUS(ei_session_forward(s, ids, N, plain), EI_OK, ctx);
        CHECK_STATUS(ei_session_forward(with, ids, N, kept), EI_OK, ctx);
        CHECK(memcmp(plain, kept, sizeof kept) == 0, "run %d: keeping stats changed the logits", run);
        uint32_t profiled = 0;
        for (uint32_t l = 0; l < 7; l++) {
            CHECK_STATUS(ei_session_prefill_stats(with, l, &st), EI_OK, ctx);
            CHECK(st.kv_heads == 2, "kv_heads %u", st.kv_heads);
            if (!st.profiled) continue;
            profiled |= 1u << l;
            check_layer_stats(&st, &cfg, N, t.heads, l);
            for (uint32_t hk = 0; hk < 2; hk++)
                CHECK(rigid[hk] == (run == 4), "run %d: head %u rigid %u", run, hk, rigid[hk]);
            printf("prefill stats, mode %d: layer %u, keep of head 0 by segment %u %u %u %u %u %u\n", cfg.mode, l,
                   keep[0], keep[1], keep[2], keep[3], keep[4], keep[5]);
        }
        /* Layer 5, the only global one, unless layer_skip passes it. */
        CHECK(profiled == (run == 3 ? 0u : 1u << 5), "run %d: profiled layers %#x", run, profiled);
        if (run == 0) memcpy(e_first, entropy, sizeof entropy);
        if (run == 1 || run == 2)
            CHECK(memcmp(e_first, entropy, sizeof entropy) == 0, "the entropies depend on the mode");
        /* The profile stays through decode steps, not through a reset. */
        CHECK_STATUS(ei_session_forward(with, ids, 1, kept), EI_OK, ctx);
        CHECK_STATUS(ei_session_prefill_stats(with, 5, &st), EI_OK, ctx);
        CHECK_STATUS(ei_session_prefill_stats(with, 7, &st), EI_ERROR_INVALID_ARGUMENT, ctx);
        CHECK_STATUS(ei_session_reset(with), EI_OK, ctx);
        CHECK_STATUS(ei_session_prefill_stats(with, 5, &st), EI_ERROR_INVALID_ARGUMENT, ctx);
        ei_session_destroy(s);
        ei_session_destroy(with);
    }
    ei_model_destroy(m);
    ei_gguf_close(g);
}

/* The step a failure-point child is in, written to the parent (phase_fd;
 * -1: not in a child). */
static int phase_fd = -1;
static void phase(char step) {
    if (phase_fd >= 0 && write(phase_fd, &step, 1) != 1) abort();
}

/* Load a model, make a session, run a prompt and a decode step; the first
 * failure's status. *held: the device memory the context held at the end,
 * before everything is freed; logits: the decode step's. */
static ei_status scenario_logits(ei_context *ctx, const tiny *t, uint64_t *held, float *logits) {
    ei_gguf *g = NULL;
    ei_model *m = NULL;
    ei_session *s = NULL;
    uint32_t ids[9] = {3, 1, 4, 1, 5, 9, 2, 6, 5};
    phase('l');
    ei_status st = load(ctx, t, &g, &m);
    if (st == EI_OK) st = ei_session_create(m, &(ei_session_desc){32, 16}, &s);
    phase('p');
    if (st == EI_OK) st = ei_session_forward(s, ids, 8, logits);
    phase('d');
    if (st == EI_OK) st = ei_session_forward(s, ids + 8, 1, logits);
    phase('x');
    *held = ei_context_device_bytes(ctx);
    ei_session_destroy(s);
    ei_model_destroy(m);
    ei_gguf_close(g);
    return st;
}

static ei_status scenario(ei_context *ctx, const tiny *t, uint64_t *held) {
    float logits[VOCAB];
    return scenario_logits(ctx, t, held, logits);
}

/* ---- Host allocations that fail: an allocator failing its n-th call ---- */

typedef struct counting {
    uint64_t calls, fail_at; /* fail_at 0: never */
    int64_t live;            /* blocks handed out and not freed */
} counting;

typedef struct block_header {
    void *base;
    size_t size;
} block_header;

static void *counting_alloc(void *user, size_t size, size_t alignment) {
    counting *c = user;
    if (++c->calls == c->fail_at) return NULL;
    size_t a = alignment < 16 ? 16 : alignment;
    uint8_t *base = malloc(size + a + sizeof(block_header));
    if (!base) return NULL;
    uintptr_t p = ((uintptr_t)base + sizeof(block_header) + a - 1) & ~(uintptr_t)(a - 1);
    ((block_header *)p)[-1] = (block_header){base, size};
    c->live++;
    return (void *)p;
}

static void counting_free(void *user, void *p) {
    if (!p) return;
    ((counting *)user)->live--;
    free(((block_header *)p)[-1].base);
}

static void *counting_realloc(void *user, void *p, size_t size, size_t alignment) {
    if (!p) return counting_alloc(user, size, alignment);
    if (!size) {
        counting_free(user, p);
        return NULL;
    }
    void *q = counting_alloc(user, size, alignment); /* on failure p stays as it was */
    if (q) {
        size_t old = ((block_header *)p)[-1].size;
        memcpy(q, p, old < size ? old : size);
        counting_free(user, p);
    }
    return q;
}

/* The hooks' two counters: the library's own blocks and Vulkan's. */
typedef struct hooks_under_test {
    counting lib, vk;
    ei_allocator hooks;
} hooks_under_test;

/* One failure point: context creation, model load, session, prompt and
 * decode step with the n-th allocation of `which` failing, then (where the
 * context was created) the scenario again without failures. */
static void failure_point(const ei_context_desc *desc, hooks_under_test *h, counting *which, uint64_t n, const tiny *t,
                          const float *clean) {
    float got[VOCAB];
    uint64_t held = 0;
    h->lib = h->vk = (counting){0};
    which->fail_at = n;
    ei_context *ctx = NULL;
    phase('c');
    ei_status st = ei_context_create(desc, &ctx);
    if (st == EI_OK) {
        st = scenario_logits(ctx, t, &held, got);
        if (st != EI_OK) { /* the context survived: it still runs the scenario, right */
            const char *why = ei_context_error(ctx);
            CHECK(strstr(why, "memory") || strstr(why, "MEMORY"), "n %llu: %s", (unsigned long long)n, why);
            which->fail_at = 0;
            phase('r');
            CHECK_STATUS(scenario_logits(ctx, t, &held, got), EI_OK, ctx);
            CHECK(memcmp(got, clean, sizeof got) == 0, "n %llu: the context computes otherwise after a failure",
                  (unsigned long long)n);
        }
        phase('x');
        ei_context_destroy(ctx);
    }
    CHECK(st == EI_OK || st == EI_ERROR_OUT_OF_HOST_MEMORY, "n %llu: %s", (unsigned long long)n, ei_status_name(st));
    CHECK(h->lib.live == 0 && h->vk.live == 0, "n %llu: %lld of our blocks and %lld of Vulkan's never freed",
          (unsigned long long)n, (long long)h->lib.live, (long long)h->vk.live);
}

/* Runs failure points n = 1, 1 + step, ... <= last of `which` (h->lib or
 * h->vk), each in a child process so that a crash is a failed check, not
 * the end of the test; returns how many. */
static uint64_t walk(const ei_context_desc *desc, hooks_under_test *h, counting *which, uint64_t last, uint64_t step,
                     const tiny *t, const float *clean) {
    uint64_t points = 0;
    fflush(stdout);
    for (uint64_t n = 1; n <= last; n += step, points++) {
        int fds[2];
        if (pipe(fds) != 0) abort();
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            phase_fd = fds[1];
            failure_point(desc, h, which, n, t, clean);
            fflush(stdout);
            _exit(tu_tally() == 0 ? 0 : 1);
        }
        close(fds[1]);
        char step_seen = '?', b;
        while (read(fds[0], &b, 1) == 1)
            step_seen = b;
        close(fds[0]);
        int status = 0;
        waitpid(pid, &status, 0);
        CHECK(!WIFSIGNALED(status), "n %llu: signal %d in step '%c'", (unsigned long long)n,
              WIFSIGNALED(status) ? WTERMSIG(status) : 0, step_seen);
        CHECK(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0),
              "n %llu: the failure point's checks failed", (unsigned long long)n);
    }
    return points;
}

/* Host-allocation failure injection (issue: reliability). The hooks count
 * the library's blocks and Vulkan's apart (ei_allocator.vulkan_user):
 * - every allocation of the library's own in context creation, model
 *   load, session, prompt and decode step fails once;
 * - Vulkan's (loader, lavapipe) in context creation, every 7th: lavapipe
 *   (Mesa 22.3) handles those, but when its allocation fails inside a
 *   vkCmd* recording (vkCmd* cannot report it) it later crashes or frees
 *   blocks it never took, so Vulkan's allocations past creation are
 *   counted (leaks) but not failed.
 * At each point: EI_ERROR_OUT_OF_HOST_MEMORY or success, every block of
 * both counters freed once all is destroyed (lavapipe allocates every
 * Vulkan object through the hooks, so a leaked object is a live block),
 * and a context that survived a failure gives the clean run's logits.
 * Without the validation layer: the loader and layer report the injected
 * failures themselves, as messages. */
static void check_host_allocation_failures(void) {
    const tiny t = {"llama", 2, 2, 2, 128};
    float clean[VOCAB];
    hooks_under_test h = {0};
    h.hooks = (ei_allocator){&h.lib, &h.vk, counting_alloc, counting_realloc, counting_free};
    ei_context_desc desc = ei_context_desc_default();
    desc.host_allocator = &h.hooks;
    gw model = write_model(&t);
    fixed_model = &model;
    uint64_t held = 0;
    ei_context *ctx = NULL;
    CHECK(ei_context_create(&desc, &ctx) == EI_OK, "a context with counting hooks");
    if (!ctx) return;
    if (ei_context_facts(ctx)->device_type != 4 /* VK_PHYSICAL_DEVICE_TYPE_CPU */) {
        /* A GPU driver's state does not survive fork(): on an H100 (NVIDIA
         * 580) the children's work lost the parent's device. */
        printf("host allocation failures: skipped on '%s' (the walk forks a child per point; it runs on CPU "
               "devices such as lavapipe)\n",
               ei_context_facts(ctx)->name);
        ei_context_destroy(ctx);
        fixed_model = NULL;
        gw_free(&model);
        return;
    }
    const uint64_t vk_creation = h.vk.calls, lib_creation = h.lib.calls;
    CHECK_STATUS(scenario_logits(ctx, &t, &held, clean), EI_OK, ctx);
    ei_context_destroy(ctx);
    const uint64_t lib_total = h.lib.calls, vk_total = h.vk.calls;
    CHECK(h.lib.live == 0 && h.vk.live == 0, "clean run: %lld + %lld blocks never freed", (long long)h.lib.live,
          (long long)h.vk.live);
    uint64_t lib_points = walk(&desc, &h, &h.lib, lib_total, 1, &t, clean);
    uint64_t vk_points = walk(&desc, &h, &h.vk, vk_creation, 7, &t, clean);
    printf("host allocation failures: the library's %llu allocations (%llu in context creation) each failed once; "
           "Vulkan's %llu (%llu in creation): %llu points in creation\n",
           (unsigned long long)lib_total, (unsigned long long)lib_creation, (unsigned long long)vk_total,
           (unsigned long long)vk_creation, (unsigned long long)vk_points);
    CHECK(lib_points == lib_total, "walked %llu of %llu", (unsigned long long)lib_points,
          (unsigned long long)lib_total);
    fixed_model = NULL;
    gw_free(&model);
}

/* A device-memory budget below what the scenario needs: at budgets from 1
 * byte up to 11/12 of its total, some allocation fails with
 * EI_ERROR_OUT_OF_DEVICE_MEMORY naming the budget, everything is freed
 * (the context holds 0 bytes after), and the context still runs an op. */
static void check_memory_budget(void) {
    const tiny t = {"gemma3", 7, 4, 2, 64};
    uint64_t total = 0;
    ei_context *ctx = tu_context_from(ei_context_desc_default());
    CHECK_STATUS(scenario(ctx, &t, &total), EI_OK, ctx);
    CHECK(ei_context_device_bytes(ctx) == 0, "%llu bytes held after freeing", (unsigned long long)total);
    tu_release(ctx);
    for (int k = 0; k < 12; k++) {
        ei_context_desc desc = ei_context_desc_default();
        desc.device_memory_budget = k ? total * k / 12 : 1;
        ctx = tu_context_from(desc);
        uint64_t held = 0;
        CHECK_STATUS(scenario(ctx, &t, &held), EI_ERROR_OUT_OF_DEVICE_MEMORY, ctx);
        CHECK(strstr(ei_context_error(ctx), "budget") != NULL, "%s", ei_context_error(ctx));
        CHECK(held <= desc.device_memory_budget && ei_context_device_bytes(ctx) == 0,
              "budget %llu: %llu bytes held at the failure, %llu after", (unsigned long long)desc.device_memory_budget,
              (unsigned long long)held, (unsigned long long)ei_context_device_bytes(ctx));
        if (k) { /* still usable: a small op within the budget */
            ei_buffer *b = NULL;
            CHECK_STATUS(ei_buffer_create(ctx, 64, &b), EI_OK, ctx);
            float in[8] = {1, 2, 3, 4, 5, 6, 7, 8}, out[4] = {0};
            ei_cmd *cmd = NULL;
            if (b && ei_buffer_upload(b, 0, in, sizeof in) == EI_OK && ei_cmd_begin(ctx, &cmd) == EI_OK) {
                CHECK_STATUS(ei_elementwise(cmd, EI_ADD, 4, (ei_tensor){b, 0, EI_F32}, (ei_tensor){b, 16, EI_F32},
                                            (ei_tensor){b, 32, EI_F32}),
                             EI_OK, ctx);
                CHECK_STATUS(ei_cmd_run(cmd), EI_OK, ctx);
                CHECK_STATUS(ei_buffer_download(b, 32, out, sizeof out), EI_OK, ctx);
            }
            ei_cmd_destroy(cmd);
            CHECK(out[0] == 6 && out[3] == 12, "budget %llu: the context no longer computes",
                  (unsigned long long)desc.device_memory_budget);
            ei_buffer_destroy(b);
        }
        tu_release(ctx);
    }
    printf("device memory budget: the scenario holds %llu bytes; 12 smaller budgets refused cleanly\n",
           (unsigned long long)total);
}

static void check_refused(ei_context *ctx, const tiny *t, ei_status want, const char *message) {
    ei_gguf *g = NULL;
    ei_model *m = NULL;
    CHECK_STATUS(load(ctx, t, &g, &m), want, ctx);
    CHECK(m == NULL, "no model on failure");
    CHECK(strstr(ei_context_error(ctx), message) != NULL, "'%s' lacks '%s'", ei_context_error(ctx), message);
    ei_gguf_close(g);
}

int main(void) {
    tu_seed();
    ei_context *ctx = tu_context();
    check_model(ctx, &(tiny){"gemma3", 7, 4, 2, 64}, EI_F32); /* layers 0-4 and 6 local, 5 global */
    check_model(ctx, &(tiny){"qwen2", 2, 4, 1, 64}, EI_F32);
    check_model(ctx, &(tiny){"llama", 2, 2, 2, 128}, EI_F32);
    check_model(ctx, &(tiny){"gemma3", 7, 4, 2, 64}, EI_F16);
    check_model(ctx, &(tiny){"llama", 2, 2, 2, 128}, EI_BF16);
    check_methods(ctx);
    check_prefill_stats(ctx);
    methods_kv_dtype = EI_F16;
    check_methods(ctx);
    check_memory_budget();
    check_host_allocation_failures();
    check_refused(ctx, &(tiny){"llama", 2, 2, 2, 128, "blk.1.ffn_up.weight", NULL}, EI_ERROR_INVALID_ARGUMENT,
                  "blk.1.ffn_up.weight is missing");
    check_refused(ctx, &(tiny){"llama", 2, 2, 2, 128, NULL, "blk.0.attn_k.weight"}, EI_ERROR_INVALID_ARGUMENT,
                  "blk.0.attn_k.weight is [132 x 256");
    check_refused(ctx, &(tiny){"llama", 1, 4, 4, 32}, EI_ERROR_FEATURE_NOT_PRESENT, "head dim 32");
    check_refused(ctx, &(tiny){"mamba", 1, 4, 4, 32}, EI_ERROR_INVALID_ARGUMENT, "'mamba' is not supported");
    return tu_finish(ctx);
}
