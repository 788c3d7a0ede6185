/* A tiny GGUF writer for tests and fuzz seeds: bytes appended to a growing
 * buffer, little-endian, no checking (tests write broken files on purpose). */
#ifndef EI_GGUF_WRITER_H
#define EI_GGUF_WRITER_H

#include <stddef.h>
#include <stdint.h>

typedef struct gw {
    uint8_t *data;
    size_t size, capacity;
} gw;

void gw_bytes(gw *w, const void *p, size_t n);
void gw_u8(gw *w, uint8_t v);
void gw_u16(gw *w, uint16_t v);
void gw_u32(gw *w, uint32_t v);
void gw_u64(gw *w, uint64_t v);
void gw_str(gw *w, const char *s);
/* Zero bytes up to a multiple of `alignment`. */
void gw_pad(gw *w, size_t alignment);
void gw_free(gw *w);

/* A valid version-3 file with a value of every type, nested and string
 * arrays, and four tensors (F32, F16, Q8_0, Q4_K) with patterned data. */
gw gw_sample(uint32_t version);

#endif
