#version 450
// f32 to the output's element type (f32, f16, bf16; round to nearest even),
// a pair of elements per invocation so 16-bit outputs are whole words.
#extension GL_GOOGLE_include_directive : require

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint ODTYPE = 0;

#include "common/dtype.glsl"

layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) writeonly buffer O { uint o_buf[]; };

layout(push_constant) uniform Push {
    uint pairs, base, x_skip, o_skip;
} pc;

EI_DEFINE_STORE2(store_o, o_buf, ODTYPE)

void main() {
    const uint i = pc.base + gl_GlobalInvocationID.x;
    if (i >= pc.pairs) return;
    store_o(pc.o_skip + 2u * i, vec2(x[pc.x_skip + 2u * i], x[pc.x_skip + 2u * i + 1u]));
}
