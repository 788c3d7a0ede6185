#version 450
// Second pass of split-K decode attention: merges the (m, l, o) partials
// of attn_flash's key chunks into the normalised output. One workgroup per
// (token, head) row; each invocation owns a pair of dims.
#extension GL_GOOGLE_include_directive : require

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint ODTYPE = 0;
layout(constant_id = 2) const uint D = 128;

#include "common/dtype.glsl"

layout(set = 0, binding = 0) readonly buffer Part { float part[]; };
layout(set = 0, binding = 1) writeonly buffer O { uint o_buf[]; };

layout(push_constant) uniform Push {
    uint rows;   // Lq * H
    uint splits;
    uint part_skip;
    uint o_skip;
} pc;

EI_DEFINE_STORE2(store_o, o_buf, ODTYPE)

#define NEG_INF uintBitsToFloat(0xff800000u)

void main() {
    const uint row = gl_WorkGroupID.x;
    const uint p = gl_LocalInvocationID.x;
    if (p >= D / 2u) return;
    const uint stride = pc.rows * (D + 2u); // between splits
    const uint base = pc.part_skip + row * (D + 2u);
    float big = NEG_INF;
    for (uint s = 0u; s < pc.splits; s++) big = max(big, part[base + s * stride + D]);
    vec2 acc = vec2(0.0);
    float l = 0.0;
    if (big != NEG_INF) {
        for (uint s = 0u; s < pc.splits; s++) {
            uint at = base + s * stride;
            float w = exp(part[at + D] - big);
            l += w * part[at + D + 1u];
            acc += w * vec2(part[at + 2u * p], part[at + 2u * p + 1u]);
        }
    }
    store_o(pc.o_skip + row * D + 2u * p, l > 0.0 ? acc / l : vec2(0.0));
}
