/* A GGUF model's weights on the device, each tensor in its own buffer in
 * its file type (matmul and embedding kernels read them in place). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../vk/internal.h"
#include "weights.h"

/* The sizes a tensor's dims are made of. */
typedef enum { ONE, EMBD, Q_DIMS, KV_DIMS, FF, HEAD_DIM } size_kind;
typedef enum { ALWAYS, WHEN_BIAS, WHEN_QK_NORM, WHEN_POST_NORMS } presence;

typedef struct layer_tensor {
    const char *name;
    size_kind cols, rows; /* ne0, ne1 */
    presence when;
} layer_tensor;

/* In ei_layer_tensor's order. */
static const layer_tensor layer_tensors[EI_W_LAYER_COUNT] = {
    {"attn_norm.weight", EMBD, ONE, ALWAYS},
    {"attn_q.weight", EMBD, Q_DIMS, ALWAYS},
    {"attn_k.weight", EMBD, KV_DIMS, ALWAYS},
    {"attn_v.weight", EMBD, KV_DIMS, ALWAYS},
    {"attn_output.weight", Q_DIMS, EMBD, ALWAYS},
    {"attn_q.bias", Q_DIMS, ONE, WHEN_BIAS},
    {"attn_k.bias", KV_DIMS, ONE, WHEN_BIAS},
    {"attn_v.bias", KV_DIMS, ONE, WHEN_BIAS},
    {"attn_q_norm.weight", HEAD_DIM, ONE, WHEN_QK_NORM},
    {"attn_k_norm.weight", HEAD_DIM, ONE, WHEN_QK_NORM},
    {"post_attention_norm.weight", EMBD, ONE, WHEN_POST_NORMS},
    {"ffn_norm.weight", EMBD, ONE, ALWAYS},
    {"ffn_gate.weight", EMBD, FF, ALWAYS},
    {"ffn_up.weight", EMBD, FF, ALWAYS},
    {"ffn_down.weight", FF, EMBD, ALWAYS},
    {"post_ffw_norm.weight", EMBD, ONE, WHEN_POST_NORMS},
};

static uint64_t size_of(const ei_model_config *c, size_kind k) {
    switch (k) {
    case EMBD: return c->n_embd;
    case Q_DIMS: return (uint64_t)c->n_head * c->head_dim;
    case KV_DIMS: return (uint64_t)c->n_head_kv * c->head_dim;
    case FF: return c->n_ff;
    case HEAD_DIM: return c->head_dim;
    default: return 1;
    }
}

static int matrix_type(uint32_t t) {
    return t == EI_GGML_F32 || t == EI_GGML_F16 || t == EI_GGML_BF16 || t == EI_GGML_Q4_0 || t == EI_GGML_Q4_1 ||
           t == EI_GGML_Q5_0 || t == EI_GGML_Q5_1 || t == EI_GGML_Q8_0 || t == EI_GGML_Q4_K || t == EI_GGML_Q5_K ||
           t == EI_GGML_Q6_K;
}

/* Loads tensor `name` (ne0 = cols, ne1 = rows; rows 1 for a vector) into
 * *out. optional: absence is not an error (out->buffer stays NULL). Vectors
 * (norms, biases, RoPE factors) must be F32. */
static ei_status load(ei_context *ctx, const ei_gguf *g, const char *name, uint64_t cols, uint64_t rows, int optional,
                      ei_weight *out) {
    memset(out, 0, sizeof *out);
    int64_t i = ei_gguf_find_tensor(g, name);
    if (i < 0) return optional ? EI_OK : ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "model: tensor %s is missing", name);
    ei_gguf_tensor t;
    ei_status st = ei_gguf_get_tensor(g, (uint64_t)i, &t);
    if (st != EI_OK) return ei_fail(ctx, st, "model: tensor %s: %s", name, ei_gguf_error(g));
    if (t.dims[0] != cols || t.dims[1] != rows || t.dims[2] != 1 || t.dims[3] != 1)
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT,
                       "model: tensor %s is [%llu x %llu x %llu x %llu], the configuration says [%llu x %llu]", name,
                       (unsigned long long)t.dims[0], (unsigned long long)t.dims[1], (unsigned long long)t.dims[2],
                       (unsigned long long)t.dims[3], (unsigned long long)cols, (unsigned long long)rows);
    if (rows == 1 ? t.type != EI_GGML_F32 : !matrix_type(t.type))
        return ei_fail(ctx, EI_ERROR_FEATURE_NOT_PRESENT, "model: tensor %s has ggml type %u, which is not supported%s",
                       name, t.type, rows == 1 ? " for a vector (F32 only)" : "");
    /* A word of slack past the data: the kernels read whole 32-bit words. */
    if ((st = ei_buffer_create(ctx, (t.bytes + 7) / 4 * 4, &out->buffer))) return st;
    out->type = t.type;
    out->bytes = t.bytes;
    return ei_buffer_upload(out->buffer, 0, t.data, t.bytes);
}

ei_status ei_model_load(ei_context *ctx, const ei_gguf *g, ei_model **out) {
    if (!ctx) return EI_ERROR_INVALID_ARGUMENT;
    if (!g || !out) return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_model_load: NULL argument");
    *out = NULL;
    ei_model *m = ei_host_alloc(ctx, sizeof *m);
    if (!m) return ei_fail(ctx, EI_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    m->ctx = ctx;
    char error[256];
    ei_status st = ei_model_config_read(g, &m->config, error, sizeof error);
    if (st != EI_OK) {
        ei_host_free(ctx, m);
        return ei_fail(ctx, st, "%s", error);
    }
    const ei_model_config *c = &m->config;
    uint32_t hd = c->head_dim;
    if (hd != 64 && hd != 80 && hd != 96 && hd != 128 && hd != 256) {
        ei_host_free(ctx, m);
        return ei_fail(ctx, EI_ERROR_FEATURE_NOT_PRESENT,
                       "model: head dim %u (the attention kernels take 64, 80, 96, 128, 256)", hd);
    }
    m->layers = ei_host_alloc(ctx, c->n_layer * sizeof *m->layers);
    if (!m->layers) {
        ei_host_free(ctx, m);
        return ei_fail(ctx, EI_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    }
    uint64_t e = c->n_embd;
    st = load(ctx, g, "token_embd.weight", e, c->n_vocab, 0, &m->token_embd);
    if (st == EI_OK) st = load(ctx, g, "output_norm.weight", e, 1, 0, &m->output_norm);
    if (st == EI_OK) st = load(ctx, g, "output.weight", e, c->n_vocab, 1, &m->output);
    if (st == EI_OK) st = load(ctx, g, "rope_freqs.weight", c->head_dim / 2, 1, 1, &m->rope_freqs);
    for (uint32_t l = 0; st == EI_OK && l < c->n_layer; l++)
        for (int i = 0; st == EI_OK && i < EI_W_LAYER_COUNT; i++) {
            const layer_tensor *t = &layer_tensors[i];
            if (t->when == WHEN_BIAS         ? !c->qkv_bias
                : t->when == WHEN_QK_NORM    ? !c->qk_norm
                : t->when == WHEN_POST_NORMS ? !c->post_norms
                                             : 0)
                continue;
            char name[96];
            snprintf(name, sizeof name, "blk.%u.%s", l, t->name);
            st = load(ctx, g, name, size_of(c, t->cols), size_of(c, t->rows), 0, &m->layers[l].w[i]);
        }
    if (st != EI_OK) {
        ei_model_destroy(m);
        return st;
    }
    *out = m;
    return EI_OK;
}

void ei_model_destroy(ei_model *m) {
    if (!m) return;
    ei_buffer_destroy(m->token_embd.buffer);
    ei_buffer_destroy(m->output_norm.buffer);
    ei_buffer_destroy(m->output.buffer);
    ei_buffer_destroy(m->rope_freqs.buffer);
    for (uint32_t l = 0; m->layers && l < m->config.n_layer; l++)
        for (int i = 0; i < EI_W_LAYER_COUNT; i++)
            ei_buffer_destroy(m->layers[l].w[i].buffer);
    ei_host_free(m->ctx, m->layers);
    ei_host_free(m->ctx, m);
}

const ei_model_config *ei_model_config_of(const ei_model *m) { return m ? &m->config : NULL; }

uint64_t ei_model_weight_bytes(const ei_model *m) {
    if (!m) return 0;
    uint64_t sum = m->token_embd.bytes + m->output_norm.bytes + m->output.bytes + m->rope_freqs.bytes;
    for (uint32_t l = 0; l < m->config.n_layer; l++)
        for (int i = 0; i < EI_W_LAYER_COUNT; i++)
            sum += m->layers[l].w[i].bytes;
    return sum;
}
