#version 450
// RMSNorm over rows: out[r][c] = x[r][c] / sqrt(mean_c(x[r][c]^2) + eps)
// * w[c] (w optional). Per-head norms (QK-norm) are rows of one head.
// One workgroup per row.
#extension GL_GOOGLE_include_directive : require

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint WG = 128;

#include "common/reduce.glsl"

layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) readonly buffer Wt { float w[]; };
layout(set = 0, binding = 2) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Push {
    uint dim, row_base, has_weight;
    float eps;
    uint x_skip, w_skip, o_skip;
} pc;

void main() {
    const uint r = pc.row_base + gl_WorkGroupID.x, lid = gl_LocalInvocationID.x;
    const uint at = r * pc.dim;
    float ss = 0.0;
    for (uint c = lid; c < pc.dim; c += WG) ss += x[pc.x_skip + at + c] * x[pc.x_skip + at + c];
    const float inv = inversesqrt(ei_reduce_sum(ss) / float(pc.dim) + pc.eps);
    for (uint c = lid; c < pc.dim; c += WG)
        o[pc.o_skip + at + c] = x[pc.x_skip + at + c] * inv * (pc.has_weight != 0u ? w[pc.w_skip + c] : 1.0);
}
