/* Model configurations read from GGUF metadata: each architecture's keys
 * and defaults, Gemma 3's local layers, and the refusals (unknown
 * architecture, missing or out-of-range keys). */
#include <math.h>
#include <string.h>

#include "entropyinfer_model.h"
#include "util/gguf_writer.h"
#include "util/test_util.h"

/* A metadata-only file: the architecture, `n` uint32 keys, optional floats,
 * and a vocabulary of 10 tokens. */
typedef struct key_u32 {
    const char *key;
    uint32_t value;
} key_u32;

static gw make(const char *arch, const key_u32 *keys, int n, const char *float_key, float float_value) {
    gw w = {0};
    gw_bytes(&w, "GGUF", 4);
    gw_u32(&w, 3);
    gw_u64(&w, 0);
    gw_u64(&w, (uint64_t)n + 2 + (float_key != NULL));
    gw_str(&w, "general.architecture"), gw_u32(&w, 8), gw_str(&w, arch);
    for (int i = 0; i < n; i++)
        gw_str(&w, keys[i].key), gw_u32(&w, 4), gw_u32(&w, keys[i].value);
    if (float_key) {
        uint32_t bits;
        memcpy(&bits, &float_value, 4);
        gw_str(&w, float_key), gw_u32(&w, 6), gw_u32(&w, bits);
    }
    gw_str(&w, "tokenizer.ggml.tokens"), gw_u32(&w, 9), gw_u32(&w, 8), gw_u64(&w, 10);
    for (int i = 0; i < 10; i++)
        gw_str(&w, "t");
    return w;
}

static ei_status read_config(gw *w, ei_model_config *c, char *error, size_t n) {
    ei_gguf *g = NULL;
    ei_status st = ei_gguf_parse(w->data, w->size, &g, error, n);
    if (st == EI_OK) st = ei_model_config_read(g, c, error, n);
    ei_gguf_close(g);
    gw_free(w);
    return st;
}

int main(void) {
    char error[256];
    ei_model_config c;
    /* Gemma 3 270M's keys (as in the default model's file). */
    const key_u32 gemma[] = {{"gemma3.block_count", 18},
                             {"gemma3.embedding_length", 640},
                             {"gemma3.feed_forward_length", 2048},
                             {"gemma3.context_length", 32768},
                             {"gemma3.attention.head_count", 4},
                             {"gemma3.attention.head_count_kv", 1},
                             {"gemma3.attention.key_length", 256},
                             {"gemma3.attention.value_length", 256},
                             {"gemma3.attention.sliding_window", 512}};
    gw w = make("gemma3", gemma, 9, "gemma3.rope.freq_base", 1e6f);
    CHECK(read_config(&w, &c, error, sizeof error) == EI_OK, "gemma3: %s", error);
    CHECK(c.arch == EI_ARCH_GEMMA3 && c.n_layer == 18 && c.n_embd == 640 && c.n_head == 4 && c.n_head_kv == 1 &&
              c.head_dim == 256 && c.n_vocab == 10 && c.rope_base == 1e6f && c.rope_base_local == 10000.0f &&
              c.rope_neox && c.qk_norm && c.post_norms && c.gelu && !c.qkv_bias && c.sliding_window == 512,
          "gemma3 configuration");
    CHECK(fabsf(c.embed_scale - sqrtf(640.0f)) < 1e-6f && fabsf(c.query_scale - 1.0f / 16) < 1e-7f,
          "gemma3 scales: embedding %g, query %g", c.embed_scale, c.query_scale);
    int locals = 0;
    for (uint32_t l = 0; l < 18; l++)
        locals += ei_model_layer_is_local(&c, l);
    CHECK(locals == 15 && !ei_model_layer_is_local(&c, 5) && ei_model_layer_is_local(&c, 6),
          "gemma3: layers 5, 11, 17 global, the rest local (%d local)", locals);

    const key_u32 llama[] = {{"llama.block_count", 2},
                             {"llama.embedding_length", 256},
                             {"llama.feed_forward_length", 512},
                             {"llama.attention.head_count", 8},
                             {"llama.attention.head_count_kv", 2}};
    w = make("llama", llama, 5, "llama.rope.freq_base", 500000.0f);
    CHECK(read_config(&w, &c, error, sizeof error) == EI_OK, "llama: %s", error);
    CHECK(c.arch == EI_ARCH_LLAMA && c.head_dim == 32 && !c.rope_neox && c.rope_base == 500000.0f &&
              c.embed_scale == 1.0f && !c.qk_norm && !c.gelu && c.n_ctx_train == 4096 && c.rms_eps == 1e-5f &&
              !ei_model_layer_is_local(&c, 0),
          "llama configuration and defaults");
    const key_u32 qwen2[] = {{"qwen2.block_count", 2},
                             {"qwen2.embedding_length", 128},
                             {"qwen2.feed_forward_length", 256},
                             {"qwen2.attention.head_count", 4}};
    w = make("qwen2", qwen2, 4, NULL, 0);
    CHECK(read_config(&w, &c, error, sizeof error) == EI_OK && c.qkv_bias && c.rope_neox && c.n_head_kv == 4,
          "qwen2: %s", error);
    const key_u32 qwen3[] = {{"qwen3.block_count", 2},
                             {"qwen3.embedding_length", 128},
                             {"qwen3.feed_forward_length", 256},
                             {"qwen3.attention.head_count", 4},
                             {"qwen3.attention.key_length", 64}};
    w = make("qwen3", qwen3, 5, "qwen3.attention.layer_norm_rms_epsilon", 1e-6f);
    CHECK(read_config(&w, &c, error, sizeof error) == EI_OK && c.qk_norm && c.head_dim == 64 && c.rms_eps == 1e-6f,
          "qwen3: %s", error);

    w = make("mamba", llama, 5, NULL, 0);
    CHECK(read_config(&w, &c, error, sizeof error) == EI_ERROR_INVALID_ARGUMENT && strstr(error, "'mamba'"),
          "unknown architecture: %s", error);
    w = make("llama", llama + 1, 4, NULL, 0);
    CHECK(read_config(&w, &c, error, sizeof error) == EI_ERROR_INVALID_ARGUMENT && strstr(error, "block_count"),
          "missing block_count: %s", error);
    const key_u32 bad_heads[] = {{"llama.block_count", 2},
                                 {"llama.embedding_length", 256},
                                 {"llama.feed_forward_length", 512},
                                 {"llama.attention.head_count", 8},
                                 {"llama.attention.head_count_kv", 3}};
    w = make("llama", bad_heads, 5, NULL, 0);
    CHECK(read_config(&w, &c, error, sizeof error) == EI_ERROR_INVALID_ARGUMENT && strstr(error, "multiple"),
          "heads not a multiple of KV heads: %s", error);
    const key_u32 zero[] = {{"llama.block_count", 0}};
    w = make("llama", zero, 1, NULL, 0);
    CHECK(read_config(&w, &c, error, sizeof error) == EI_ERROR_INVALID_ARGUMENT && strstr(error, "1.."),
          "zero layers: %s", error);
    w = make("llama", llama, 5, "llama.rope.freq_base", -1.0f);
    CHECK(read_config(&w, &c, error, sizeof error) == EI_ERROR_INVALID_ARGUMENT && strstr(error, "freq_base"),
          "negative RoPE base: %s", error);
    return tu_tally();
}
