/* A session's inside, shared by session.c (its memory and calls) and
 * forward.c (the layer graph it records). */
#ifndef EI_MODEL_SESSION_H
#define EI_MODEL_SESSION_H

#include "../ops/kvcache.h"
#include "weights.h"

/* Where each activation lives in the working buffer (byte offsets); shapes
 * for n_batch tokens, a call's or a piece's of a longer call. */
typedef struct activations {
    uint64_t x;      /* [B][E] the residual stream */
    uint64_t h;      /* [B][E] a normed copy */
    uint64_t q;      /* [B][H][D] */
    uint64_t k, v;   /* [B][Hkv][D] */
    uint64_t att;    /* [B][H][D] */
    uint64_t o;      /* [B][E] a sub-layer's output */
    uint64_t gate;   /* [B][F] */
    uint64_t up;     /* [B][F] */
    uint64_t decode; /* split-K decode attention's partial results */
    /* With 16-bit caches: q, k, v converted to the cache's type. */
    uint64_t q16, k16, v16;
    uint64_t bytes;
} activations;

struct ei_session {
    ei_model *model;
    ei_context *ctx;
    uint32_t n_ctx, n_batch, pos;
    ei_kv_cache **caches; /* one per layer */
    ei_buffer *work;
    activations a;
    /* What the host writes and reads each call, mapped (no staging, no extra
     * submission): ids [n_batch] u32, then the logits [n_vocab] f32. */
    ei_buffer *io;
    uint64_t io_logits;
    /* The methods: a sparse prompt (ei_prefill_layer) and KV compression. */
    int has_method, sparse;
    ei_entropy_config method;
    ei_kv_method kv;
    ei_dtype kv_dtype;
    uint32_t step;               /* forward calls so far: 0 is the prompt, then decode step j */
    int compressed;              /* a compression has run: one token per call from now on */
    ei_buffer *prefill_scratch;  /* grown to the prompt's largest ei_prefill_layout */
    ei_buffer *compress_scratch; /* ei_kv_compress_scratch of one cache */
    double gpu_ms;               /* the last forward's GPU time; -1 without timestamps */
    /* prefill_stats: after each profiled layer of the prompt, its entropy,
     * keep and rigid tensors, copied from prefill_scratch into a slot per
     * layer of a mapped buffer (prefill_stats.c). */
    int keep_stats;
    ei_buffer *stats;
    uint32_t stats_len; /* the prompt's tokens; 0: no prompt since creation or a reset */
};

/* Layer l's attention over n queries and kv_len keys (Gemma 3's local
 * layers: their sliding window). */
ei_attention_desc ei_layer_attention_desc(const ei_model_config *c, uint32_t layer, uint32_t n, uint32_t kv_len);
/* How the session's caches are compressed (its KV method, GQA by mean). */
ei_kv_compress_desc ei_session_compress_desc(const ei_session *s);
/* The tensors of a call's n tokens that the forward pass keeps whole, each
 * at the call's first token: ids [n] u32, the residual stream x [n][E] f32,
 * the queries [n][H][D] in the cache's type and the attention's output
 * [n][H][D] f32. A call of at most n_batch tokens has them in io and work;
 * a longer one in prompt-sized buffers of its own (session.c). */
typedef struct ei_call {
    uint32_t n;
    ei_tensor ids, x, q, att;
} ei_call;

/* Records the forward pass of a call at position s->pos, and the last
 * token's logits when want_logits. Up to n_batch tokens run token-major,
 * more layer-major: each layer takes its n_batch-token pieces through the
 * projections, attends once over the whole call, then takes the pieces
 * through the rest of the layer. */
ei_status ei_forward_record(ei_session *s, ei_cmd *cmd, const ei_call *call, int want_logits);
/* prefill_stats.c: sizes s->stats for a prompt of n tokens (before
 * recording it), and records the copy of layer l's profile after its
 * ei_prefill_layer. Both do nothing without keep_stats. */
ei_status ei_stats_prepare(ei_session *s, uint32_t n);
ei_status ei_stats_record(ei_session *s, ei_cmd *cmd, uint32_t layer, uint32_t n);

#endif
