/* EntropyInfer-VK: what a GGUF model is (vkinfer's model layer).
 *
 * The hyper-parameters of the supported architectures, read from GGUF
 * metadata with each family's defaults where a key is optional. */
#ifndef ENTROPYINFER_MODEL_H
#define ENTROPYINFER_MODEL_H

#include "entropyinfer_gguf.h"

EI_API_BEGIN

typedef enum ei_arch {
    EI_ARCH_LLAMA = 0, /* Llama 2/3 */
    EI_ARCH_QWEN2 = 1, /* QKV bias */
    EI_ARCH_QWEN3 = 2, /* QK-norm */
    EI_ARCH_GEMMA3 = 3 /* embedding scale, pre/post norms, QK-norm, local sliding-window layers, GeGLU */
} ei_arch;

typedef struct ei_model_config {
    ei_arch arch;
    uint32_t n_layer, n_embd, n_ff, n_vocab, n_ctx_train;
    uint32_t n_head, n_head_kv, head_dim;
    float rms_eps;
    float rope_base;                   /* global layers */
    float rope_base_local;             /* Gemma 3's sliding-window layers (10000); rope_base elsewhere */
    float rope_freq_scale;             /* 1 / linear scaling factor */
    int rope_neox;                     /* NeoX pairs (Qwen, Gemma) or normal pairs (Llama) */
    uint32_t sliding_window;           /* 0: none */
    uint32_t swa_pattern;              /* Gemma 3: layer l is global when (l + 1) % swa_pattern == 0; 0: all global */
    float query_scale;                 /* softmax scale: {arch}.attention.scale, else 1 / sqrt(head_dim) */
    float embed_scale;                 /* Gemma: sqrt(n_embd); others 1 */
    float attn_softcap, final_softcap; /* 0: none */
    int qkv_bias, qk_norm, post_norms;
    int gelu; /* GeGLU (tanh) feed-forward; else SwiGLU */
    uint32_t bos_id, eos_id;
} ei_model_config;

/* Reads the configuration; EI_ERROR_INVALID_ARGUMENT with the reason in
 * error for an unknown architecture, a missing or out-of-range key. */
ei_status ei_model_config_read(const ei_gguf *g, ei_model_config *out, char *error, size_t error_size);

/* Whether layer l is a sliding-window (local) layer. */
int ei_model_layer_is_local(const ei_model_config *c, uint32_t l);

EI_API_END

#endif
