#version 450
// Embedding lookup: out[t][c] = W[ids[t]][c] * scale, W [vocab][dim] in its
// ggml type (read in place through common/quant.glsl). One invocation per
// output element; a vocabulary past one binding comes in pieces of rows.
#extension GL_GOOGLE_include_directive : require

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint QTYPE = 0;
layout(constant_id = 2) const uint BLOCK_ELEMS = 1;
layout(constant_id = 3) const uint BLOCK_BYTES = 4;

#include "common/quant.glsl"

layout(set = 0, binding = 0) readonly buffer W { uint w_words[]; };
layout(set = 0, binding = 1) readonly buffer Ids { uint ids[]; };
layout(set = 0, binding = 2) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Push {
    uint tokens, dim, vocab;
    float scale;
    uint row_base, rows, w_byte0, ids_skip, o_skip; // this dispatch's rows of W: [row_base, row_base + rows) from byte w_byte0
} pc;

EI_DEFINE_QUANT(wq, w_words)

void main() {
    const uint g = gl_GlobalInvocationID.x;
    if (g >= pc.tokens * pc.dim) return;
    const uint t = g / pc.dim, c = g % pc.dim;
    const uint id = min(ids[pc.ids_skip + t], pc.vocab - 1u); // an id past the vocabulary must not read past W
    if (id < pc.row_base || id - pc.row_base >= pc.rows) return; // another piece's row
    const uint row = pc.w_byte0 + (id - pc.row_base) * (pc.dim / BLOCK_ELEMS * BLOCK_BYTES);
    o[pc.o_skip + g] = wq_at(row + (c / BLOCK_ELEMS) * BLOCK_BYTES, c % BLOCK_ELEMS) * pc.scale;
}
