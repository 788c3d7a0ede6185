/* Model hyper-parameters from GGUF metadata, per architecture (key names as
 * llama.cpp's converters write them; family defaults from each model's
 * published configuration). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "entropyinfer_model.h"

static const char *const arch_names[] = {"llama", "qwen2", "qwen3", "gemma3"};

typedef struct reader {
    const ei_gguf *g;
    const char *arch;
    char *error;
    size_t error_size;
    int failed;
} reader;

static int64_t find(const reader *r, const char *suffix) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", r->arch, suffix);
    return ei_gguf_find_key(r->g, key);
}

/* An unsigned key {arch}.suffix in [1, max]; `fallback` when absent (0:
 * required), held to the same range (a default derived from other keys,
 * such as n_embd / n_head, may be out of it). */
static uint32_t get_uint(reader *r, const char *suffix, uint32_t fallback, uint32_t max) {
    int64_t i = find(r, suffix);
    uint64_t v = fallback;
    if (i < 0 && !fallback) {
        if (!r->failed) snprintf(r->error, r->error_size, "model: %s.%s is missing", r->arch, suffix);
        r->failed = 1;
        return 0;
    }
    if ((i >= 0 && ei_gguf_get_uint(r->g, (uint64_t)i, &v) != EI_OK) || v == 0 || v > max) {
        if (!r->failed)
            snprintf(r->error, r->error_size, "model: %s.%s must be an integer in 1..%u%s", r->arch, suffix, max,
                     i < 0 ? " (it is absent, and its default is out of range)" : "");
        r->failed = 1;
        return 0;
    }
    return (uint32_t)v;
}

/* A float key {arch}.suffix, finite as a float (a float64 beyond FLT_MAX
 * is refused, not made an infinity) and >= 0, or > 0 where `positive`;
 * `fallback` when absent. */
static float get_float(reader *r, const char *suffix, float fallback, int positive) {
    int64_t i = find(r, suffix);
    double v = fallback;
    if (i >= 0 && (ei_gguf_get_float(r->g, (uint64_t)i, &v) != EI_OK || !(v >= 0 && v <= FLT_MAX) ||
                   (positive && !((float)v > 0)))) {
        if (!r->failed)
            snprintf(r->error, r->error_size, "model: %s.%s must be a finite float %s 0", r->arch, suffix,
                     positive ? ">" : ">=");
        r->failed = 1;
        return fallback;
    }
    return (float)v;
}

ei_status ei_model_config_read(const ei_gguf *g, ei_model_config *c, char *error, size_t error_size) {
    char scratch[8];
    if (!error || !error_size) error = scratch, error_size = sizeof scratch;
    error[0] = '\0';
    if (!g || !c) {
        snprintf(error, error_size, "model: NULL argument");
        return EI_ERROR_INVALID_ARGUMENT;
    }
    memset(c, 0, sizeof *c);
    const char *name = NULL;
    uint64_t len = 0;
    int64_t at = ei_gguf_find_key(g, "general.architecture");
    if (at < 0 || ei_gguf_get_string(g, (uint64_t)at, &name, &len) != EI_OK) {
        snprintf(error, error_size, "model: general.architecture is missing");
        return EI_ERROR_INVALID_ARGUMENT;
    }
    int arch = -1;
    for (int a = 0; a < 4; a++)
        if (len == strlen(arch_names[a]) && !memcmp(name, arch_names[a], len)) arch = a;
    if (arch < 0) {
        snprintf(error, error_size, "model: architecture '%.*s' is not supported (llama, qwen2, qwen3, gemma3)",
                 (int)(len < 40 ? len : 40), name);
        return EI_ERROR_INVALID_ARGUMENT;
    }
    reader r = {g, arch_names[arch], error, error_size, 0};
    c->arch = (ei_arch)arch;
    c->n_layer = get_uint(&r, "block_count", 0, 1024);
    c->n_embd = get_uint(&r, "embedding_length", 0, 1u << 20);
    c->n_ff = get_uint(&r, "feed_forward_length", 0, 1u << 22);
    c->n_ctx_train = get_uint(&r, "context_length", 4096, 1u << 24);
    c->n_head = get_uint(&r, "attention.head_count", 0, 4096);
    c->n_head_kv = get_uint(&r, "attention.head_count_kv", c->n_head ? c->n_head : 1, 4096);
    c->head_dim = get_uint(&r, "attention.key_length", c->n_head ? c->n_embd / c->n_head : 1, 4096);
    if (!r.failed && get_uint(&r, "attention.value_length", c->head_dim, 4096) != c->head_dim) {
        snprintf(error, error_size, "model: key and value head dims differ");
        return EI_ERROR_INVALID_ARGUMENT;
    }
    c->rms_eps = get_float(&r, "attention.layer_norm_rms_epsilon", 1e-5f, 0);
    c->rope_base = get_float(&r, "rope.freq_base", 10000.0f, 1);
    float factor = get_float(&r, "rope.scaling.factor", 1.0f, 0);
    c->rope_freq_scale = factor > 0 ? 1.0f / factor : 1.0f; /* 0: no scaling, as llama.cpp reads it */
    if (!isfinite(c->rope_freq_scale) && !r.failed) {
        snprintf(error, error_size, "model: %s.rope.scaling.factor %g is too small", r.arch, (double)factor);
        r.failed = 1;
    }
    c->attn_softcap = get_float(&r, "attn_logit_softcapping", 0.0f, 0);
    c->final_softcap = get_float(&r, "final_logit_softcapping", 0.0f, 0);
    c->rope_neox = c->arch != EI_ARCH_LLAMA;
    c->rope_base_local = c->rope_base;
    c->embed_scale = 1.0f;
    c->qkv_bias = c->arch == EI_ARCH_QWEN2;
    c->qk_norm = c->arch == EI_ARCH_QWEN3 || c->arch == EI_ARCH_GEMMA3;
    if (c->arch == EI_ARCH_GEMMA3) {
        /* Gemma 3: local layers use RoPE base 10000 and a sliding window; one
         * layer in six is global; embeddings scaled by sqrt(n_embd); GeGLU. */
        c->rope_base_local = 10000.0f;
        c->sliding_window = get_uint(&r, "attention.sliding_window", 0, 1u << 24);
        c->swa_pattern = 6;
        c->embed_scale = sqrtf((float)c->n_embd);
        c->post_norms = 1;
        c->gelu = 1;
    }
    if (r.failed) return EI_ERROR_INVALID_ARGUMENT;
    if (c->n_head % c->n_head_kv) {
        snprintf(error, error_size, "model: %u heads are not a multiple of %u KV heads", c->n_head, c->n_head_kv);
        return EI_ERROR_INVALID_ARGUMENT;
    }
    c->query_scale = get_float(&r, "attention.scale", 1.0f / sqrtf((float)c->head_dim), 0);
    ei_gguf_type t;
    uint64_t n = 0, v;
    at = ei_gguf_find_key(g, "tokenizer.ggml.tokens");
    if (at < 0 || ei_gguf_get_array(g, (uint64_t)at, &t, &n) != EI_OK || t != EI_GGUF_STRING || n == 0 ||
        n > UINT32_MAX) {
        snprintf(error, error_size, "model: tokenizer.ggml.tokens (the vocabulary) is missing");
        return EI_ERROR_INVALID_ARGUMENT;
    }
    c->n_vocab = (uint32_t)n;
    at = ei_gguf_find_key(g, "tokenizer.ggml.bos_token_id");
    c->bos_id = at >= 0 && ei_gguf_get_uint(g, (uint64_t)at, &v) == EI_OK && v < n ? (uint32_t)v : 0;
    at = ei_gguf_find_key(g, "tokenizer.ggml.eos_token_id");
    c->eos_id = at >= 0 && ei_gguf_get_uint(g, (uint64_t)at, &v) == EI_OK && v < n ? (uint32_t)v : 0;
    return r.failed ? EI_ERROR_INVALID_ARGUMENT : EI_OK;
}

int ei_model_layer_is_local(const ei_model_config *c, uint32_t l) {
    return c && c->sliding_window && c->swa_pattern && (l + 1) % c->swa_pattern != 0;
}
