// Element reads from ggml-quantized tensors (docs/quantization.md) stored
// as raw bytes in a buffer of 32-bit words. QTYPE is the including shader's
// specialization constant (ggml's type id); BUF names its word buffer.
// NAME_at decodes one element (any index); NAME_at4 four consecutive ones
// (e a multiple of 4) with a scale and a few word reads shared by the four:
// what the matrix kernels use.
#ifndef EI_QUANT_GLSL
#define EI_QUANT_GLSL

#define GGML_F32 0u
#define GGML_F16 1u
#define GGML_Q4_0 2u
#define GGML_Q4_1 3u
#define GGML_Q5_0 6u
#define GGML_Q5_1 7u
#define GGML_Q8_0 8u
#define GGML_Q4_K 12u
#define GGML_Q5_K 13u
#define GGML_Q6_K 14u
#define GGML_BF16 30u

// Defines, for word buffer BUF:
//   uint NAME_byte(uint b)        the byte at offset b
//   float NAME_at(uint blk, uint e) element e of the block starting at byte blk
//   vec4 NAME_at4(uint blk, uint e)  elements e..e+3 (e % 4 == 0); for F32,
//                                    F16 and BF16, blk is element e's byte
#define EI_DEFINE_QUANT(NAME, BUF)                                                                 \
    uint NAME##_byte(uint b) { return (BUF[b >> 2] >> ((b & 3u) * 8u)) & 0xffu; }                \
    float NAME##_half(uint b) { return unpackHalf2x16(NAME##_byte(b) | (NAME##_byte(b + 1u) << 8)).x; } \
    /* Four bytes from any offset: one or two word reads (both inside the data read). */          \
    uint NAME##_u32(uint b) {                                                                      \
        uint sh = (b & 3u) * 8u, w0 = BUF[b >> 2];                                                 \
        return sh == 0u ? w0 : (w0 >> sh) | (BUF[(b >> 2) + 1u] << (32u - sh));                    \
    }                                                                                              \
    vec4 NAME##_i8x4(uint v) { return vec4(ivec4(v << 24, v << 16, v << 8, v) >> 24); }          \
    vec4 NAME##_u8x4(uint v) { return vec4(uvec4(v, v >> 8, v >> 16, v >> 24) & 0xffu); }       \
    /* Q4_K/Q5_K: 6-bit scale (x) and min (y) of sub-block j from the 12 bytes at s. */           \
    uvec2 NAME##_scale_min(uint s, uint j) {                                                       \
        if (j < 4u) return uvec2(NAME##_byte(s + j) & 63u, NAME##_byte(s + j + 4u) & 63u);        \
        return uvec2((NAME##_byte(s + j + 4u) & 0xfu) | ((NAME##_byte(s + j - 4u) >> 6) << 4),     \
                     (NAME##_byte(s + j + 4u) >> 4) | ((NAME##_byte(s + j) >> 6) << 4));          \
    }                                                                                              \
    float NAME##_at(uint blk, uint e) {                                                            \
        if (QTYPE == GGML_F32) return uintBitsToFloat(NAME##_u32(blk));                            \
        if (QTYPE == GGML_F16) return NAME##_half(blk);                                            \
        if (QTYPE == GGML_BF16) return uintBitsToFloat((NAME##_byte(blk) | (NAME##_byte(blk + 1u) << 8)) << 16); \
        if (QTYPE == GGML_Q8_0) return float(int(NAME##_byte(blk + 2u + e) << 24) >> 24) * NAME##_half(blk); \
        if (QTYPE == GGML_Q4_0 || QTYPE == GGML_Q4_1 || QTYPE == GGML_Q5_0 || QTYPE == GGML_Q5_1) { \
            bool has_min = QTYPE == GGML_Q4_1 || QTYPE == GGML_Q5_1;                               \
            bool five = QTYPE == GGML_Q5_0 || QTYPE == GGML_Q5_1;                                  \
            uint p = blk + (has_min ? 4u : 2u);                                                    \
            uint qh = five ? NAME##_u32(p) : 0u;                                                   \
            uint qs = NAME##_byte(p + (five ? 4u : 0u) + (e & 15u));                              \
            uint x = e < 16u ? (qs & 0xfu) | (((qh >> e) << 4) & 0x10u)                            \
                             : (qs >> 4) | ((qh >> (e - 16u + 12u)) & 0x10u);                      \
            float offset = has_min ? 0.0 : (five ? 16.0 : 8.0);                                    \
            return (float(x) - offset) * NAME##_half(blk) + (has_min ? NAME##_half(blk + 2u) : 0.0); \
        }                                                                                          \
        if (QTYPE == GGML_Q4_K || QTYPE == GGML_Q5_K) {                                            \
            uint chunk = e / 64u, l = e % 32u, upper = (e / 32u) & 1u;                             \
            uvec2 sm = NAME##_scale_min(blk + 4u, 2u * chunk + upper);                             \
            uint ql = blk + (QTYPE == GGML_Q5_K ? 48u : 16u) + chunk * 32u + l;                    \
            uint q = upper == 0u ? NAME##_byte(ql) & 0xfu : NAME##_byte(ql) >> 4;                  \
            if (QTYPE == GGML_Q5_K && ((NAME##_byte(blk + 16u + l) >> (2u * chunk + upper)) & 1u) != 0u) q += 16u; \
            return NAME##_half(blk) * float(sm.x) * float(q) - NAME##_half(blk + 2u) * float(sm.y); \
        }                                                                                          \
        /* Q6_K */                                                                                 \
        uint half_block = e / 128u, r = e % 128u, quarter = r / 32u, l = r % 32u;                  \
        uint lo = NAME##_byte(blk + half_block * 64u + l + ((quarter & 1u) != 0u ? 32u : 0u));     \
        uint lo4 = quarter < 2u ? lo & 0xfu : lo >> 4;                                             \
        uint hi = (NAME##_byte(blk + 128u + half_block * 32u + l) >> (2u * quarter)) & 3u;        \
        int q = int(lo4 | (hi << 4)) - 32;                                                         \
        int sc = int(NAME##_byte(blk + 192u + half_block * 8u + l / 16u + 2u * quarter) << 24) >> 24; \
        return NAME##_half(blk + 208u) * float(sc) * float(q);                                     \
    }                                                                                              \
    vec4 NAME##_at4(uint blk, uint e) {                                                            \
        if (QTYPE == GGML_F32)                                                                     \
            return uintBitsToFloat(uvec4(NAME##_u32(blk), NAME##_u32(blk + 4u), NAME##_u32(blk + 8u), NAME##_u32(blk + 12u))); \
        if (QTYPE == GGML_F16) {                                                                   \
            uint a = NAME##_u32(blk), b = NAME##_u32(blk + 4u);                                    \
            return vec4(unpackHalf2x16(a), unpackHalf2x16(b));                                     \
        }                                                                                          \
        if (QTYPE == GGML_BF16) {                                                                  \
            uint a = NAME##_u32(blk), b = NAME##_u32(blk + 4u);                                    \
            return uintBitsToFloat(uvec4(a << 16, a & 0xffff0000u, b << 16, b & 0xffff0000u));    \
        }                                                                                          \
        if (QTYPE == GGML_Q8_0) return NAME##_i8x4(NAME##_u32(blk + 2u + e)) * NAME##_half(blk);   \
        if (QTYPE == GGML_Q4_0 || QTYPE == GGML_Q4_1 || QTYPE == GGML_Q5_0 || QTYPE == GGML_Q5_1) { \
            bool has_min = QTYPE == GGML_Q4_1 || QTYPE == GGML_Q5_1;                               \
            bool five = QTYPE == GGML_Q5_0 || QTYPE == GGML_Q5_1;                                  \
            uint p = blk + (has_min ? 4u : 2u);                                                    \
            uint qs = NAME##_u32(p + (five ? 4u : 0u) + (e & 15u));                                \
            uint nib = e < 16u ? qs & 0x0f0f0f0fu : (qs >> 4) & 0x0f0f0f0fu;                       \
            vec4 x = NAME##_u8x4(nib);                                                             \
            if (five) { /* bit e+i of qh is element e+i's fifth bit */                             \
                uint hb = NAME##_u32(p) >> e;                                                      \
                x += vec4(uvec4(hb, hb >> 1, hb >> 2, hb >> 3) & 1u) * 16.0;                       \
            }                                                                                      \
            float offset = has_min ? 0.0 : (five ? 16.0 : 8.0);                                    \
            return (x - offset) * NAME##_half(blk) + (has_min ? NAME##_half(blk + 2u) : 0.0);      \
        }                                                                                          \
        if (QTYPE == GGML_Q4_K || QTYPE == GGML_Q5_K) {                                            \
            uint chunk = e / 64u, l = e % 32u, upper = (e / 32u) & 1u;                             \
            uvec2 sm = NAME##_scale_min(blk + 4u, 2u * chunk + upper);                             \
            uint ql = NAME##_u32(blk + (QTYPE == GGML_Q5_K ? 48u : 16u) + chunk * 32u + l);        \
            vec4 q = NAME##_u8x4(upper == 0u ? ql & 0x0f0f0f0fu : (ql >> 4) & 0x0f0f0f0fu);        \
            if (QTYPE == GGML_Q5_K) {                                                              \
                uint qh = (NAME##_u32(blk + 16u + l) >> (2u * chunk + upper)) & 0x01010101u;       \
                q += NAME##_u8x4(qh) * 16.0;                                                       \
            }                                                                                      \
            return NAME##_half(blk) * float(sm.x) * q - NAME##_half(blk + 2u) * float(sm.y);       \
        }                                                                                          \
        /* Q6_K */                                                                                 \
        uint half_block = e / 128u, r = e % 128u, quarter = r / 32u, l = r % 32u;                  \
        uint lo = NAME##_u32(blk + half_block * 64u + l + ((quarter & 1u) != 0u ? 32u : 0u));      \
        uint lo4 = quarter < 2u ? lo & 0x0f0f0f0fu : (lo >> 4) & 0x0f0f0f0fu;                      \
        uint hi = (NAME##_u32(blk + 128u + half_block * 32u + l) >> (2u * quarter)) & 0x03030303u; \
        vec4 q = NAME##_u8x4(lo4 | (hi << 4)) - 32.0;                                              \
        int sc = int(NAME##_byte(blk + 192u + half_block * 8u + l / 16u + 2u * quarter) << 24) >> 24; \
        return NAME##_half(blk + 208u) * float(sc) * q;                                            \
    }

#endif
