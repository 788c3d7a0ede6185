// Tensor element types, read from and written to buffers of 32-bit words so
// that one SPIR-V module serves f32, f16 and bf16 and needs no 16-bit storage
// feature. DTYPE is a specialization constant the including shader declares.
#ifndef EI_DTYPE_GLSL
#define EI_DTYPE_GLSL

#define EI_F32 0u
#define EI_F16 1u
#define EI_BF16 2u

// Two 16-bit elements of one word, the lower-addressed one in .x.
vec2 ei_unpack16(uint w) {
    if (DTYPE == EI_F16) return unpackHalf2x16(w);
    return vec2(uintBitsToFloat(w << 16), uintBitsToFloat(w & 0xffff0000u));
}

// Defines `vec2 NAME(uint e)`: elements e and e+1 (e even) of buffer BUF.
#define EI_DEFINE_LOAD2(NAME, BUF)                                                       \
    vec2 NAME(uint e) {                                                                   \
        if (DTYPE == EI_F32) return vec2(uintBitsToFloat(BUF[e]), uintBitsToFloat(BUF[e + 1u])); \
        return ei_unpack16(BUF[e >> 1]);                                                  \
    }

#endif
