/* The forward pass of the supported architectures (llama, qwen2, qwen3,
 * gemma3), read top to bottom like the models' definitions: embedding, per
 * layer an attention block and a feed-forward block, the final norm and the
 * logits of the last token, all recorded into one command buffer. */
#include "session.h"

ei_attention_desc ei_layer_attention_desc(const ei_model_config *c, uint32_t layer, uint32_t n, uint32_t kv_len) {
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

ei_kv_compress_desc ei_session_compress_desc(const ei_session *s) {
    const ei_model_config *c = &s->model->config;
    return (ei_kv_compress_desc){.method = s->kv, .gqa = EI_GQA_MEAN, .heads = c->n_head, .scale = c->query_scale};
}

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

/* KV compression of a layer's cache after its attention (algorithm.md
 * section 4): the prompt's queries are observed before a compression that
 * is due right after it (SnapKV, AdaKV); a decode step's query after it (at
 * latent's step N_d + 1 the step's own query does not score the cache). */
static ei_status compress(ei_session *s, const pass *p, ei_kv_cache *cache, ei_tensor q) {
    ei_kv_compress_desc cd = ei_session_compress_desc(s);
    ei_status st = s->step == 0 ? ei_kv_cache_observe(p->cmd, cache, p->n, q) : EI_OK;
    if (st == EI_OK && ei_kv_compress_due(&s->method, s->kv, s->step))
        st = ei_kv_compress(p->cmd, cache, &s->method, &cd, (ei_tensor){0}, s->compress_scratch);
    if (st == EI_OK && s->step > 0) st = ei_kv_cache_observe(p->cmd, cache, p->n, q);
    return st;
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
         (st =
              ei_add_bias(p->cmd, n, kvd, act(p, a->k), (ei_tensor){w[EI_W_K_BIAS].buffer, 0, EI_F32}, act(p, a->k))) ||
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
    if ((st = ei_rope(p->cmd, &r, act(p, a->k), f))) return st;
    /* Queries, keys and values in the cache's type. */
    ei_tensor q = act(p, a->q), k = act(p, a->k), v = act(p, a->v);
    if (s->kv_dtype != EI_F32) {
        ei_tensor q16 = {p->work, a->q16, s->kv_dtype}, k16 = {p->work, a->k16, s->kv_dtype},
                  v16 = {p->work, a->v16, s->kv_dtype};
        if ((st = ei_convert(p->cmd, (uint64_t)n * qd, q, q16)) ||
            (st = ei_convert(p->cmd, (uint64_t)n * kvd, k, k16)) ||
            (st = ei_convert(p->cmd, (uint64_t)n * kvd, v, v16)))
            return st;
        q = q16, k = k16, v = v16;
    }
    if ((st = ei_kv_cache_append(p->cmd, cache, n, k, v))) return st;
    ei_attention_desc d = ei_layer_attention_desc(c, l, n, s->pos + n);
    if (n == 1) {
        d.kv_len = ei_kv_cache_len(cache); /* its heads may be ragged after a compression */
        st = ei_kv_cache_attend(p->cmd, cache, &d, q, act(p, a->att), act(p, a->decode));
    } else if (s->sparse && !local) { /* the whole prompt (checked): the method's prefill */
        st = ei_prefill_layer(p->cmd, &d, &s->method, l, q, ei_kv_cache_keys(cache), ei_kv_cache_values(cache),
                              act(p, a->att), s->prefill_scratch);
        if (st == EI_OK) st = ei_stats_record(s, p->cmd, l, n);
    } else {
        st = ei_attention_prefill(p->cmd, &d, q, ei_kv_cache_keys(cache), ei_kv_cache_values(cache), act(p, a->att));
    }
    if (st == EI_OK && s->kv != EI_KV_FULL && !local) st = compress(s, p, cache, q);
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
    if ((st = norm(p, n, e, &w[EI_W_FFN_NORM], a->x, a->h)) ||
        (st = matmul(p, &w[EI_W_GATE], f, e, n, a->h, a->gate)) ||
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
    ei_tensor ids = {s->io, 0, EI_U32};
    ei_status st = ei_embed(p->cmd, p->n, c->n_embd, c->n_vocab, m->token_embd.type, c->embed_scale,
                            m->token_embd.buffer, 0, ids, act(p, a->x));
    for (uint32_t l = 0; st == EI_OK && l < c->n_layer; l++)
        if ((st = attention_block(s, p, l)) == EI_OK) st = ffn_block(s, p, l);
    if (st || !want_logits) return st;
    /* Only the last token's logits: the next token's distribution. */
    uint64_t last = a->x + (uint64_t)(p->n - 1) * c->n_embd * 4;
    if ((st = norm(p, 1, c->n_embd, &m->output_norm, last, a->h))) return st;
    const ei_weight *out = m->output.buffer ? &m->output : &m->token_embd;
    ei_matmul_desc d = {c->n_vocab, c->n_embd, 1, out->type};
    return ei_matmul(p->cmd, &d, out->buffer, 0, act(p, a->h), (ei_tensor){s->io, s->io_logits, EI_F32});
}

ei_status ei_forward_record(ei_session *s, ei_cmd *cmd, uint32_t n, int want_logits) {
    pass p = {cmd, &s->model->config, s->work, n};
    return record(s, &p, want_logits);
}
