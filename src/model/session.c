/* A sequence being generated: the KV caches, the working buffers, and the
 * forward pass of the supported architectures, recorded for n tokens at a
 * time in one command buffer. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../ops/kvcache.h"
#include "weights.h"

/* Where each activation lives in the working buffer (byte offsets); shapes
 * for n_batch tokens. */
typedef struct activations {
    uint64_t ids;    /* [B] u32 */
    uint64_t x;      /* [B][E] the residual stream */
    uint64_t h;      /* [B][E] a normed copy */
    uint64_t q;      /* [B][H][D] */
    uint64_t k, v;   /* [B][Hkv][D] */
    uint64_t att;    /* [B][H][D] */
    uint64_t o;      /* [B][E] a sub-layer's output */
    uint64_t gate;   /* [B][F] */
    uint64_t up;     /* [B][F] */
    uint64_t logits; /* [V] */
    uint64_t decode; /* split-K decode attention's partial results */
    uint64_t bytes;
} activations;

struct ei_session {
    ei_model *model;
    ei_context *ctx;
    uint32_t n_ctx, n_batch, pos;
    ei_kv_cache **caches; /* one per layer */
    ei_buffer *work;
    activations a;
};

static ei_attention_desc attention_desc(const ei_model_config *c, uint32_t layer, uint32_t n, uint32_t kv_len) {
    return (ei_attention_desc){.q_len = n,
                               .kv_len = kv_len,
                               .heads = c->n_head,
                               .kv_heads = c->n_head_kv,
                               .dim = c->head_dim,
                               .scale = c->query_scale,
                               .causal = 1,
                               .window = ei_model_layer_is_local(c, layer) ? c->sliding_window : 0,
                               .softcap = c->attn_softcap};
}

ei_status ei_session_create(ei_model *m, const ei_session_desc *desc, ei_session **out) {
    if (!m) return EI_ERROR_INVALID_ARGUMENT;
    ei_context *ctx = m->ctx;
    if (!out) return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_session_create: NULL argument");
    *out = NULL;
    const ei_model_config *c = &m->config;
    ei_session_desc d = desc ? *desc : (ei_session_desc){0};
    if (!d.n_ctx) d.n_ctx = c->n_ctx_train < 4096 ? c->n_ctx_train : 4096;
    if (!d.n_batch) d.n_batch = 512;
    if (d.n_batch > d.n_ctx) d.n_batch = d.n_ctx;
    if (d.n_ctx > c->n_ctx_train)
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "a context of %u tokens is longer than the model's %u", d.n_ctx,
                       c->n_ctx_train);
    ei_session *s = calloc(1, sizeof *s);
    if (s) s->caches = calloc(c->n_layer, sizeof *s->caches);
    if (!s || !s->caches) {
        free(s);
        return ei_fail(ctx, EI_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    }
    s->model = m;
    s->ctx = ctx;
    s->n_ctx = d.n_ctx;
    s->n_batch = d.n_batch;
    uint64_t b = d.n_batch, e = c->n_embd, qd = (uint64_t)c->n_head * c->head_dim,
             kvd = (uint64_t)c->n_head_kv * c->head_dim;
    activations *a = &s->a;
    uint64_t at = 0;
    a->ids = ei_scratch_place(&at, b * 4);
    a->x = ei_scratch_place(&at, b * e * 4);
    a->h = ei_scratch_place(&at, b * e * 4);
    a->q = ei_scratch_place(&at, b * qd * 4);
    a->k = ei_scratch_place(&at, b * kvd * 4);
    a->v = ei_scratch_place(&at, b * kvd * 4);
    a->att = ei_scratch_place(&at, b * qd * 4);
    a->o = ei_scratch_place(&at, b * e * 4);
    a->gate = ei_scratch_place(&at, b * c->n_ff * 4);
    a->up = ei_scratch_place(&at, b * c->n_ff * 4);
    a->logits = ei_scratch_place(&at, (uint64_t)c->n_vocab * 4);
    ei_attention_desc one = attention_desc(c, 0, 1, d.n_ctx);
    a->decode = ei_scratch_place(&at, ei_attention_decode_scratch(ctx, &one));
    a->bytes = at;
    ei_status st = ei_buffer_create(ctx, a->bytes, &s->work);
    ei_kv_cache_desc kd = {.capacity = d.n_ctx, .kv_heads = c->n_head_kv, .dim = c->head_dim, .dtype = EI_F32, .expand = 1};
    for (uint32_t l = 0; st == EI_OK && l < c->n_layer; l++)
        st = ei_kv_cache_create(ctx, &kd, &s->caches[l]);
    if (st != EI_OK) {
        ei_session_destroy(s);
        return st;
    }
    *out = s;
    return EI_OK;
}

void ei_session_destroy(ei_session *s) {
    if (!s) return;
    for (uint32_t l = 0; s->caches && l < s->model->config.n_layer; l++)
        ei_kv_cache_destroy(s->caches[l]);
    free(s->caches);
    ei_buffer_destroy(s->work);
    free(s);
}

uint32_t ei_session_pos(const ei_session *s) { return s ? s->pos : 0; }
uint32_t ei_session_n_ctx(const ei_session *s) { return s ? s->n_ctx : 0; }
uint32_t ei_session_n_batch(const ei_session *s) { return s ? s->n_batch : 0; }
uint64_t ei_session_scratch_bytes(const ei_session *s) { return s ? s->a.bytes : 0; }

uint64_t ei_session_kv_bytes(const ei_session *s) {
    if (!s) return 0;
    const ei_model_config *c = &s->model->config;
    return 2ull * c->n_layer * s->n_ctx * c->n_head_kv * c->head_dim * 4;
}

/* ---- The forward pass -------------------------------------------------- */

typedef struct pass {
    ei_cmd *cmd;
    const ei_model_config *c;
    ei_buffer *work;
    uint32_t n; /* tokens */
} pass;

static ei_tensor act(const pass *p, uint64_t offset) { return (ei_tensor){p->work, offset, EI_F32}; }

static ei_status matmul(const pass *p, const ei_weight *w, uint32_t rows, uint32_t cols, uint32_t tokens, uint64_t x,
                        uint64_t y) {
    ei_matmul_desc d = {rows, cols, tokens, w->type};
    return ei_matmul(p->cmd, &d, w->buffer, 0, act(p, x), act(p, y));
}

static ei_status norm(const pass *p, uint32_t rows, uint32_t dim, const ei_weight *w, uint64_t x, uint64_t out) {
    ei_tensor weight = {w->buffer, 0, EI_F32};
    return ei_rms_norm(p->cmd, rows, dim, p->c->rms_eps, act(p, x), &weight, act(p, out));
}

static ei_status add(const pass *p, uint64_t n, uint64_t a, uint64_t b) {
    return ei_elementwise(p->cmd, EI_ADD, n, act(p, a), act(p, b), act(p, a));
}

/* Attention block of layer l: x += post_norm(Wo . attend(rope(norm(Wq h)), ...)). */
static ei_status attention_block(ei_session *s, const pass *p, uint32_t l) {
    const ei_model_config *c = p->c;
    const ei_weight *w = s->model->layers[l].w;
    const activations *a = &s->a;
    uint32_t n = p->n, e = c->n_embd, hd = c->head_dim, qd = c->n_head * hd, kvd = c->n_head_kv * hd;
    ei_status st;
    if ((st = norm(p, n, e, &w[EI_W_ATTN_NORM], a->x, a->h)) || (st = matmul(p, &w[EI_W_Q], qd, e, n, a->h, a->q)) ||
        (st = matmul(p, &w[EI_W_K], kvd, e, n, a->h, a->k)) || (st = matmul(p, &w[EI_W_V], kvd, e, n, a->h, a->v)))
        return st;
    if (c->qkv_bias &&
        ((st = ei_add_bias(p->cmd, n, qd, act(p, a->q), (ei_tensor){w[EI_W_Q_BIAS].buffer, 0, EI_F32}, act(p, a->q))) ||
         (st = ei_add_bias(p->cmd, n, kvd, act(p, a->k), (ei_tensor){w[EI_W_K_BIAS].buffer, 0, EI_F32}, act(p, a->k))) ||
         (st = ei_add_bias(p->cmd, n, kvd, act(p, a->v), (ei_tensor){w[EI_W_V_BIAS].buffer, 0, EI_F32}, act(p, a->v)))))
        return st;
    if (c->qk_norm && ((st = norm(p, n * c->n_head, hd, &w[EI_W_Q_NORM], a->q, a->q)) ||
                       (st = norm(p, n * c->n_head_kv, hd, &w[EI_W_K_NORM], a->k, a->k))))
        return st;
    /* Gemma 3's local layers turn with their own base and no scaling. */
    int local = ei_model_layer_is_local(c, l);
    ei_rope_desc r = {.tokens = n,
                      .heads = c->n_head,
                      .dim = hd,
                      .rot = hd,
                      .pos0 = s->pos,
                      .base = local ? c->rope_base_local : c->rope_base,
                      .freq_scale = local ? 1.0f : c->rope_freq_scale,
                      .neox = c->rope_neox};
    ei_tensor factors = {s->model->rope_freqs.buffer, 0, EI_F32};
    const ei_tensor *f = factors.buffer ? &factors : NULL;
    if ((st = ei_rope(p->cmd, &r, act(p, a->q), f))) return st;
    r.heads = c->n_head_kv;
    ei_kv_cache *cache = s->caches[l];
    if ((st = ei_rope(p->cmd, &r, act(p, a->k), f)) ||
        (st = ei_kv_cache_append(p->cmd, cache, n, act(p, a->k), act(p, a->v))))
        return st;
    ei_attention_desc d = attention_desc(c, l, n, s->pos + n);
    if (n == 1)
        st = ei_kv_cache_attend(p->cmd, cache, &d, act(p, a->q), act(p, a->att), act(p, a->decode));
    else
        st = ei_attention_prefill(p->cmd, &d, act(p, a->q), ei_kv_cache_keys(cache), ei_kv_cache_values(cache),
                                  act(p, a->att));
    if (st || (st = matmul(p, &w[EI_W_O], e, qd, n, a->att, a->o))) return st;
    if (c->post_norms && (st = norm(p, n, e, &w[EI_W_POST_ATTN_NORM], a->o, a->o))) return st;
    return add(p, (uint64_t)n * e, a->x, a->o);
}

/* Feed-forward block: x += post_norm(W_down . (act(W_gate h) * W_up h)). */
static ei_status ffn_block(ei_session *s, const pass *p, uint32_t l) {
    const ei_model_config *c = p->c;
    const ei_weight *w = s->model->layers[l].w;
    const activations *a = &s->a;
    uint32_t n = p->n, e = c->n_embd, f = c->n_ff;
    ei_status st;
    if ((st = norm(p, n, e, &w[EI_W_FFN_NORM], a->x, a->h)) || (st = matmul(p, &w[EI_W_GATE], f, e, n, a->h, a->gate)) ||
        (st = matmul(p, &w[EI_W_UP], f, e, n, a->h, a->up)) ||
        (st = ei_elementwise(p->cmd, c->gelu ? EI_GEGLU_TANH : EI_SWIGLU, (uint64_t)n * f, act(p, a->gate),
                             act(p, a->up), act(p, a->gate))) ||
        (st = matmul(p, &w[EI_W_DOWN], e, f, n, a->gate, a->o)))
        return st;
    if (c->post_norms && (st = norm(p, n, e, &w[EI_W_POST_FFN_NORM], a->o, a->o))) return st;
    return add(p, (uint64_t)n * e, a->x, a->o);
}

static ei_status record(ei_session *s, const pass *p, int want_logits) {
    const ei_model_config *c = p->c;
    const ei_model *m = s->model;
    const activations *a = &s->a;
    ei_tensor ids = {p->work, a->ids, EI_U32};
    ei_status st = ei_embed(p->cmd, p->n, c->n_embd, c->n_vocab, m->token_embd.type, c->embed_scale,
                            m->token_embd.buffer, 0, ids, act(p, a->x));
    for (uint32_t l = 0; st == EI_OK && l < c->n_layer; l++)
        if ((st = attention_block(s, p, l)) == EI_OK) st = ffn_block(s, p, l);
    if (st || !want_logits) return st;
    /* Only the last token's logits: the next token's distribution. */
    uint64_t last = a->x + (uint64_t)(p->n - 1) * c->n_embd * 4;
    if ((st = norm(p, 1, c->n_embd, &m->output_norm, last, a->h))) return st;
    const ei_weight *out = m->output.buffer ? &m->output : &m->token_embd;
    return matmul(p, out, c->n_vocab, c->n_embd, 1, a->h, a->logits);
}

ei_status ei_session_forward(ei_session *s, const uint32_t *ids, uint32_t n, float *logits) {
    if (!s) return EI_ERROR_INVALID_ARGUMENT;
    ei_context *ctx = s->ctx;
    const ei_model_config *c = &s->model->config;
    if (!ids || n == 0 || n > s->n_batch)
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_session_forward: 1..%u tokens at a time, not %u",
                       s->n_batch, n);
    if (n > s->n_ctx - s->pos)
        return ei_fail(ctx, EI_ERROR_LIMIT_EXCEEDED, "the context is full: %u tokens + %u more exceed %u", s->pos, n,
                       s->n_ctx);
    for (uint32_t i = 0; i < n; i++)
        if (ids[i] >= c->n_vocab)
            return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "token id %u is outside the vocabulary of %u", ids[i],
                           c->n_vocab);
    ei_status st = ei_buffer_upload(s->work, s->a.ids, ids, (uint64_t)n * 4);
    ei_cmd *cmd = NULL;
    if (st == EI_OK) st = ei_cmd_begin(ctx, &cmd);
    uint32_t *lens = NULL; /* the caches' host lengths, to restore after a failed recording */
    if (st == EI_OK) {
        lens = malloc(c->n_layer * sizeof *lens);
        if (!lens) st = ei_fail(ctx, EI_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
        for (uint32_t l = 0; lens && l < c->n_layer; l++)
            lens[l] = ei_kv_cache_len(s->caches[l]);
    }
    pass p = {cmd, c, s->work, n};
    if (st == EI_OK) st = record(s, &p, logits != NULL);
    if (st == EI_OK) st = ei_cmd_run(cmd);
    ei_cmd_destroy(cmd);
    if (st == EI_OK) {
        s->pos += n;
        if (logits) st = ei_buffer_download(s->work, s->a.logits, logits, (uint64_t)c->n_vocab * 4);
        if (st == EI_OK && c->final_softcap > 0)
            for (uint32_t i = 0; i < c->n_vocab; i++)
                logits[i] = c->final_softcap * tanhf(logits[i] / c->final_softcap);
    } else if (lens) {
        for (uint32_t l = 0; l < c->n_layer; l++)
            s->caches[l]->len = lens[l]; /* nothing ran: the GPU's lengths are unchanged */
    }
    free(lens);
    return st;
}

ei_status ei_session_reset(ei_session *s) {
    if (!s) return EI_ERROR_INVALID_ARGUMENT;
    ei_status st = EI_OK;
    for (uint32_t l = 0; st == EI_OK && l < s->model->config.n_layer; l++)
        st = ei_kv_cache_clear(s->caches[l]);
    if (st == EI_OK) s->pos = 0;
    return st;
}
