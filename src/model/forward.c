/* The forward pass of the supported architectures (llama, qwen2, qwen3,
 * gemma3), read top to bottom like the models' definitions: embedding, per
 * layer an attention block and a feed-forward block, the final norm and the
 * logits of the last token, all recorded into one command buffer.
 *
 * Every stage but the attention treats each token on its own, so it goes
 * over the call n_batch tokens (a piece) at a time in the working buffer;
 * the attention takes the whole call at once (the method's prefill needs
 * every segment's queries of a layer). A call of at most n_batch tokens is
 * one piece: token-major, each layer once. A longer one runs layer-major. */
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

/* The tensors a stage works on: n tokens of the call (a piece, or all of
 * it for the attention) from position pos0. ids, x, qc and att are their
 * rows of the call's tensors (ei_call); the rest lie in the working buffer,
 * which holds n_batch tokens. */
typedef struct pass {
    ei_cmd *cmd;
    const ei_model_config *c;
    uint32_t n, pos0;
    ei_tensor ids;        /* [n] u32 */
    ei_tensor x, h;       /* [n][E] the residual stream and a normed copy */
    ei_tensor q, k, v;    /* [n][H][D], [n][Hkv][D] f32 */
    ei_tensor qc, kc, vc; /* q, k, v in the cache's type (with f32 caches q, k, v themselves) */
    ei_tensor att;        /* [n][H][D] the attention's output */
    ei_tensor o;          /* [n][E] a sub-layer's output */
    ei_tensor gate, up;   /* [n][F] */
    ei_tensor decode;     /* split-K decode attention's partial results */
} pass;

/* Row `first` of t, whose rows have `width` elements. */
static ei_tensor row(ei_tensor t, uint32_t first, uint64_t width) {
    t.offset += first * width * ei_dtype_size(t.dtype);
    return t;
}

/* A tensor at `offset` of the working buffer. */
static ei_tensor work(const ei_session *s, uint64_t offset, ei_dtype dtype) {
    return (ei_tensor){s->work, offset, dtype};
}

/* The pass of the call's tokens [first, first + n). */
static pass pass_of(const ei_session *s, ei_cmd *cmd, const ei_call *call, uint32_t first, uint32_t n) {
    const ei_model_config *c = &s->model->config;
    const activations *a = &s->a;
    uint64_t qd = (uint64_t)c->n_head * c->head_dim;
    int f32 = s->kv_dtype == EI_F32;
    pass p = {.cmd = cmd,
              .c = c,
              .n = n,
              .pos0 = s->pos + first,
              .ids = row(call->ids, first, 1),
              .x = row(call->x, first, c->n_embd),
              .h = work(s, a->h, EI_F32),
              .k = work(s, a->k, EI_F32),
              .v = work(s, a->v, EI_F32),
              .qc = row(call->q, first, qd),
              .kc = work(s, f32 ? a->k : a->k16, s->kv_dtype),
              .vc = work(s, f32 ? a->v : a->v16, s->kv_dtype),
              .att = row(call->att, first, qd),
              .o = work(s, a->o, EI_F32),
              .gate = work(s, a->gate, EI_F32),
              .up = work(s, a->up, EI_F32),
              .decode = work(s, a->decode, EI_F32)};
    /* With f32 caches the projection writes the call's queries directly. */
    p.q = f32 ? p.qc : work(s, a->q, EI_F32);
    return p;
}

static ei_status matmul(const pass *p, const ei_weight *w, uint32_t rows, uint32_t cols, ei_tensor x, ei_tensor y) {
    ei_matmul_desc d = {rows, cols, p->n, w->type};
    return ei_matmul(p->cmd, &d, w->buffer, 0, x, y);
}

static ei_status norm(const pass *p, uint32_t rows, uint32_t dim, const ei_weight *w, ei_tensor x, ei_tensor out) {
    ei_tensor weight = {w->buffer, 0, EI_F32};
    return ei_rms_norm(p->cmd, rows, dim, p->c->rms_eps, x, &weight, out);
}

/* The residual connection: x += o. */
static ei_status residual(const pass *p) {
    return ei_elementwise(p->cmd, EI_ADD, (uint64_t)p->n * p->c->n_embd, p->x, p->o, p->x);
}

/* x = the ids' embedding rows (a stage before the layers: no layer). */
static ei_status embed(ei_session *s, const pass *p, uint32_t layer) {
    (void)layer;
    const ei_model *m = s->model;
    return ei_embed(p->cmd, p->n, p->c->n_embd, p->c->n_vocab, m->token_embd.type, p->c->embed_scale,
                    m->token_embd.buffer, 0, p->ids, p->x);
}

/* The attention block of layer l, x += post_norm(Wo . attend(rope(W h),
 * cache)) with h = norm(x), in three stages. The first, a piece at a time:
 * q, k, v in the cache's type; k and v appended to the cache. */
static ei_status attention_in(ei_session *s, const pass *p, uint32_t l) {
    const ei_model_config *c = p->c;
    const ei_weight *w = s->model->layers[l].w;
    uint32_t n = p->n, e = c->n_embd, hd = c->head_dim, qd = c->n_head * hd, kvd = c->n_head_kv * hd;
    ei_status st;
    if ((st = norm(p, n, e, &w[EI_W_ATTN_NORM], p->x, p->h)) || (st = matmul(p, &w[EI_W_Q], qd, e, p->h, p->q)) ||
        (st = matmul(p, &w[EI_W_K], kvd, e, p->h, p->k)) || (st = matmul(p, &w[EI_W_V], kvd, e, p->h, p->v)))
        return st;
    if (c->qkv_bias && ((st = ei_add_bias(p->cmd, n, qd, p->q, (ei_tensor){w[EI_W_Q_BIAS].buffer, 0, EI_F32}, p->q)) ||
                        (st = ei_add_bias(p->cmd, n, kvd, p->k, (ei_tensor){w[EI_W_K_BIAS].buffer, 0, EI_F32}, p->k)) ||
                        (st = ei_add_bias(p->cmd, n, kvd, p->v, (ei_tensor){w[EI_W_V_BIAS].buffer, 0, EI_F32}, p->v))))
        return st;
    if (c->qk_norm && ((st = norm(p, n * c->n_head, hd, &w[EI_W_Q_NORM], p->q, p->q)) ||
                       (st = norm(p, n * c->n_head_kv, hd, &w[EI_W_K_NORM], p->k, p->k))))
        return st;
    /* Gemma 3's local layers turn with their own base and no scaling. */
    int local = ei_model_layer_is_local(c, l);
    ei_rope_desc r = {.tokens = n,
                      .heads = c->n_head,
                      .dim = hd,
                      .rot = hd,
                      .pos0 = p->pos0,
                      .base = local ? c->rope_base_local : c->rope_base,
                      .freq_scale = local ? 1.0f : c->rope_freq_scale,
                      .neox = c->rope_neox};
    ei_tensor factors = {s->model->rope_freqs.buffer, 0, EI_F32};
    const ei_tensor *f = factors.buffer ? &factors : NULL;
    if ((st = ei_rope(p->cmd, &r, p->q, f))) return st;
    r.heads = c->n_head_kv;
    if ((st = ei_rope(p->cmd, &r, p->k, f))) return st;
    if (s->kv_dtype != EI_F32 && ((st = ei_convert(p->cmd, (uint64_t)n * qd, p->q, p->qc)) ||
                                  (st = ei_convert(p->cmd, (uint64_t)n * kvd, p->k, p->kc)) ||
                                  (st = ei_convert(p->cmd, (uint64_t)n * kvd, p->v, p->vc))))
        return st;
    return ei_kv_cache_append(p->cmd, s->caches[l], n, p->kc, p->vc);
}

/* KV compression of a layer's cache after its attention (algorithm.md
 * section 4): the prompt's queries are observed before a compression that
 * is due right after it (SnapKV, AdaKV); a decode step's query after it (at
 * latent's step N_d + 1 the step's own query does not score the cache). */
static ei_status compress(ei_session *s, const pass *p, ei_kv_cache *cache) {
    ei_kv_compress_desc cd = ei_session_compress_desc(s);
    ei_status st = s->step == 0 ? ei_kv_cache_observe(p->cmd, cache, p->n, p->qc) : EI_OK;
    if (st == EI_OK && ei_kv_compress_due(&s->method, s->kv, s->step))
        st = ei_kv_compress(p->cmd, cache, &s->method, &cd, (ei_tensor){0}, s->compress_scratch);
    if (st == EI_OK && s->step > 0) st = ei_kv_cache_observe(p->cmd, cache, p->n, p->qc);
    return st;
}

/* The attention's second stage, the whole call at once (it reads only qc,
 * att and decode): att = attend(qc, cache), then the cache's compression. */
static ei_status attend(ei_session *s, const pass *p, uint32_t l) {
    const ei_model_config *c = p->c;
    ei_kv_cache *cache = s->caches[l];
    int local = ei_model_layer_is_local(c, l);
    ei_attention_desc d = ei_layer_attention_desc(c, l, p->n, p->pos0 + p->n);
    ei_status st;
    if (p->n == 1) {
        d.kv_len = ei_kv_cache_len(cache); /* its heads may be ragged after a compression */
        st = ei_kv_cache_attend(p->cmd, cache, &d, p->qc, p->att, p->decode);
    } else if (s->sparse && !local) { /* the whole prompt (checked): the method's prefill */
        st = ei_prefill_layer(p->cmd, &d, &s->method, l, p->qc, ei_kv_cache_keys(cache), ei_kv_cache_values(cache),
                              p->att, s->prefill_scratch);
        if (st == EI_OK) st = ei_stats_record(s, p->cmd, l, p->n);
    } else {
        st = ei_attention_prefill(p->cmd, &d, p->qc, ei_kv_cache_keys(cache), ei_kv_cache_values(cache), p->att);
    }
    if (st == EI_OK && s->kv != EI_KV_FULL && !local) st = compress(s, p, cache);
    return st;
}

/* The attention's last stage, a piece at a time: x += post_norm(Wo att). */
static ei_status attention_out(ei_session *s, const pass *p, uint32_t l) {
    const ei_model_config *c = p->c;
    const ei_weight *w = s->model->layers[l].w;
    ei_status st = matmul(p, &w[EI_W_O], c->n_embd, c->n_head * c->head_dim, p->att, p->o);
    if (st == EI_OK && c->post_norms) st = norm(p, p->n, c->n_embd, &w[EI_W_POST_ATTN_NORM], p->o, p->o);
    return st ? st : residual(p);
}

/* Feed-forward block: x += post_norm(W_down . (act(W_gate h) * W_up h)). */
static ei_status ffn_block(ei_session *s, const pass *p, uint32_t l) {
    const ei_model_config *c = p->c;
    const ei_weight *w = s->model->layers[l].w;
    uint32_t n = p->n, e = c->n_embd, f = c->n_ff;
    ei_status st;
    if ((st = norm(p, n, e, &w[EI_W_FFN_NORM], p->x, p->h)) || (st = matmul(p, &w[EI_W_GATE], f, e, p->h, p->gate)) ||
        (st = matmul(p, &w[EI_W_UP], f, e, p->h, p->up)) ||
        (st = ei_elementwise(p->cmd, c->gelu ? EI_GEGLU_TANH : EI_SWIGLU, (uint64_t)n * f, p->gate, p->up, p->gate)) ||
        (st = matmul(p, &w[EI_W_DOWN], e, f, p->gate, p->o)))
        return st;
    if (c->post_norms && (st = norm(p, n, e, &w[EI_W_POST_FFN_NORM], p->o, p->o))) return st;
    return residual(p);
}

/* A stage of layer l for the pass's tokens. */
typedef ei_status (*stage)(ei_session *s, const pass *p, uint32_t l);

/* A stage of layer l over the call, n_batch tokens at a time. */
static ei_status pieces(ei_session *s, ei_cmd *cmd, const ei_call *call, uint32_t l, stage run) {
    ei_status st = EI_OK;
    for (uint32_t i = 0; st == EI_OK && i < call->n; i += s->n_batch) {
        pass p = pass_of(s, cmd, call, i, call->n - i < s->n_batch ? call->n - i : s->n_batch);
        st = run(s, &p, l);
    }
    return st;
}

/* Layer l over the call: its attention block, then its feed-forward block. */
static ei_status layer(ei_session *s, ei_cmd *cmd, const ei_call *call, uint32_t l) {
    pass all = pass_of(s, cmd, call, 0, call->n);
    ei_status st;
    if ((st = pieces(s, cmd, call, l, attention_in)) || (st = attend(s, &all, l)) ||
        (st = pieces(s, cmd, call, l, attention_out)))
        return st;
    return pieces(s, cmd, call, l, ffn_block);
}

ei_status ei_forward_record(ei_session *s, ei_cmd *cmd, const ei_call *call, int want_logits) {
    const ei_model_config *c = &s->model->config;
    const ei_model *m = s->model;
    ei_status st = pieces(s, cmd, call, 0, embed);
    for (uint32_t l = 0; st == EI_OK && l < c->n_layer; l++)
        st = layer(s, cmd, call, l);
    if (st || !want_logits) return st;
    /* Only the last token's logits: the next token's distribution. */
    pass last = pass_of(s, cmd, call, call->n - 1, 1);
    if ((st = norm(&last, 1, c->n_embd, &m->output_norm, last.x, last.h))) return st;
    const ei_weight *out = m->output.buffer ? &m->output : &m->token_embd;
    return matmul(&last, out, c->n_vocab, c->n_embd, last.h, (ei_tensor){s->io, s->io_logits, EI_F32});
}
