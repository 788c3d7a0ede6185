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

/* ---- Weights on the device -------------------------------------------- */

typedef struct ei_model ei_model;

/* Reads the configuration and copies every weight the architecture uses to
 * the context's device in its file type (no f32 copy). g may be closed
 * afterwards. Fails with the reason in ei_context_error(ctx): an unknown
 * architecture or missing key (EI_ERROR_INVALID_ARGUMENT), a missing tensor
 * or one of the wrong shape or an unsupported type (EI_ERROR_INVALID_ARGUMENT
 * or EI_ERROR_FEATURE_NOT_PRESENT), device memory (EI_ERROR_OUT_OF_DEVICE_MEMORY). */
ei_status ei_model_load(ei_context *ctx, const ei_gguf *g, ei_model **out);
void ei_model_destroy(ei_model *m);
const ei_model_config *ei_model_config_of(const ei_model *m);
/* Bytes of weights on the device. */
uint64_t ei_model_weight_bytes(const ei_model *m);

/* ---- A sequence being generated: KV caches and working memory ---------- */

typedef struct ei_session ei_session;

typedef struct ei_session_desc {
    uint32_t n_ctx; /* tokens the KV caches hold (prompt + generated); 0: min(4096, trained context) */
    /* Tokens the working buffers hold: a call of up to n_batch tokens goes
     * through the model in one pass, a longer one layer by layer, n_batch
     * tokens at a time inside each layer (ei_session_forward); 0: 512. */
    uint32_t n_batch;
    /* The methods (algorithm.md). NULL: dense prefill and a full cache.
     * Otherwise its mode picks the prompt's attention: in every layer
     * without a sliding window, the first ei_session_forward call (the
     * whole prompt in one call, of any length: n_batch need not hold it)
     * runs ei_prefill_layer; and its decode constants serve `kv`. */
    const ei_entropy_config *method;
    /* KV-cache compression of the layers without a sliding window (ignored
     * without `method`): SnapKV and AdaKV right after the prompt, latent at
     * decode step N_d + 1, scored per KV head by the mean over its query
     * heads. Once a cache is compressed, tokens go one per call. */
    ei_kv_method kv;
    /* Element type of the KV caches and of the queries that attend to them:
     * EI_F32 (0, the default), EI_F16 (half the cache; on devices with
     * cooperative matrices the prefill runs on them) or EI_BF16. */
    ei_dtype kv_dtype;
    /* Keep each layer's prefill profile of the prompt for
     * ei_session_prefill_stats (a copy per layer on the GPU of a few bytes
     * per KV head and segment). */
    int prefill_stats;
} ei_session_desc;

ei_status ei_session_create(ei_model *m, const ei_session_desc *desc, ei_session **out);
void ei_session_destroy(ei_session *s);
/* Tokens in the KV caches so far (the next token's position). */
uint32_t ei_session_pos(const ei_session *s);
uint32_t ei_session_n_ctx(const ei_session *s);
uint32_t ei_session_n_batch(const ei_session *s);
/* Rows the cache of `layer` holds now (the most of any head): the position
 * until a compression, the budget after it. */
uint32_t ei_session_cache_len(const ei_session *s, uint32_t layer);
/* Bytes of the KV caches, and of the working buffers the session holds
 * between calls (activations of n_batch tokens, ids and logits, the
 * methods' scratch for the longest prompt so far). A call of n > n_batch
 * tokens holds n * (4 + 4 * n_embd + n_head * head_dim * (4 + the cache
 * type's size)) bytes more while it runs. */
uint64_t ei_session_kv_bytes(const ei_session *s);
uint64_t ei_session_scratch_bytes(const ei_session *s);

/* Runs n tokens at the next positions through every layer in one
 * recording, appending their keys and values to the caches, and writes the
 * last token's n_vocab logits to `logits` (may be NULL: a prompt chunk that
 * is not the last). Up to n_batch tokens go through the model in one pass.
 * A longer call runs layer by layer: in each layer its tokens go n_batch at
 * a time through the projections and the feed-forward block, and all at
 * once through the attention; for the call only it takes prompt-sized
 * buffers, one allocation each, for the ids, the residual stream x
 * [n][n_embd] f32, the queries [n][n_head][head_dim] in the cache's type
 * and the attention's output (f32, as large). With a method the prompt
 * comes in one call, then one token per call. A failed call leaves the
 * session as it was: EI_ERROR_LIMIT_EXCEEDED when the tokens would pass
 * n_ctx; EI_ERROR_OUT_OF_DEVICE_MEMORY when a long call's buffers do not
 * fit; EI_ERROR_INVALID_ARGUMENT for no tokens, an id outside the
 * vocabulary, or several tokens where the method takes one (a prompt in
 * chunks under a method, or after a compression). */
ei_status ei_session_forward(ei_session *s, const uint32_t *ids, uint32_t n, float *logits);

/* GPU milliseconds of the last ei_session_forward (timestamps around its
 * recording), -1 where the device has no timestamps: with the call's wall
 * time, how much of a token is the host's. */
double ei_session_gpu_ms(const ei_session *s);

/* What the method's prefill (algorithm.md sections 1-2) found in one layer
 * of the prompt: the arrays are the caller's, of kv_heads * nseg entries
 * ([kv_heads][nseg]; rigid: kv_heads), or NULL when not wanted. */
typedef struct ei_prefill_stats {
    /* 0: the layer ran dense without a profile (a sliding-window layer, one
     * below layer_skip, no sparse prefill mode, or a prompt too short for a
     * segment to be sparse); nseg is then 0 and nothing is written. */
    int profiled;
    uint32_t kv_heads; /* Hkv */
    uint32_t nseg;     /* the prompt's segments, ceil(L / S) */
    float *entropy;    /* E of each (KV head, segment); segment 0 sees nothing (uniform) */
    uint32_t *keep;    /* blocks of b keys each (KV head, segment) selects; 0 for segment 0 */
    uint32_t *rigid;   /* 1 for a rigid head (E < e_t in every segment from 1 on), else 0 */
} ei_prefill_stats;

/* Fills `out` for `layer` from the session's prompt, the first
 * ei_session_forward call since creation or a reset (profiles stay until
 * the next reset). EI_ERROR_INVALID_ARGUMENT for a layer out of range, a
 * session created without prefill_stats, or no prompt yet. */
ei_status ei_session_prefill_stats(const ei_session *s, uint32_t layer, ei_prefill_stats *out);

/* Empties the caches (a new sequence); waits for the GPU. */
ei_status ei_session_reset(ei_session *s);

/* ---- Sampling --------------------------------------------------------- */

/* llama.cpp's order: repetition penalty, top-k, top-p, min-p, temperature,
 * then a draw. temperature <= 0 is greedy (the largest logit after the
 * penalty; ties: the lower id). */
typedef struct ei_sampler_params {
    float temperature;      /* 0.8 */
    uint32_t top_k;         /* 40; 0: off */
    float top_p;            /* 0.95; 1: off */
    float min_p;            /* 0.05; 0: off */
    float repeat_penalty;   /* 1 (off): logits of recent tokens divided (positive) or multiplied (negative) by it */
    uint32_t repeat_last_n; /* 64: how many recent tokens the penalty looks at */
    uint64_t seed;          /* the same seed, logits and params give the same tokens */
} ei_sampler_params;

ei_sampler_params ei_sampler_params_default(void);

typedef struct ei_sampler ei_sampler;

/* EI_ERROR_INVALID_ARGUMENT (reason in error) for a negative or non-finite
 * value, top_p or min_p outside [0, 1], a penalty <= 0. */
ei_status ei_sampler_create(const ei_sampler_params *params, uint32_t n_vocab, ei_sampler **out, char *error,
                            size_t error_size);
void ei_sampler_destroy(ei_sampler *s);
/* Records a token of the sequence (prompt or generated) for the penalty. */
void ei_sampler_accept(ei_sampler *s, uint32_t id);
/* Picks the next token from n_vocab logits (not modified). */
uint32_t ei_sampler_sample(ei_sampler *s, const float *logits);

EI_API_END

#endif
