#version 450
// Y[t][r] = sum_c W[r][c] * X[t][c]: a weight matrix stored in its GGUF type
// (any type of common/quant.glsl, read in place, never converted) against
// f32 activations. A workgroup takes ROWS rows, LANES threads per row, and a
// tile of TT tokens: each weight is decoded once and used for TT tokens;
// TT = 1 is the decode matrix-vector product. The portable path: correct
// for every type.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint WG = 64;
layout(constant_id = 2) const uint QTYPE = 0;
layout(constant_id = 3) const uint BLOCK_ELEMS = 1;
layout(constant_id = 4) const uint BLOCK_BYTES = 4;
layout(constant_id = 5) const uint TT = 1;
layout(constant_id = 6) const uint LANES = 64; // threads per row, a power of two dividing WG
layout(constant_id = 7) const uint UNROLL = 1; // column steps in flight per loop pass

#include "common/quant.glsl"

layout(set = 0, binding = 0) readonly buffer W { uint w_words[]; };
layout(set = 0, binding = 1) readonly buffer X { vec4 x4[]; }; // 16-byte reads: x_skip % 4 == 0
layout(set = 0, binding = 2) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Push {
    uint rows, cols, tokens, row_base, piece_rows;
    uint w_byte0, x_skip, y_skip; // w_byte0: row row_base's first byte in W; x and y in floats
} pc;

EI_DEFINE_QUANT(wq, w_words)

shared float partial[WG * TT];

void main() {
    const uint lid = gl_LocalInvocationID.x, lane = lid % LANES;
    const uint local_row = gl_WorkGroupID.x * (WG / LANES) + lid / LANES, t0 = gl_WorkGroupID.y * TT;
    const bool live = local_row < pc.piece_rows;
    const uint row_bytes = pc.cols / BLOCK_ELEMS * BLOCK_BYTES;
    const uint base = pc.w_byte0 + local_row * row_bytes;
    float acc[TT];
    for (uint t = 0u; t < TT; t++) acc[t] = 0.0;
    // Four consecutive columns per step (cols are whole blocks, and blocks
    // whole multiples of 4 elements, or float types where cols % 4 is checked),
    // UNROLL steps at a time: their weight reads are in flight together
    // (decode is bound by memory latency).
    const uint STEP = LANES * 4u;
    for (uint c0 = lane * 4u; live && c0 < pc.cols; c0 += STEP * UNROLL) {
        [[unroll]] for (uint u = 0u; u < UNROLL; u++) {
            const uint c = c0 + u * STEP;
            if (c >= pc.cols) break;
            vec4 w = BLOCK_ELEMS == 1u ? wq_at4(base + c * BLOCK_BYTES, 0u)
                                       : wq_at4(base + (c / BLOCK_ELEMS) * BLOCK_BYTES, c % BLOCK_ELEMS);
            // Tokens past the end read the last one (no branch in the loop) and are not written.
            for (uint t = 0u; t < TT; t++)
                acc[t] += dot(w, x4[(pc.x_skip + min(t0 + t, pc.tokens - 1u) * pc.cols + c) / 4u]);
        }
    }
    for (uint t = 0u; t < TT; t++) partial[lid * TT + t] = acc[t];
    barrier();
    for (uint s = LANES / 2u; s > 0u; s /= 2u) {
        if (lane < s)
            for (uint t = 0u; t < TT; t++) partial[lid * TT + t] += partial[(lid + s) * TT + t];
        barrier();
    }
    if (lane == 0u && live)
        for (uint t = 0u; t < TT && t0 + t < pc.tokens; t++)
            y[pc.y_skip + (t0 + t) * pc.rows + pc.row_base + local_row] = partial[lid * TT + t];
}
