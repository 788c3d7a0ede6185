/* The method's prefill profile of every layer, kept for the caller: the
 * next layer's ei_prefill_layer overwrites the scratch, so after each
 * profiled layer its entropy, keep and rigid tensors (adjacent in the
 * scratch, in that order) go in one copy to the layer's slot of a mapped
 * buffer, which the host reads after the forward. */
#include "session.h"

/* Layer l's prefill layout for a prompt of n tokens; not profiled for a
 * sliding-window layer or without a sparse mode. */
static ei_status layout_of(const ei_session *s, uint32_t l, uint32_t n, ei_prefill_layout *out) {
    const ei_model_config *c = &s->model->config;
    *out = (ei_prefill_layout){0};
    if (!s->sparse || ei_model_layer_is_local(c, l)) return EI_OK;
    ei_attention_desc d = ei_layer_attention_desc(c, l, n, n);
    return ei_prefill_layout_of(s->ctx, &d, &s->method, l, out);
}

/* Bytes of a layer's slot: entropy through the end of rigid. */
static uint64_t slot_bytes(const ei_session *s, const ei_prefill_layout *l) {
    return l->rigid + (uint64_t)s->model->config.n_head_kv * 4 - l->entropy;
}

ei_status ei_stats_prepare(ei_session *s, uint32_t n) {
    if (!s->keep_stats) return EI_OK;
    const ei_model_config *c = &s->model->config;
    ei_prefill_layout l = {0};
    ei_status st = EI_OK;
    for (uint32_t i = 0; st == EI_OK && i < c->n_layer && !l.profiled; i++)
        st = layout_of(s, i, n, &l);
    if (st != EI_OK || !l.profiled) return st;
    uint64_t need = c->n_layer * slot_bytes(s, &l);
    if (s->stats && ei_buffer_size(s->stats) >= need) return EI_OK;
    ei_buffer_destroy(s->stats);
    s->stats = NULL;
    return ei_buffer_create_mapped(s->ctx, need, &s->stats);
}

ei_status ei_stats_record(ei_session *s, ei_cmd *cmd, uint32_t layer, uint32_t n) {
    if (!s->keep_stats) return EI_OK;
    ei_prefill_layout l;
    ei_status st = layout_of(s, layer, n, &l);
    if (st != EI_OK || !l.profiled) return st;
    uint64_t bytes = slot_bytes(s, &l);
    VkBufferCopy region = {.srcOffset = l.entropy, .dstOffset = layer * bytes, .size = bytes};
    ei_cmd_copy(cmd, s->prefill_scratch->buffer, s->stats->buffer, &region);
    return EI_OK;
}

ei_status ei_session_prefill_stats(const ei_session *s, uint32_t layer, ei_prefill_stats *out) {
    if (!s) return EI_ERROR_INVALID_ARGUMENT;
    const ei_model_config *c = &s->model->config;
    if (!out || layer >= c->n_layer)
        return ei_fail(s->ctx, EI_ERROR_INVALID_ARGUMENT, "ei_session_prefill_stats: NULL out or layer %u of %u", layer,
                       c->n_layer);
    if (!s->keep_stats)
        return ei_fail(s->ctx, EI_ERROR_INVALID_ARGUMENT,
                       "ei_session_prefill_stats: the session keeps none (ei_session_desc.prefill_stats)");
    if (!s->stats_len)
        return ei_fail(s->ctx, EI_ERROR_INVALID_ARGUMENT,
                       "ei_session_prefill_stats: no prompt since the session was created or reset");
    ei_prefill_layout l;
    ei_status st = layout_of(s, layer, s->stats_len, &l);
    out->profiled = st == EI_OK && l.profiled;
    out->kv_heads = c->n_head_kv;
    out->nseg = out->profiled ? l.shape.nseg : 0;
    if (!out->profiled) return st;
    uint64_t slot = layer * slot_bytes(s, &l), hs = (uint64_t)out->kv_heads * out->nseg;
    if (out->entropy) st = ei_buffer_download(s->stats, slot, out->entropy, hs * 4);
    if (st == EI_OK && out->keep) st = ei_buffer_download(s->stats, slot + l.keep - l.entropy, out->keep, hs * 4);
    if (st == EI_OK && out->rigid)
        st = ei_buffer_download(s->stats, slot + l.rigid - l.entropy, out->rigid, (uint64_t)out->kv_heads * 4);
    return st;
}
