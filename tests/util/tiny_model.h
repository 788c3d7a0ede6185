/* Tiny random-weight models, written as GGUF in memory: the sessions' tests
 * and the failure-injection walks load them. */
#ifndef EI_TINY_MODEL_H
#define EI_TINY_MODEL_H

#include <stdint.h>

#include "util/gguf_writer.h"

#define TINY_VOCAB 96
#define TINY_EMBD 128
#define TINY_FF 192

typedef struct tiny {
    const char *arch; /* "llama", "qwen2" or "gemma3" */
    uint32_t layers, heads, kv_heads, head_dim;
    const char *skip;  /* a tensor to leave out */
    const char *wrong; /* a tensor to write with a wrong shape */
} tiny;

/* An F32 model with weights ~ U(-s, s), s = 1/sqrt(fan-in), norms ~1,
 * drawn with tu_uniform; free it with gw_free. */
gw tiny_model_write(const tiny *t);

#endif
