/* The KV cache of one layer: K, V and per-head lengths on the GPU, appends,
 * and decode attention over it (algorithm.md section 4). */
#include <stdlib.h>

#include "../vk/internal.h"
#include "kvcache.h"

#define APPEND_WORKGROUP 256

ei_status ei_kv_cache_create(ei_context *ctx, const ei_kv_cache_desc *d, ei_kv_cache **out) {
    if (!ctx) return EI_ERROR_INVALID_ARGUMENT;
    if (!d || !out) return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_kv_cache_create: NULL argument");
    *out = NULL;
    if (!d->capacity || !d->kv_heads || !d->dim || d->dim % 2 || !d->expand || !ei_is_float(d->dtype))
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT,
                       "ei_kv_cache_create: capacity, kv_heads, expand must be positive, dim positive and even, "
                       "dtype f32, f16 or bf16");
    if (!d->window != !d->query_heads || (d->query_heads && d->query_heads % (d->kv_heads * d->expand)))
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT,
                       "ei_kv_cache_create: window and query_heads go together, query_heads a multiple of the stored "
                       "heads");
    ei_kv_cache *c = ei_host_alloc(ctx, sizeof *c);
    if (!c) return ei_fail(ctx, EI_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    c->ctx = ctx;
    c->desc = *d;
    c->heads = d->kv_heads * d->expand;
    uint64_t bytes = (uint64_t)d->capacity * c->heads * d->dim * ei_dtype_size(d->dtype);
    ei_status st = ei_buffer_create(ctx, bytes, &c->k);
    if (st == EI_OK) st = ei_buffer_create(ctx, bytes, &c->v);
    if (st == EI_OK) st = ei_buffer_create(ctx, (uint64_t)c->heads * 4, &c->lens);
    if (st == EI_OK) st = ei_buffer_fill(c->lens, 0, (uint64_t)c->heads * 4, 0);
    if (st == EI_OK && d->window)
        st = ei_buffer_create(ctx, (uint64_t)d->window * d->query_heads * d->dim * ei_dtype_size(d->dtype), &c->obs);
    if (st != EI_OK) {
        ei_kv_cache_destroy(c);
        return st;
    }
    *out = c;
    return EI_OK;
}

void ei_kv_cache_destroy(ei_kv_cache *c) {
    if (!c) return;
    ei_buffer_destroy(c->k);
    ei_buffer_destroy(c->v);
    ei_buffer_destroy(c->lens);
    ei_buffer_destroy(c->obs);
    ei_host_free(c->ctx, c);
}

ei_tensor ei_kv_cache_keys(const ei_kv_cache *c) { return (ei_tensor){c ? c->k : NULL, 0, c ? c->desc.dtype : EI_F32}; }
ei_tensor ei_kv_cache_values(const ei_kv_cache *c) {
    return (ei_tensor){c ? c->v : NULL, 0, c ? c->desc.dtype : EI_F32};
}
ei_tensor ei_kv_cache_lengths(const ei_kv_cache *c) { return (ei_tensor){c ? c->lens : NULL, 0, EI_U32}; }
uint32_t ei_kv_cache_heads(const ei_kv_cache *c) { return c ? c->heads : 0; }
uint32_t ei_kv_cache_len(const ei_kv_cache *c) { return c ? c->len : 0; }

ei_status ei_kv_cache_clear(ei_kv_cache *c) {
    if (!c) return EI_ERROR_INVALID_ARGUMENT;
    ei_status st = ei_buffer_fill(c->lens, 0, (uint64_t)c->heads * 4, 0);
    if (st == EI_OK) c->len = 0, c->obs_count = 0;
    return st;
}

/* A float tensor seen as 32-bit words (the copy kernels move words). */
ei_tensor ei_kv_words(ei_tensor t) {
    t.dtype = EI_U32;
    return t;
}

ei_status ei_kv_cache_append(ei_cmd *cmd, ei_kv_cache *c, uint32_t n, ei_tensor k, ei_tensor v) {
    if (!cmd) return EI_ERROR_INVALID_ARGUMENT;
    ei_context *ctx = cmd->ctx;
    if (!c) return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_kv_cache_append: cache is NULL");
    if (n == 0) return EI_OK;
    if (k.dtype != c->desc.dtype || v.dtype != c->desc.dtype)
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_kv_cache_append: k and v must be in the cache's dtype");
    if ((uint64_t)c->len + n > c->desc.capacity)
        return ei_fail(ctx, EI_ERROR_LIMIT_EXCEEDED,
                       "ei_kv_cache_append: %u more rows would pass the capacity of %u (the cache holds up to %u)", n,
                       c->desc.capacity, c->len);
    uint32_t row_words = c->desc.dim * (uint32_t)ei_dtype_size(c->desc.dtype) / 4;
    uint64_t src_words = (uint64_t)n * c->desc.kv_heads * row_words;
    uint64_t cache_words = (uint64_t)c->desc.capacity * c->heads * row_words;
    struct {
        uint32_t n, heads, expand, row_words, k_new_skip, v_new_skip, k_skip, v_skip, lens_skip;
    } p = {n, c->heads, c->desc.expand, row_words};
    ei_binding b[5];
    ei_status st;
    if ((st = ei_tensor_check(ctx, k, (uint64_t)n * c->desc.kv_heads * c->desc.dim, "ei_kv_cache_append: k")) ||
        (st = ei_tensor_check(ctx, v, (uint64_t)n * c->desc.kv_heads * c->desc.dim, "ei_kv_cache_append: v")) ||
        (st = ei_tensor_binding(ctx, ei_kv_words(k), 0, src_words, &b[0], &p.k_new_skip)) ||
        (st = ei_tensor_binding(ctx, ei_kv_words(v), 0, src_words, &b[1], &p.v_new_skip)) ||
        (st = ei_tensor_binding(ctx, ei_kv_words(ei_kv_cache_keys(c)), 0, cache_words, &b[2], &p.k_skip)) ||
        (st = ei_tensor_binding(ctx, ei_kv_words(ei_kv_cache_values(c)), 0, cache_words, &b[3], &p.v_skip)) ||
        (st = ei_tensor_binding(ctx, ei_kv_cache_lengths(c), 0, c->heads, &b[4], &p.lens_skip)))
        return st;
    uint64_t threads = (uint64_t)n * c->heads * row_words;
    uint64_t groups = (threads + APPEND_WORKGROUP - 1) / APPEND_WORKGROUP;
    if (groups > ctx->facts.max_workgroup_count[0])
        return ei_fail(ctx, EI_ERROR_LIMIT_EXCEEDED, "ei_kv_cache_append: %u rows at once are too many; append fewer",
                       n);
    ei_kernel copy = {
        .shader = "kv_append", .bindings = 5, .push_size = sizeof p, .spec_count = 2, .spec = {APPEND_WORKGROUP, 0}};
    ei_kernel grow = copy;
    grow.spec[1] = 1;
    ei_pipeline *pc, *pg;
    if ((st = ei_pipeline_get(ctx, &copy, &pc)) || (st = ei_pipeline_get(ctx, &grow, &pg)) ||
        (st = ei_cmd_dispatch(cmd, pc, b, &p, (uint32_t)groups, 1, 1)) ||
        (st = ei_cmd_dispatch(cmd, pg, b, &p, (c->heads + APPEND_WORKGROUP - 1) / APPEND_WORKGROUP, 1, 1)))
        return st;
    c->len += n;
    return EI_OK;
}

ei_status ei_kv_cache_observe(ei_cmd *cmd, ei_kv_cache *c, uint32_t n, ei_tensor q) {
    if (!cmd) return EI_ERROR_INVALID_ARGUMENT;
    ei_context *ctx = cmd->ctx;
    if (!c || !c->obs) return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_kv_cache_observe: the cache keeps no window");
    if (q.dtype != c->desc.dtype)
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_kv_cache_observe: q must be in the cache's dtype");
    uint64_t row = (uint64_t)c->desc.query_heads * c->desc.dim * ei_dtype_size(c->desc.dtype);
    ei_status st = ei_tensor_check(ctx, q, (uint64_t)n * c->desc.query_heads * c->desc.dim, "ei_kv_cache_observe: q");
    if (st != EI_OK) return st;
    /* Only the last `window` rows matter; copy them to their ring slots in
     * at most two runs. */
    uint32_t W = c->desc.window, first = n > W ? n - W : 0;
    for (uint32_t i = first; i < n;) {
        uint64_t slot = (c->obs_count + i) % W;
        uint32_t run = (uint32_t)(W - slot < n - i ? W - slot : n - i);
        VkBufferCopy region = {q.offset + i * row, slot * row, run * row};
        ei_cmd_copy(cmd, q.buffer->buffer, c->obs->buffer, &region);
        i += run;
    }
    c->obs_count += n;
    return EI_OK;
}

ei_attention_desc ei_kv_cache_attention_desc(const ei_kv_cache *c, uint32_t q_len, uint32_t heads) {
    ei_attention_desc d = {q_len, c ? (c->len ? c->len : 1) : 0, heads, c ? c->heads : 0, c ? c->desc.dim : 0, 0, 1, 0,
                           0};
    return d;
}

ei_status ei_kv_cache_attend(ei_cmd *cmd, ei_kv_cache *c, const ei_attention_desc *d, ei_tensor q, ei_tensor out,
                             ei_tensor scratch) {
    if (!cmd) return EI_ERROR_INVALID_ARGUMENT;
    if (!c || !d) return ei_fail(cmd->ctx, EI_ERROR_INVALID_ARGUMENT, "ei_kv_cache_attend: NULL argument");
    if (d->kv_heads != c->heads || d->dim != c->desc.dim || d->kv_len > c->desc.capacity || d->kv_len < c->len)
        return ei_fail(cmd->ctx, EI_ERROR_INVALID_ARGUMENT,
                       "ei_kv_cache_attend: desc does not match the cache (use ei_kv_cache_attention_desc)");
    ei_tensor lens = ei_kv_cache_lengths(c);
    return ei_attention_decode(cmd, d, q, ei_kv_cache_keys(c), ei_kv_cache_values(c), &lens, out, scratch);
}
