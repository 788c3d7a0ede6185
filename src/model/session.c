/* A sequence being generated: its KV caches and working buffers, and the
 * calls that run tokens through the model (forward.c records the graph). */
#include <math.h>
#include <stdlib.h>

#include "session.h"

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
    if (d.kv_dtype != EI_F32 && d.kv_dtype != EI_F16 && d.kv_dtype != EI_BF16)
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_session_create: kv_dtype must be EI_F32, EI_F16 or EI_BF16");
    ei_session *s = ei_host_alloc(ctx, sizeof *s);
    if (s) s->caches = ei_host_alloc(ctx, c->n_layer * sizeof *s->caches);
    if (!s || !s->caches) {
        ei_host_free(ctx, s);
        return ei_fail(ctx, EI_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    }
    s->model = m;
    s->ctx = ctx;
    s->n_ctx = d.n_ctx;
    s->n_batch = d.n_batch;
    s->kv_dtype = d.kv_dtype;
    s->keep_stats = d.prefill_stats;
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
    ei_attention_desc one = ei_layer_attention_desc(c, 0, 1, d.n_ctx);
    a->decode = ei_scratch_place(&at, ei_attention_decode_scratch(ctx, &one));
    if (d.kv_dtype != EI_F32) {
        a->q16 = ei_scratch_place(&at, b * qd * 2);
        a->k16 = ei_scratch_place(&at, b * kvd * 2);
        a->v16 = ei_scratch_place(&at, b * kvd * 2);
    }
    a->bytes = at;
    ei_status st = ei_buffer_create(ctx, a->bytes, &s->work);
    s->io_logits = (b * 4 + 255) / 256 * 256;
    if (st == EI_OK) st = ei_buffer_create_mapped(ctx, s->io_logits + (uint64_t)c->n_vocab * 4, &s->io);
    if (st == EI_OK && d.method) st = set_method(s, &d);
    ei_kv_cache_desc kd = {
        .capacity = d.n_ctx, .kv_heads = c->n_head_kv, .dim = c->head_dim, .dtype = d.kv_dtype, .expand = 1};
    for (uint32_t l = 0; st == EI_OK && l < c->n_layer; l++) {
        /* Compressed caches keep the last W queries that score them. */
        int compress = s->kv != EI_KV_FULL && !ei_model_layer_is_local(c, l);
        kd.window = compress ? s->method.window : 0;
        kd.query_heads = compress ? c->n_head : 0;
        st = ei_kv_cache_create(ctx, &kd, &s->caches[l]);
        if (st == EI_OK && compress && !s->compress_scratch) {
            ei_kv_compress_desc cd = ei_session_compress_desc(s);
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
    ei_host_free(s->ctx, s->caches);
    ei_buffer_destroy(s->work);
    ei_buffer_destroy(s->io);
    ei_buffer_destroy(s->prefill_scratch);
    ei_buffer_destroy(s->compress_scratch);
    ei_buffer_destroy(s->stats);
    ei_host_free(s->ctx, s);
}

uint32_t ei_session_pos(const ei_session *s) { return s ? s->pos : 0; }
uint32_t ei_session_n_ctx(const ei_session *s) { return s ? s->n_ctx : 0; }
uint32_t ei_session_n_batch(const ei_session *s) { return s ? s->n_batch : 0; }
uint64_t ei_session_scratch_bytes(const ei_session *s) {
    if (!s) return 0;
    return s->a.bytes + ei_buffer_size(s->io) + (s->prefill_scratch ? ei_buffer_size(s->prefill_scratch) : 0) +
           (s->compress_scratch ? ei_buffer_size(s->compress_scratch) : 0) + ei_buffer_size(s->stats);
}

double ei_session_gpu_ms(const ei_session *s) { return s ? s->gpu_ms : -1; }

uint32_t ei_session_cache_len(const ei_session *s, uint32_t layer) {
    return s && layer < s->model->config.n_layer ? ei_kv_cache_len(s->caches[layer]) : 0;
}

uint64_t ei_session_kv_bytes(const ei_session *s) {
    if (!s) return 0;
    const ei_model_config *c = &s->model->config;
    return 2ull * c->n_layer * s->n_ctx * c->n_head_kv * c->head_dim * ei_dtype_size(s->kv_dtype);
}

/* The scratch of the method's prefill for a prompt of n tokens: the largest
 * layout of the layers that use it. */
static ei_status prefill_scratch(ei_session *s, uint32_t n) {
    const ei_model_config *c = &s->model->config;
    uint64_t need = 0;
    for (uint32_t l = 0; l < c->n_layer; l++) {
        if (ei_model_layer_is_local(c, l)) continue;
        ei_attention_desc d = ei_layer_attention_desc(c, l, n, n);
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

/* The prompt-sized buffers of a call longer than n_batch (layer-major),
 * made for the call and freed at its end: a 128K prompt of an 8B model
 * takes ~5 GB in them that decode does not need. Each is its own
 * allocation, so none passes maxMemoryAllocationSize (x and the attention's
 * output are 2 GiB each there). */
typedef struct call_buffers {
    ei_buffer *ids, *x, *q, *att;
} call_buffers;

static void call_buffers_destroy(call_buffers *b) {
    ei_buffer_destroy(b->ids);
    ei_buffer_destroy(b->x);
    ei_buffer_destroy(b->q);
    ei_buffer_destroy(b->att);
}

/* The tensors of a call of n tokens (ei_call), its ids uploaded: in io and
 * work for at most n_batch tokens, else in new buffers in *b. */
static ei_status call_of(ei_session *s, const uint32_t *ids, uint32_t n, call_buffers *b, ei_call *out) {
    const ei_model_config *c = &s->model->config;
    const activations *a = &s->a;
    ei_dtype kv = s->kv_dtype;
    if (n <= s->n_batch) {
        *out = (ei_call){n,
                         {s->io, 0, EI_U32},
                         {s->work, a->x, EI_F32},
                         {s->work, kv == EI_F32 ? a->q : a->q16, kv},
                         {s->work, a->att, EI_F32}};
        return ei_buffer_upload(s->io, 0, ids, (uint64_t)n * 4);
    }
    uint64_t q_n = (uint64_t)n * c->n_head * c->head_dim;
    ei_status st = ei_buffer_create_mapped(s->ctx, (uint64_t)n * 4, &b->ids);
    if (st == EI_OK) st = ei_buffer_create(s->ctx, (uint64_t)n * c->n_embd * 4, &b->x);
    if (st == EI_OK) st = ei_buffer_create(s->ctx, q_n * ei_dtype_size(kv), &b->q);
    if (st == EI_OK) st = ei_buffer_create(s->ctx, q_n * 4, &b->att);
    if (st == EI_OK) st = ei_buffer_upload(b->ids, 0, ids, (uint64_t)n * 4);
    *out = (ei_call){n, {b->ids, 0, EI_U32}, {b->x, 0, EI_F32}, {b->q, 0, kv}, {b->att, 0, EI_F32}};
    return st;
}

ei_status ei_session_forward(ei_session *s, const uint32_t *ids, uint32_t n, float *logits) {
    if (!s) return EI_ERROR_INVALID_ARGUMENT;
    ei_context *ctx = s->ctx;
    const ei_model_config *c = &s->model->config;
    if (!ids || n == 0) return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_session_forward: NULL ids or no tokens");
    if (n > s->n_ctx - s->pos)
        return ei_fail(ctx, EI_ERROR_LIMIT_EXCEEDED, "the context is full: %u tokens + %u more exceed %u", s->pos, n,
                       s->n_ctx);
    if (n > 1 && ((s->has_method && s->pos > 0) || s->compressed))
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT,
                       "with a method the prompt comes in one call and then one token per call");
    for (uint32_t i = 0; i < n; i++)
        if (ids[i] >= c->n_vocab)
            return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "token id %u is outside the vocabulary of %u", ids[i],
                           c->n_vocab);
    call_buffers buffers = {0};
    ei_call call;
    ei_status st = call_of(s, ids, n, &buffers, &call);
    if (st == EI_OK && s->sparse && n > 1) st = prefill_scratch(s, n);
    if (st == EI_OK && s->sparse && n > 1) st = ei_stats_prepare(s, n);
    ei_cmd *cmd = NULL;
    if (st == EI_OK) st = ei_cmd_begin(ctx, &cmd);
    /* The caches' host-side state (lengths, observations), to restore
     * after a failed recording. */
    ei_kv_cache *saved = NULL;
    if (st == EI_OK) {
        saved = ei_host_alloc(ctx, c->n_layer * sizeof *saved);
        if (!saved) st = ei_fail(ctx, EI_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
        for (uint32_t l = 0; saved && l < c->n_layer; l++)
            saved[l] = *s->caches[l];
    }
    int timed = ei_context_facts(ctx)->features & EI_FEATURE_TIMESTAMPS;
    uint32_t t0 = 0, t1 = 0;
    if (st == EI_OK && timed) st = ei_cmd_timestamp(cmd, &t0);
    if (st == EI_OK) st = ei_forward_record(s, cmd, &call, logits != NULL);
    if (st == EI_OK && timed) st = ei_cmd_timestamp(cmd, &t1);
    if (st == EI_OK) st = ei_cmd_run(cmd);
    s->gpu_ms = -1;
    if (st == EI_OK && timed) st = ei_cmd_elapsed_ms(cmd, t0, t1, &s->gpu_ms);
    ei_cmd_destroy(cmd);
    call_buffers_destroy(&buffers);
    if (st == EI_OK) {
        if (ei_kv_compress_due(&s->method, s->kv, s->step)) s->compressed = 1;
        if (s->step == 0) s->stats_len = n;
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
    ei_host_free(ctx, saved);
    return st;
}

ei_status ei_session_reset(ei_session *s) {
    if (!s) return EI_ERROR_INVALID_ARGUMENT;
    ei_status st = EI_OK;
    for (uint32_t l = 0; st == EI_OK && l < s->model->config.n_layer; l++)
        st = ei_kv_cache_clear(s->caches[l]);
    if (st == EI_OK) s->pos = 0, s->step = 0, s->compressed = 0, s->stats_len = 0;
    return st;
}
