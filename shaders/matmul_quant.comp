#version 450
// Y[t][r] = sum_c W[r][c] * X[t][c]: a weight matrix stored in its GGUF type
// (any type of common/quant.glsl, read in place, never converted) against
// f32 activations. One workgroup per (row, tile of TT tokens): each weight
// is decoded once and used for TT tokens; TT = 1 is the decode matrix-vector
// product. The portable path: correct for every type; the fast, per-type
// kernels come with the model work.
#extension GL_GOOGLE_include_directive : require

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint WG = 64;
layout(constant_id = 2) const uint QTYPE = 0;
layout(constant_id = 3) const uint BLOCK_ELEMS = 1;
layout(constant_id = 4) const uint BLOCK_BYTES = 4;
layout(constant_id = 5) const uint TT = 1;

#include "common/quant.glsl"
#include "common/reduce.glsl"

layout(set = 0, binding = 0) readonly buffer W { uint w_words[]; };
layout(set = 0, binding = 1) readonly buffer X { float x[]; };
layout(set = 0, binding = 2) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Push {
    uint rows, cols, tokens, row_base;
    uint w_byte0, x_skip, y_skip; // w_byte0: row row_base's first byte in W; x and y in floats
} pc;

EI_DEFINE_QUANT(wq, w_words)

void main() {
    const uint r = pc.row_base + gl_WorkGroupID.x, t0 = gl_WorkGroupID.y * TT, lid = gl_LocalInvocationID.x;
    const uint row_bytes = pc.cols / BLOCK_ELEMS * BLOCK_BYTES;
    const uint base = pc.w_byte0 + gl_WorkGroupID.x * row_bytes;
    float acc[TT];
    for (uint t = 0u; t < TT; t++) acc[t] = 0.0;
    for (uint c = lid; c < pc.cols; c += WG) {
        float w = wq_at(base + (c / BLOCK_ELEMS) * BLOCK_BYTES, c % BLOCK_ELEMS);
        for (uint t = 0u; t < TT; t++)
            if (t0 + t < pc.tokens) acc[t] += w * x[pc.x_skip + (t0 + t) * pc.cols + c];
    }
    for (uint t = 0u; t < TT; t++) {
        float sum = ei_reduce_sum(acc[t]);
        if (lid == 0u && t0 + t < pc.tokens) y[pc.y_skip + (t0 + t) * pc.rows + r] = sum;
    }
}
