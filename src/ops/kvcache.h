/* The KV cache's inside, shared by ops/kvcache.c and methods/decode.c. */
#ifndef EI_OPS_KVCACHE_H
#define EI_OPS_KVCACHE_H

#include "../vk/internal.h"

struct ei_kv_cache {
    ei_context *ctx;
    ei_kv_cache_desc desc;
    uint32_t heads; /* stored heads: kv_heads * expand */
    uint32_t len;   /* the most rows any head holds */
    ei_buffer *k, *v, *lens;
    ei_buffer *obs;     /* [window][query_heads][dim], a ring */
    uint64_t obs_count; /* query rows ever observed; row r sits at r % window */
};

/* A float tensor seen as 32-bit words. */
ei_tensor ei_kv_words(ei_tensor t);

#endif
