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
    uint64_t x;      /* [B][E] the residual stream */
    uint64_t h;      /* [B][E] a normed copy */
    uint64_t q;      /* [B][H][D] */
    uint64_t k, v;   /* [B][Hkv][D] */
    uint64_t att;    /* [B][H][D] */
    uint64_t o;      /* [B][E] a sub-layer's output */
    uint64_t gate;   /* [B][F] */
    uint64_t up;     /* [B][F] */
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
    /* What the host writes and reads each call, mapped (no staging, no extra
     * submission): ids [n_batch] u32, then the logits [n_vocab] f32. */
    ei_buffer *io;
    uint64_t io_logits;
    /* The methods: a sparse prompt (ei_prefill_layer) and KV compression. */
    int has_method, sparse;
    ei_entropy_config method;
    ei_kv_method kv;
    uint32_t step;               /* forward calls so far: 0 is the prompt, then decode step j */
    int compressed;              /* a compression has run: one token per call from now on */
    ei_buffer *prefill_scratch;  /* grown to the prompt's largest ei_prefill_layout */
    ei_buffer *compress_scratch; /* ei_kv_compress_scratch of one cache */
    double gpu_ms;               /* the last forward's GPU time; -1 without timestamps */
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

static ei_kv_compress_desc compress_desc(const ei_session *s) {
    const ei_model_config *c = &s->model->config;
    return (ei_kv_compress_desc){.method = s->kv, .gqa = EI_GQA_MEAN, .heads = c->n_head, .scale = c->query_scale};
}

static ei_status set_method(ei_session *s, const ei_session_desc *d) {
    char error[256];
    if (ei_entropy_config_check(d->method, error, sizeof error) != EI_OK)
        return ei_fail(s->ctx, EI_ERROR_INVALID_ARGUMENT, "%s", error);
    if ((unsigned)d->kv > EI_KV_ADAKV)
        return ei_fail(s->ctx, EI_ERROR_INVALID_ARGUMENT, "unknown KV method %d", (int)d->kv);
    s->has_method = 1;
    s->method = *d->method;
    s->sparse = s->method.mode != EI_PREFILL_FULL;
    s->kv = d->kv;
    return EI_OK;
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
    a->x = ei_scratch_place(&at, b * e * 4);
    a->h = ei_scratch_place(&at, b * e * 4);
    a->q = ei_scratch_place(&at, b * qd * 4);
    a->k = ei_scratch_place(&at, b * kvd * 4);
    a->v = ei_scratch_place(&at, b * kvd * 4);
    a->att = ei_scratch_place(&at, b * qd * 4);
    a->o = ei_scratch_place(&at, b * e * 4);
    a->gate = ei_scratch_place(&at, b * c->n_ff * 4);
    a->up = ei_scratch_place(&at, b * c->n_ff * 4);
    ei_attention_desc one = attention_desc(c, 0, 1, d.n_ctx);
    a->decode = ei_scratch_place(&at, ei_attention_decode_scratch(ctx, &one));
    a->bytes = at;
    ei_status st = ei_buffer_create(ctx, a->bytes, &s->work);
    s->io_logits = (b * 4 + 255) / 256 * 256;
    if (st == EI_OK) st = ei_buffer_create_mapped(ctx, s->io_logits + (uint64_t)c->n_vocab * 4, &s->io);
    if (st == EI_OK && d.method) st = set_method(s, &d);
    ei_kv_cache_desc kd = {.capacity = d.n_ctx, .kv_heads = c->n_head_kv, .dim = c->head_dim, .dtype = EI_F32, .expand = 1};
    for (uint32_t l = 0; st == EI_OK && l < c->n_layer; l++) {
        /* Compressed caches keep the last W queries that score them. */
        int compress = s->kv != EI_KV_FULL && !ei_model_layer_is_local(c, l);
        kd.window = compress ? s->method.window : 0;
        kd.query_heads = compress ? c->n_head : 0;
        st = ei_kv_cache_create(ctx, &kd, &s->caches[l]);
        if (st == EI_OK && compress && !s->compress_scratch) {
            ei_kv_compress_desc cd = compress_desc(s);
            st = ei_buffer_create(ctx, ei_kv_compress_scratch(s->caches[l], &s->method, &cd), &s->compress_scratch);
        }
    }
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
    ei_buffer_destroy(s->io);
    ei_buffer_destroy(s->prefill_scratch);
    ei_buffer_destroy(s->compress_scratch);
    free(s);
}

uint32_t ei_session_pos(const ei_session *s) { return s ? s->pos : 0; }
uint32_t ei_session_n_ctx(const ei_session *s) { return s ? s->n_ctx : 0; }
uint32_t ei_session_n_batch(const ei_session *s) { return s ? s->n_batch : 0; }
uint64_t ei_session_scratch_bytes(const ei_session *s) {
    if (!s) return 0;
    return s->a.bytes + ei_buffer_size(s->io) + (s->prefill_scratch ? ei_buffer_size(s->prefill_scratch) : 0) +
           (s->compress_scratch ? ei_buffer_size(s->compress_scratch) : 0);
}

double ei_session_gpu_ms(const ei_session *s) { return s ? s->gpu_ms : -1; }

uint32_t ei_session_cache_len(const ei_session *s, uint32_t layer) {
    return s && layer < s->model->config.n_layer ? ei_kv_cache_len(s->caches[layer]) : 0;
}

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

/* KV compression of a layer's cache after its attention (algorithm.md
 * section 4): the prompt's queries are observed before a compression that
 * is due right after it (SnapKV, AdaKV); a decode step's query after it (at
 * latent's step N_d + 1 the step's own query does not score the cache). */
static ei_status compress(ei_session *s, const pass *p, ei_kv_cache *cache) {
    ei_tensor q = act(p, s->a.q);
    ei_kv_compress_desc cd = compress_desc(s);
    ei_status st = s->step == 0 ? ei_kv_cache_observe(p->cmd, cache, p->n, q) : EI_OK;
    if (st == EI_OK && ei_kv_compress_due(&s->method, s->kv, s->step))
        st = ei_kv_compress(p->cmd, cache, &s->method, &cd, (ei_tensor){0}, s->compress_scratch);
    if (st == EI_OK && s->step > 0) st = ei_kv_cache_observe(p->cmd, cache, p->n, q);
    return st;
}

/* The scratch of the method's prefill for a prompt of n tokens: the largest
 * layout of the layers that use it. */
static ei_status prefill_scratch(ei_session *s, uint32_t n) {
    const ei_model_config *c = &s->model->config;
    uint64_t need = 0;
    for (uint32_t l = 0; l < c->n_layer; l++) {
        if (ei_model_layer_is_local(c, l)) continue;
        ei_attention_desc d = attention_desc(c, l, n, n);
        ei_prefill_layout layout;
        ei_status st = ei_prefill_layout_of(s->ctx, &d, &s->method, l, &layout);
        if (st != EI_OK) return st;
        if (layout.bytes > need) need = layout.bytes;
    }
    if (s->prefill_scratch && ei_buffer_size(s->prefill_scratch) >= need) return EI_OK;
    ei_buffer_destroy(s->prefill_scratch);
    s->prefill_scratch = NULL;
    return ei_buffer_create(s->ctx, need ? need : 256, &s->prefill_scratch);
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
    if (n == 1) {
        d.kv_len = ei_kv_cache_len(cache); /* its heads may be ragged after a compression */
        st = ei_kv_cache_attend(p->cmd, cache, &d, act(p, a->q), act(p, a->att), act(p, a->decode));
    } else if (s->sparse && !local) { /* the whole prompt (checked): the method's prefill */
        st = ei_prefill_layer(p->cmd, &d, &s->method, l, act(p, a->q), ei_kv_cache_keys(cache),
                              ei_kv_cache_values(cache), act(p, a->att), s->prefill_scratch);
    } else {
        st = ei_attention_prefill(p->cmd, &d, act(p, a->q), ei_kv_cache_keys(cache), ei_kv_cache_values(cache),
                                  act(p, a->att));
    }
    if (st == EI_OK && s->kv != EI_KV_FULL && !local) st = compress(s, p, cache);
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
    if (n > 1 && ((s->has_method && s->pos > 0) || s->compressed))
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT,
                       "with a method the prompt comes in one call (n_batch >= prompt) and then one token per call");
    for (uint32_t i = 0; i < n; i++)
        if (ids[i] >= c->n_vocab)
            return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "token id %u is outside the vocabulary of %u", ids[i],
                           c->n_vocab);
    ei_status st = ei_buffer_upload(s->io, 0, ids, (uint64_t)n * 4);
    if (st == EI_OK && s->sparse && n > 1) st = prefill_scratch(s, n);
    ei_cmd *cmd = NULL;
    if (st == EI_OK) st = ei_cmd_begin(ctx, &cmd);
    /* The caches' host-side state (lengths, observations), to restore
     * after a failed recording. */
    ei_kv_cache *saved = NULL;
    if (st == EI_OK) {
        saved = malloc(c->n_layer * sizeof *saved);
        if (!saved) st = ei_fail(ctx, EI_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
        for (uint32_t l = 0; saved && l < c->n_layer; l++)
            saved[l] = *s->caches[l];
    }
    pass p = {cmd, c, s->work, n};
    int timed = ei_context_facts(ctx)->features & EI_FEATURE_TIMESTAMPS;
    uint32_t t0 = 0, t1 = 0;
    if (st == EI_OK && timed) st = ei_cmd_timestamp(cmd, &t0);
    if (st == EI_OK) st = record(s, &p, logits != NULL);
    if (st == EI_OK && timed) st = ei_cmd_timestamp(cmd, &t1);
    if (st == EI_OK) st = ei_cmd_run(cmd);
    s->gpu_ms = -1;
    if (st == EI_OK && timed) st = ei_cmd_elapsed_ms(cmd, t0, t1, &s->gpu_ms);
    ei_cmd_destroy(cmd);
    if (st == EI_OK) {
        if (ei_kv_compress_due(&s->method, s->kv, s->step)) s->compressed = 1;
        s->pos += n;
        s->step++;
        if (logits) st = ei_buffer_download(s->io, s->io_logits, logits, (uint64_t)c->n_vocab * 4);
        if (st == EI_OK && c->final_softcap > 0)
            for (uint32_t i = 0; i < c->n_vocab; i++)
                logits[i] = c->final_softcap * tanhf(logits[i] / c->final_softcap);
    } else if (saved) {
        for (uint32_t l = 0; l < c->n_layer; l++)
            *s->caches[l] = saved[l]; /* nothing ran: the GPU's side is unchanged */
    }
    free(saved);
    return st;
}

ei_status ei_session_reset(ei_session *s) {
    if (!s) return EI_ERROR_INVALID_ARGUMENT;
    ei_status st = EI_OK;
    for (uint32_t l = 0; st == EI_OK && l < s->model->config.n_layer; l++)
        st = ei_kv_cache_clear(s->caches[l]);
    if (st == EI_OK) s->pos = 0, s->step = 0, s->compressed = 0;
    return st;
}
