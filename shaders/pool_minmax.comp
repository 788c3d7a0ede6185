#version 450
// Element-wise max and min over groups of rows, per head (algorithm.md
// section 1, steps 2-3): segment summaries of Q, block summaries of K.
// One invocation per (group, head, pair of dims); it walks the group's rows.
#extension GL_GOOGLE_include_directive : require

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint DTYPE = 0;
#include "common/dtype.glsl"

layout(set = 0, binding = 0) readonly buffer X { uint x[]; };
layout(set = 0, binding = 1) writeonly buffer OutMax { float out_max[]; };
layout(set = 0, binding = 2) writeonly buffer OutMin { float out_min[]; };

layout(push_constant) uniform Push {
    uint rows;    // rows of x in this piece (the last group may be ragged)
    uint heads;
    uint dim;     // even
    uint group;   // rows per group
    uint x_skip;  // elements between the x binding's start and row 0
    uint max_skip;
    uint min_skip;
} pc;

EI_DEFINE_LOAD2(load_x, x, DTYPE)

void main() {
    uint pairs = pc.heads * (pc.dim / 2u);
    uint t = gl_GlobalInvocationID.x;
    uint g = gl_WorkGroupID.y;
    if (t >= pairs) return;
    uint row_stride = pc.heads * pc.dim;
    uint first = g * pc.group;
    uint last = min(first + pc.group, pc.rows);
    uint e = pc.x_skip + first * row_stride + 2u * t;
    vec2 hi = load_x(e);
    vec2 lo = hi;
    for (uint r = first + 1u; r < last; r++) {
        e += row_stride;
        vec2 v = load_x(e);
        hi = max(hi, v);
        lo = min(lo, v);
    }
    uint o = g * row_stride + 2u * t;
    out_max[pc.max_skip + o] = hi.x;
    out_max[pc.max_skip + o + 1u] = hi.y;
    out_min[pc.min_skip + o] = lo.x;
    out_min[pc.min_skip + o + 1u] = lo.y;
}
