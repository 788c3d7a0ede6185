// Activations X at binding 1 in f32 or, where the spec constant X_F16 is
// set, f16 (the producer rounded them already: half the bytes read). Read
// four at a time from element e (e % 4 == 0).
#ifndef EI_X_QUADS_GLSL
#define EI_X_QUADS_GLSL

layout(set = 0, binding = 1) readonly buffer X { vec4 x4[]; };
layout(set = 0, binding = 1) readonly buffer X16 { uvec2 x16[]; }; // the same binding seen as f16 quads

vec4 x_at4(uint e) {
    if (!X_F16) return x4[e / 4u];
    uvec2 q = x16[e / 4u];
    return vec4(unpackHalf2x16(q.x), unpackHalf2x16(q.y));
}

// As stored: four f16 in .xy for X_F16, else four f32 bit patterns.
uvec4 x_bits4(uint e) { return X_F16 ? uvec4(x16[e / 4u], 0u, 0u) : floatBitsToUint(x4[e / 4u]); }

#endif
