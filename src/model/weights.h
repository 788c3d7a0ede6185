/* What a model has learned: its weights on the device (private to src/model). */
#ifndef EI_MODEL_WEIGHTS_H
#define EI_MODEL_WEIGHTS_H

#include "entropyinfer_model.h"

typedef struct ei_weight {
    ei_buffer *buffer; /* NULL: absent (an optional tensor) */
    uint32_t type;     /* ei_ggml_type */
    uint64_t bytes;
} ei_weight;

/* A layer's tensors, named as in GGUF files (blk.N.<name>.weight). */
typedef enum ei_layer_tensor {
    EI_W_ATTN_NORM,
    EI_W_Q,
    EI_W_K,
    EI_W_V,
    EI_W_O,
    EI_W_Q_BIAS, /* Qwen2 */
    EI_W_K_BIAS,
    EI_W_V_BIAS,
    EI_W_Q_NORM, /* Qwen3, Gemma 3 */
    EI_W_K_NORM,
    EI_W_POST_ATTN_NORM, /* Gemma 3 */
    EI_W_FFN_NORM,
    EI_W_GATE,
    EI_W_UP,
    EI_W_DOWN,
    EI_W_POST_FFN_NORM, /* Gemma 3 */
    EI_W_LAYER_COUNT
} ei_layer_tensor;

typedef struct ei_layer_weights {
    ei_weight w[EI_W_LAYER_COUNT];
} ei_layer_weights;

struct ei_model {
    ei_context *ctx;
    ei_model_config config;
    ei_weight token_embd, output_norm;
    ei_weight output;     /* absent: tied to token_embd */
    ei_weight rope_freqs; /* Llama 3's per-frequency divisors; absent elsewhere */
    ei_layer_weights *layers;
};

#endif
