// Tensor element types, read from and written to buffers of 32-bit words so
// that one SPIR-V module serves f32, f16 and bf16 and needs no 16-bit storage
// feature. The type is a specialization constant of the including shader.
#ifndef EI_DTYPE_GLSL
#define EI_DTYPE_GLSL

#define EI_F32 0u
#define EI_F16 1u
#define EI_BF16 2u

// Two 16-bit elements of one word, the lower-addressed one in .x.
vec2 ei_unpack16(uint w, uint type) {
    if (type == EI_F16) return unpackHalf2x16(w);
    return vec2(uintBitsToFloat(w << 16), uintBitsToFloat(w & 0xffff0000u));
}

// Round to nearest even, as the host conversions do.
uint ei_bf16(float x) {
    uint u = floatBitsToUint(x);
    return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

// x rounded to the nearest f16 (even on ties), as a float; the
// subnormal range has a fixed quantum of 2^-24, overflow gives infinity.
float ei_round_f16(float x) {
    float a = abs(x);
    if (a < 6.103515625e-05) return roundEven(x * 16777216.0) / 16777216.0;
    if (a >= 65520.0) return x > 0.0 ? uintBitsToFloat(0x7f800000u) : uintBitsToFloat(0xff800000u);
    uint u = floatBitsToUint(x);
    u = (u + 0xfffu + ((u >> 13) & 1u)) & 0xffffe000u;
    return uintBitsToFloat(u);
}

// x rounded to `type` (EI_F16 or EI_BF16; EI_F32 leaves it).
float ei_round(float x, uint type) {
    if (type == EI_F16) return ei_round_f16(x);
    if (type == EI_BF16) return uintBitsToFloat(ei_bf16(x) << 16);
    return x;
}

uint ei_pack16(vec2 v, uint type) {
    if (type == EI_F16) return packHalf2x16(v);
    return ei_bf16(v.x) | (ei_bf16(v.y) << 16);
}

// Defines `vec2 NAME(uint e)`: elements e and e+1 (e even) of buffer BUF,
// whose element type is TYPE.
#define EI_DEFINE_LOAD2(NAME, BUF, TYPE)                                                        \
    vec2 NAME(uint e) {                                                                         \
        if (TYPE == EI_F32) return vec2(uintBitsToFloat(BUF[e]), uintBitsToFloat(BUF[e + 1u])); \
        return ei_unpack16(BUF[e >> 1], TYPE);                                                  \
    }

// Defines `void NAME(uint e, vec2 v)`: stores elements e and e+1 (e even).
#define EI_DEFINE_STORE2(NAME, BUF, TYPE)          \
    void NAME(uint e, vec2 v) {                    \
        if (TYPE == EI_F32) {                      \
            BUF[e] = floatBitsToUint(v.x);         \
            BUF[e + 1u] = floatBitsToUint(v.y);    \
        } else {                                   \
            BUF[e >> 1] = ei_pack16(v, TYPE);      \
        }                                          \
    }

#endif
