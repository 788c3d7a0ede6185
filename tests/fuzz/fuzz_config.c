/* libFuzzer target for the parsers of configuration from outside: the first
 * byte picks one, the rest are its choices (tests/fuzz/make_config_seeds.py
 * writes seeds in this encoding):
 *   0: a model's hyper-parameters, ei_model_config_read on a small GGUF
 *      built from the choices (an architecture, {arch}.* keys and the
 *      vocabulary of fuzzed types, values and lengths);
 *   1: ei_entropy_config_check and ei_profile_shape_of on fuzzed constants;
 *   2: ei_sampler_create on fuzzed parameters, ei_sampler_sample on fuzzed
 *      logits (NaN and infinities included), twice for determinism;
 *   3: vkinfer's command line, vk_parse_args on up to 16 arguments split at
 *      NUL bytes, twice on fresh copies with a known command line between
 *      (getopt keeps state across calls).
 * Each checks that what is accepted holds the relations the header documents
 * and the rest of the code relies on, and that a refusal says why. Build
 * with clang and -DEI_BUILD_FUZZERS=ON; run:
 * build-fuzz/tests/fuzz_config NEW_DIR tests/fuzz/corpus_config. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entropyinfer_model.h"
#include "util/gguf_writer.h"
#include "vkinfer.h"

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond)) abort();                                                                                          \
    } while (0)

/* ---- The input as a stream of choices: zeros once it runs out ---------- */

typedef struct input {
    const uint8_t *p;
    size_t n;
} input;

static uint8_t u8(input *in) {
    if (!in->n) return 0;
    in->n--;
    return *in->p++;
}

static uint64_t le(input *in, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)u8(in) << (8 * i);
    return v;
}

/* A count or size: a byte, 16 bits, a power of two or 32 raw bits. */
static uint32_t count(input *in) {
    switch (u8(in) % 4) {
    case 0: return u8(in);
    case 1: return (uint32_t)le(in, 2);
    case 2: return 1u << (u8(in) % 32);
    default: return (uint32_t)le(in, 4);
    }
}

/* A float: one of the edge values, a small multiple of 1/16, a whole number
 * or 32 raw bits. */
static float real(input *in) {
    static const float edges[] = {0.0f,     -0.0f,     1.0f,    -1.0f,  0.5f,    1e-5f,    1e-6f, NAN,
                                  INFINITY, -INFINITY, FLT_MIN, 1e-40f, FLT_MAX, 2.9e-39f, 1e30f, 10000.0f};
    switch (u8(in) % 4) {
    case 0: return edges[u8(in) % (sizeof edges / sizeof edges[0])];
    case 1: return u8(in) / 16.0f;
    case 2: return (float)le(in, 2);
    default: {
        uint32_t bits = (uint32_t)le(in, 4);
        float f;
        memcpy(&f, &bits, 4);
        return f;
    }
    }
}

/* ---- 0: the model configuration from GGUF metadata --------------------- */

static const char *const archs[] = {"llama", "qwen2", "qwen3", "gemma3"};
static const char *const arch_keys[] = {"block_count",
                                        "embedding_length",
                                        "feed_forward_length",
                                        "context_length",
                                        "attention.head_count",
                                        "attention.head_count_kv",
                                        "attention.key_length",
                                        "attention.value_length",
                                        "attention.layer_norm_rms_epsilon",
                                        "rope.freq_base",
                                        "rope.scaling.factor",
                                        "attn_logit_softcapping",
                                        "final_logit_softcapping",
                                        "attention.sliding_window",
                                        "attention.scale"};
static const char *const other_keys[] = {"tokenizer.ggml.tokens", "tokenizer.ggml.bos_token_id",
                                         "tokenizer.ggml.eos_token_id"};
#define N_ARCH_KEYS (sizeof arch_keys / sizeof arch_keys[0])
#define N_KEYS (N_ARCH_KEYS + sizeof other_keys / sizeof other_keys[0])

/* Up to `most` bytes of the input as a GGUF string. */
static void string(gw *w, input *in, uint8_t most) {
    size_t n = u8(in) % most;
    if (n > in->n) n = in->n;
    gw_u64(w, n);
    gw_bytes(w, in->p, n);
    in->p += n, in->n -= n;
}

/* Bytes of a value of scalar `type`, by GGUF type number (0 for string and
 * array). */
static int width(uint32_t type) {
    static const uint8_t widths[13] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return widths[type];
}

/* One value of `type` (not an array): integers as counts, floats as reals,
 * 64-bit ones half the time from raw bits. */
static void scalar(gw *w, input *in, uint32_t type) {
    if (type == EI_GGUF_STRING) {
        string(w, in, 32);
    } else if (type == EI_GGUF_BOOL || width(type) == 1) {
        gw_u8(w, type == EI_GGUF_BOOL ? u8(in) & 1 : u8(in));
    } else if (type == EI_GGUF_FLOAT32) {
        float f = real(in);
        uint32_t bits;
        memcpy(&bits, &f, 4);
        gw_u32(w, bits);
    } else if (type == EI_GGUF_FLOAT64) {
        uint64_t bits;
        if (u8(in) & 1) {
            bits = le(in, 8);
        } else {
            double d = real(in);
            memcpy(&bits, &d, 8);
        }
        gw_u64(w, bits);
    } else if (width(type) == 8) {
        gw_u64(w, u8(in) & 1 ? le(in, 8) : count(in));
    } else if (width(type) == 2) {
        gw_u16(w, (uint16_t)count(in));
    } else {
        gw_u32(w, count(in));
    }
}

/* A value of a fuzzed type; an array (of any other type, strings included)
 * has up to 65535 elements, raw bytes or short strings. */
static void value(gw *w, input *in) {
    uint32_t type = u8(in) % 13;
    gw_u32(w, type);
    if (type != EI_GGUF_ARRAY) {
        scalar(w, in, type);
        return;
    }
    uint32_t element = u8(in) % 13;
    if (element == EI_GGUF_ARRAY) element = EI_GGUF_STRING;
    uint64_t n = u8(in) & 1 ? le(in, 2) : u8(in);
    gw_u32(w, element);
    gw_u64(w, n);
    for (uint64_t i = 0; i < n; i++) {
        if (element == EI_GGUF_STRING)
            string(w, in, 8);
        else if (element == EI_GGUF_BOOL)
            gw_u8(w, u8(in) & 1);
        else
            for (int b = 0; b < width(element); b++)
                gw_u8(w, u8(in));
    }
}

static int finite_at_least(float v, float least) { return isfinite(v) && v >= least; }
static int finite_positive(float v) { return isfinite(v) && v > 0; }

static void check_model_config(const ei_model_config *c) {
    CHECK((unsigned)c->arch <= EI_ARCH_GEMMA3);
    CHECK(c->n_layer >= 1 && c->n_layer <= 1024 && c->n_embd >= 1 && c->n_ff >= 1 && c->n_ctx_train >= 1);
    CHECK(c->n_head >= 1 && c->n_head_kv >= 1 && c->n_head % c->n_head_kv == 0);
    CHECK(c->head_dim >= 1 && c->head_dim <= 4096);
    CHECK(c->n_vocab >= 1 && c->bos_id < c->n_vocab && c->eos_id < c->n_vocab);
    CHECK(finite_at_least(c->rms_eps, 0) && finite_at_least(c->query_scale, 0));
    CHECK(finite_positive(c->rope_base) && finite_positive(c->rope_base_local) && finite_positive(c->rope_freq_scale));
    CHECK(finite_at_least(c->embed_scale, 1));
    CHECK(finite_at_least(c->attn_softcap, 0) && finite_at_least(c->final_softcap, 0));
    CHECK(c->arch == EI_ARCH_GEMMA3 ? c->sliding_window >= 1 && c->swa_pattern >= 1 : !c->sliding_window);
    for (uint32_t l = 0; l < c->n_layer; l++)
        CHECK(ei_model_layer_is_local(c, l) == (c->sliding_window && (l + 1) % c->swa_pattern != 0));
}

static void fuzz_model_config(input *in) {
    gw body = {0};
    uint64_t n_kv = 0;
    unsigned pick = u8(in) % 7;
    const char *prefix = pick < 4 ? archs[pick] : "llama";
    if (pick < 6) {
        gw_str(&body, "general.architecture");
        n_kv++;
        if (pick < 4) {
            gw_u32(&body, EI_GGUF_STRING);
            gw_str(&body, archs[pick]);
        } else if (pick == 4) { /* junk */
            gw_u32(&body, EI_GGUF_STRING);
            string(&body, in, 16);
        } else { /* of the wrong type */
            gw_u32(&body, EI_GGUF_UINT32);
            gw_u32(&body, u8(in));
        }
    }
    uint32_t used = 0;
    for (unsigned n = u8(in) % 24; n > 0; n--) {
        unsigned k = u8(in) % N_KEYS;
        if (used & (1u << k)) continue; /* the reader refuses a repeated key */
        used |= 1u << k;
        char key[96];
        if (k < N_ARCH_KEYS)
            snprintf(key, sizeof key, "%s.%s", prefix, arch_keys[k]);
        else
            snprintf(key, sizeof key, "%s", other_keys[k - N_ARCH_KEYS]);
        gw_str(&body, key);
        value(&body, in);
        n_kv++;
    }
    gw file = {0};
    gw_bytes(&file, "GGUF", 4);
    gw_u32(&file, 2 + (u8(in) & 1));
    gw_u64(&file, 0);
    gw_u64(&file, n_kv);
    if (body.size) gw_bytes(&file, body.data, body.size); /* memcpy from NULL is undefined, even of 0 bytes */
    gw_free(&body);

    ei_gguf *g = NULL;
    char error[256], again_error[256];
    /* The file is well formed: the reader must take it. */
    CHECK(ei_gguf_parse(file.data, file.size, &g, error, sizeof error) == EI_OK);
    ei_model_config c, again;
    ei_status st = ei_model_config_read(g, &c, error, sizeof error);
    CHECK(st == EI_OK || st == EI_ERROR_INVALID_ARGUMENT);
    if (st == EI_OK)
        check_model_config(&c);
    else
        CHECK(error[0] && memchr(error, '\0', sizeof error));
    /* Without a message buffer, and with one byte of it: the same answer. */
    CHECK(ei_model_config_read(g, &again, NULL, 0) == st);
    CHECK(st != EI_OK || !memcmp(&c, &again, sizeof c));
    CHECK(ei_model_config_read(g, &again, again_error, 1) == st && again_error[0] == '\0');
    ei_gguf_close(g);
    gw_free(&file);
}

/* ---- 1: the method's constants ---------------------------------------- */

static int power_of_two(uint32_t v) { return v && !(v & (v - 1)); }

static void fuzz_entropy_config(input *in) {
    ei_entropy_config c;
    uint8_t mode = u8(in);
    c.mode = (ei_prefill_mode)(mode < 240 ? mode % 5 : (int32_t)le(in, 4));
    c.segment_size = count(in);
    c.block_size = count(in);
    c.threshold_len = count(in);
    c.base_budget = count(in);
    c.e_t = real(in);
    c.delta_t = real(in);
    c.alpha = real(in);
    c.layer_skip = count(in);
    c.decode_budget = count(in);
    c.decode_gap = (int32_t)count(in);
    c.window = count(in);
    c.pool_kernel = count(in);
    c.layer_fusion = u8(in) % 3;
    ei_profile_desc d = {.len = count(in), .heads = 1, .kv_heads = 1, .dim = 64, .dtype = EI_F32};

    char error[256];
    ei_status st = ei_entropy_config_check(&c, error, sizeof error);
    CHECK(st == EI_OK || st == EI_ERROR_INVALID_ARGUMENT);
    CHECK(ei_entropy_config_check(&c, NULL, 0) == st);
    if (st != EI_OK) {
        CHECK(error[0] && memchr(error, '\0', sizeof error));
        return;
    }
    CHECK((unsigned)c.mode <= EI_PREFILL_FULL);
    CHECK(power_of_two(c.block_size) && c.segment_size && c.segment_size % c.block_size == 0);
    CHECK(c.base_budget && c.base_budget % c.block_size == 0);
    CHECK(finite_at_least(c.e_t, 0) && finite_at_least(c.delta_t, 0) && finite_at_least(c.alpha, 0));
    CHECK(c.window >= 1 && c.window < c.decode_budget && c.decode_gap >= -1);
    CHECK(c.pool_kernel % 2 == 1 && (c.layer_fusion == 0 || c.layer_fusion == 1));
    /* The counts derived from the prompt's length, in 64 bits. */
    ei_profile_shape s = ei_profile_shape_of(&d, &c);
    uint64_t nseg = ((uint64_t)d.len + c.segment_size - 1) / c.segment_size;
    uint64_t pool_len = nseg ? (nseg - 1) * c.segment_size : 0, nblk = pool_len / c.block_size;
    uint64_t most = 3ull * c.base_budget / c.block_size;
    CHECK(s.nseg == nseg && s.pool_len == pool_len && s.nblk == nblk && s.max_keep == (most < nblk ? most : nblk));
}

/* ---- 2: the sampler --------------------------------------------------- */

static void fuzz_sampler(input *in) {
    uint32_t n_vocab = 1 + (uint32_t)le(in, 2) % 512;
    /* One statement per field: the input is read in a fixed order. */
    ei_sampler_params p;
    p.temperature = real(in);
    p.top_k = count(in);
    p.top_p = real(in);
    p.min_p = real(in);
    p.repeat_penalty = real(in);
    p.repeat_last_n = (uint32_t)le(in, 2) % 1024; /* the ring is allocated up front */
    p.seed = le(in, 8);
    char error[256];
    ei_sampler *s = NULL, *twin = NULL;
    ei_status st = ei_sampler_create(&p, n_vocab, &s, error, sizeof error);
    /* The header's conditions, and nothing else, refuse. */
    int valid = isfinite(p.temperature) && p.temperature >= 0 && p.top_p >= 0 && p.top_p <= 1 && p.min_p >= 0 &&
                p.min_p <= 1 && isfinite(p.repeat_penalty) && p.repeat_penalty > 0;
    CHECK(st == (valid ? EI_OK : EI_ERROR_INVALID_ARGUMENT));
    if (st != EI_OK) {
        CHECK(!s && error[0]);
        return;
    }
    CHECK(ei_sampler_create(&p, n_vocab, &twin, NULL, 0) == EI_OK);
    for (unsigned n = u8(in) % 64; n > 0; n--) {
        uint32_t id = (uint32_t)le(in, 2) % (2 * n_vocab); /* half of them outside the vocabulary */
        ei_sampler_accept(s, id);
        ei_sampler_accept(twin, id);
    }
    unsigned rounds = 1 + u8(in) % 4;
    float *logits = malloc(n_vocab * sizeof *logits);
    CHECK(logits);
    int any_inf = 0;
    for (uint32_t i = 0; i < n_vocab; i++) {
        logits[i] = in->n ? real(in) : (float)(i * 7919u % 23) / 4.0f;
        any_inf |= logits[i] == INFINITY;
    }
    /* Without a penalty: greedy, or top-k 1, takes the largest logit that
     * is not NaN (lower id on ties; 0 when all are NaN); a +inf logit takes
     * all the probability. */
    uint32_t best = 0;
    for (uint32_t i = 1; i < n_vocab; i++)
        if (logits[i] > logits[best] || (isnan(logits[best]) && !isnan(logits[i]))) best = i;
    int argmax = p.repeat_penalty == 1.0f && (p.temperature == 0 || p.top_k == 1);
    int infinite = p.repeat_penalty == 1.0f && any_inf;
    for (unsigned r = 0; r < rounds; r++) {
        uint32_t id = ei_sampler_sample(s, logits);
        CHECK(id < n_vocab && ei_sampler_sample(twin, logits) == id);
        CHECK(!argmax || id == best);
        CHECK(!infinite || logits[id] == INFINITY);
        ei_sampler_accept(s, id);
        ei_sampler_accept(twin, id);
    }
    free(logits);
    ei_sampler_destroy(s);
    ei_sampler_destroy(twin);
}

/* ---- 3: vkinfer's command line ---------------------------------------- */

#define MAX_ARGS 16

static char *copy(const void *p, size_t n) {
    char *s = malloc(n + 1);
    CHECK(s);
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* argv: "vkinfer" and the input's pieces between NUL bytes, each in its own
 * allocation (so that a pointer kept from an earlier call is caught). */
static int make_argv(const uint8_t *data, size_t size, char **argv) {
    int argc = 0;
    argv[argc++] = copy("vkinfer", 7);
    for (size_t at = 0; size && at <= size && argc < MAX_ARGS + 1;) {
        const uint8_t *end = memchr(data + at, '\0', size - at);
        size_t n = end ? (size_t)(end - (data + at)) : size - at;
        argv[argc++] = copy(data + at, n);
        at += n + 1;
    }
    argv[argc] = NULL;
    return argc;
}

static void free_argv(char **argv) {
    for (int i = 0; argv[i]; i++)
        free(argv[i]);
}

static void check_args(const vk_args *a) {
    CHECK(!!a->prompt + !!a->prompt_file + !!a->ids == 1 && !(a->ids && a->chat));
    CHECK(a->n_predict >= -1 && a->n_predict <= 1 << 24 && a->n_ctx <= 1 << 24 && a->n_batch <= 1 << 16);
    CHECK(ei_entropy_config_check(&a->method, NULL, 0) == EI_OK);
    /* What the command line accepts, the sampler must take. */
    ei_sampler *s = NULL;
    CHECK(ei_sampler_create(&a->sampling, 1, &s, NULL, 0) == EI_OK);
    ei_sampler_destroy(s);
    CHECK(!strcmp(a->attn, "full") || !strcmp(a->attn, "entropy") || !strcmp(a->attn, "reference") ||
          !strcmp(a->attn, "critiprefill"));
    CHECK(!strcmp(a->kv, "full") || !strcmp(a->kv, "latent") || !strcmp(a->kv, "snapkv") || !strcmp(a->kv, "adakv"));
}

/* getopt keeps state between calls (a half-read cluster of short options,
 * where it permutes argv): after any command line, one with a known answer
 * must still get it. */
static void check_fresh(void) {
    char *argv[] = {copy("vkinfer", 7), copy("--prompt=x", 10), NULL};
    vk_args a;
    ei_sampler_params sampling = ei_sampler_params_default();
    ei_entropy_config method = ei_entropy_config_default();
    CHECK(vk_parse_args(2, argv, &a) == 0 && !strcmp(a.prompt, "x") && !a.model && a.n_predict == 128);
    CHECK(!memcmp(&a.sampling, &sampling, sizeof sampling) && !memcmp(&a.method, &method, sizeof method));
    free_argv(argv);
}

static void fuzz_args(const uint8_t *data, size_t size) {
    char *argv[MAX_ARGS + 2];
    vk_args first, a;
    int rc = vk_parse_args(make_argv(data, size, argv), argv, &first);
    CHECK(rc == 0 || rc == 1 || rc == -1);
    check_fresh(); /* with the first argv alive: state pointing into it would read it, not freed memory */
    free_argv(argv);
    /* Again on a fresh copy: the same answer. */
    CHECK(vk_parse_args(make_argv(data, size, argv), argv, &a) == rc);
    if (rc == 0) {
        check_args(&a);
        CHECK(!first.model == !a.model && !first.prompt == !a.prompt && !first.prompt_file == !a.prompt_file &&
              !first.ids == !a.ids && !first.device == !a.device && !first.dump_logits == !a.dump_logits);
        CHECK(first.n_predict == a.n_predict && first.n_ctx == a.n_ctx && first.n_batch == a.n_batch &&
              first.seed_given == a.seed_given && first.chat == a.chat && first.ignore_eos == a.ignore_eos &&
              first.validation == a.validation && first.json == a.json);
        CHECK(!memcmp(&first.sampling, &a.sampling, sizeof a.sampling) &&
              !memcmp(&first.method, &a.method, sizeof a.method));
    }
    free_argv(argv);
}

/* ---- libFuzzer's entry points ----------------------------------------- */

/* vk_parse_args prints its usage and its errors. -close_fd_mask=3 has
 * libFuzzer send the target's stdout and stderr to /dev/null while its own
 * output and the sanitizers' reports go to a copy of stderr (freopen here
 * would silence those too). It goes first, so a flag given on the command
 * line wins. */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    static char quiet[] = "-close_fd_mask=3";
    static char **with; /* libFuzzer keeps using it */
    with = malloc(((size_t)*argc + 2) * sizeof *with);
    CHECK(with && *argc >= 1);
    with[0] = (*argv)[0];
    with[1] = quiet;
    memcpy(with + 2, *argv + 1, (size_t)(*argc - 1) * sizeof *with);
    with[*argc + 1] = NULL;
    *argc += 1;
    *argv = with;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!size) return 0;
    input in = {data + 1, size - 1};
    switch (data[0] % 4) {
    case 0: fuzz_model_config(&in); break;
    case 1: fuzz_entropy_config(&in); break;
    case 2: fuzz_sampler(&in); break;
    default: fuzz_args(in.p, in.n); break;
    }
    return 0;
}
