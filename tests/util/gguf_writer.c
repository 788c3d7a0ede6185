#include "gguf_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gw_bytes(gw *w, const void *p, size_t n) {
    if (w->size + n > w->capacity) {
        size_t cap = w->capacity ? w->capacity : 256;
        while (cap < w->size + n)
            cap *= 2;
        uint8_t *grown = realloc(w->data, cap);
        if (!grown) {
            fprintf(stderr, "out of host memory\n");
            exit(1);
        }
        w->data = grown;
        w->capacity = cap;
    }
    memcpy(w->data + w->size, p, n);
    w->size += n;
}

static void gw_le(gw *w, uint64_t v, int n) {
    uint8_t b[8];
    for (int i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    gw_bytes(w, b, (size_t)n);
}

void gw_u8(gw *w, uint8_t v) { gw_le(w, v, 1); }
void gw_u16(gw *w, uint16_t v) { gw_le(w, v, 2); }
void gw_u32(gw *w, uint32_t v) { gw_le(w, v, 4); }
void gw_u64(gw *w, uint64_t v) { gw_le(w, v, 8); }

void gw_str(gw *w, const char *s) {
    gw_u64(w, strlen(s));
    gw_bytes(w, s, strlen(s));
}

void gw_pad(gw *w, size_t alignment) {
    while (w->size % alignment)
        gw_u8(w, 0);
}

void gw_free(gw *w) {
    free(w->data);
    w->data = NULL;
    w->size = w->capacity = 0;
}

static void key(gw *w, const char *k, uint32_t type) {
    gw_str(w, k);
    gw_u32(w, type);
}

gw gw_sample(uint32_t version) {
    gw w = {0};
    gw_bytes(&w, "GGUF", 4);
    gw_u32(&w, version);
    gw_u64(&w, 4);  /* tensors */
    gw_u64(&w, 18); /* metadata pairs */
    key(&w, "general.architecture", 8), gw_str(&w, "llama");
    key(&w, "general.alignment", 4), gw_u32(&w, 64);
    key(&w, "t.u8", 0), gw_u8(&w, 200);
    key(&w, "t.i8", 1), gw_u8(&w, (uint8_t)-5);
    key(&w, "t.u16", 2), gw_u16(&w, 60000);
    key(&w, "t.i16", 3), gw_u16(&w, (uint16_t)-300);
    key(&w, "t.u32", 4), gw_u32(&w, 4000000000u);
    key(&w, "t.i32", 5), gw_u32(&w, (uint32_t)-70000);
    float f = 1.5f;
    uint32_t fb;
    memcpy(&fb, &f, 4);
    key(&w, "t.f32", 6), gw_u32(&w, fb);
    key(&w, "t.bool", 7), gw_u8(&w, 1);
    key(&w, "t.u64", 10), gw_u64(&w, 1ull << 40);
    key(&w, "t.i64", 11), gw_u64(&w, (uint64_t) - (1ll << 40));
    double d = -2.25;
    uint64_t db;
    memcpy(&db, &d, 8);
    key(&w, "t.f64", 12), gw_u64(&w, db);
    key(&w, "t.strings", 9), gw_u32(&w, 8), gw_u64(&w, 3);
    gw_str(&w, "<s>"), gw_str(&w, ""), gw_str(&w, "\xe2\x96\x81h\xc3\xa9");
    key(&w, "t.u32s", 9), gw_u32(&w, 4), gw_u64(&w, 3), gw_u32(&w, 7), gw_u32(&w, 8), gw_u32(&w, 9);
    key(&w, "t.f32s", 9), gw_u32(&w, 6), gw_u64(&w, 2), gw_u32(&w, fb), gw_u32(&w, fb);
    key(&w, "t.nested", 9), gw_u32(&w, 9), gw_u64(&w, 2);
    gw_u32(&w, 1), gw_u64(&w, 2), gw_u8(&w, 1), gw_u8(&w, 2);
    gw_u32(&w, 1), gw_u64(&w, 0);
    key(&w, "t.empty", 9), gw_u32(&w, 0), gw_u64(&w, 0);
    /* Tensors: name, dims, type, offset (multiples of 64). */
    gw_str(&w, "a"), gw_u32(&w, 2), gw_u64(&w, 4), gw_u64(&w, 3), gw_u32(&w, 0), gw_u64(&w, 0);      /* 48 bytes */
    gw_str(&w, "b"), gw_u32(&w, 1), gw_u64(&w, 8), gw_u32(&w, 1), gw_u64(&w, 64);                    /* 16 bytes */
    gw_str(&w, "c"), gw_u32(&w, 2), gw_u64(&w, 64), gw_u64(&w, 1), gw_u32(&w, 8), gw_u64(&w, 128);   /* 68 bytes */
    gw_str(&w, "d"), gw_u32(&w, 2), gw_u64(&w, 256), gw_u64(&w, 2), gw_u32(&w, 12), gw_u64(&w, 256); /* 288 */
    gw_pad(&w, 64);
    for (int i = 0; i < 256 + 288; i++)
        gw_u8(&w, (uint8_t)(i * 7));
    return w;
}
