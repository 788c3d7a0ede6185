#include "tiny_model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "test_util.h"

typedef struct tensor_spec {
    char name[64];
    uint64_t cols, rows;
} tensor_spec;

static int tensors_of(const tiny *t, tensor_spec *out) {
    int n = 0, gemma = !strcmp(t->arch, "gemma3"), qwen2 = !strcmp(t->arch, "qwen2");
    uint64_t qd = (uint64_t)t->heads * t->head_dim, kvd = (uint64_t)t->kv_heads * t->head_dim;
#define ADD(nm, c, r) (snprintf(out[n].name, sizeof out[n].name, "%s", nm), out[n].cols = (c), out[n].rows = (r), n++)
    ADD("token_embd.weight", TINY_EMBD, TINY_VOCAB);
    ADD("output_norm.weight", TINY_EMBD, 1);
    for (uint32_t l = 0; l < t->layers; l++) {
        char b[64];
#define LAYER(suffix, c, r) (snprintf(b, sizeof b, "blk.%u." suffix, l), ADD(b, c, r))
        LAYER("attn_norm.weight", TINY_EMBD, 1);
        LAYER("attn_q.weight", TINY_EMBD, qd);
        LAYER("attn_k.weight", TINY_EMBD, kvd);
        LAYER("attn_v.weight", TINY_EMBD, kvd);
        LAYER("attn_output.weight", qd, TINY_EMBD);
        LAYER("ffn_norm.weight", TINY_EMBD, 1);
        LAYER("ffn_gate.weight", TINY_EMBD, TINY_FF);
        LAYER("ffn_up.weight", TINY_EMBD, TINY_FF);
        LAYER("ffn_down.weight", TINY_FF, TINY_EMBD);
        if (qwen2) LAYER("attn_q.bias", qd, 1), LAYER("attn_k.bias", kvd, 1), LAYER("attn_v.bias", kvd, 1);
        if (gemma) {
            LAYER("attn_q_norm.weight", t->head_dim, 1);
            LAYER("attn_k_norm.weight", t->head_dim, 1);
            LAYER("post_attention_norm.weight", TINY_EMBD, 1);
            LAYER("post_ffw_norm.weight", TINY_EMBD, 1);
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

gw tiny_model_write(const tiny *t) {
    static tensor_spec specs[512];
    int n = tensors_of(t, specs);
    gw w = {0};
    gw_bytes(&w, "GGUF", 4);
    gw_u32(&w, 3);
    gw_u64(&w, (uint64_t)n - (t->skip != NULL));
    gw_u64(&w, 9);
    gw_str(&w, "general.architecture"), gw_u32(&w, 8), gw_str(&w, t->arch);
    kv_u32(&w, t->arch, "block_count", t->layers);
    kv_u32(&w, t->arch, "embedding_length", TINY_EMBD);
    kv_u32(&w, t->arch, "feed_forward_length", TINY_FF);
    kv_u32(&w, t->arch, "attention.head_count", t->heads);
    kv_u32(&w, t->arch, "attention.head_count_kv", t->kv_heads);
    kv_u32(&w, t->arch, "attention.key_length", t->head_dim);
    kv_u32(&w, t->arch, "attention.sliding_window", 6); /* Gemma 3's local layers see 6 keys */
    gw_str(&w, "tokenizer.ggml.tokens"), gw_u32(&w, 9), gw_u32(&w, 8), gw_u64(&w, TINY_VOCAB);
    for (int i = 0; i < TINY_VOCAB; i++)
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
