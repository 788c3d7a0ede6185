#version 450
// Entropy of the observation softmax (algorithm.md section 1, steps 7-8):
// per (segment, KV head), P = softmax over all nblk blocks in f32 with the
// masked blocks (j >= s * nrep) at the most negative finite value, and
// E = -sum P ln(P + 1e-9). Masked blocks have P = 0 exactly unless every
// block is masked (segment 0), where P is uniform.
#extension GL_GOOGLE_include_directive : require

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint WG = 256;

#include "common/reduce.glsl"

layout(set = 0, binding = 0) readonly buffer Scores { float scores[]; };
layout(set = 0, binding = 1) writeonly buffer Entropy { float entropy[]; };

layout(push_constant) uniform Push {
    uint nseg, nblk, nrep, scores_skip, entropy_skip;
} pc;

void main() {
    const uint s = gl_WorkGroupID.x, hk = gl_WorkGroupID.y, lid = gl_LocalInvocationID.x;
    const uint n = min(s * pc.nrep, pc.nblk);
    const uint row = pc.scores_skip + (hk * pc.nseg + s) * pc.nblk;
    float e;
    if (n == 0u) {
        float p = 1.0 / float(pc.nblk);
        e = -float(pc.nblk) * p * log(p + 1e-9);
    } else {
        float big = uintBitsToFloat(0xff800000u);
        for (uint j = lid; j < n; j += WG) big = max(big, scores[row + j]);
        big = ei_reduce_max(big);
        float z = 0.0;
        for (uint j = lid; j < n; j += WG) z += exp(scores[row + j] - big);
        z = ei_reduce_sum(z);
        float h = 0.0;
        for (uint j = lid; j < n; j += WG) {
            float p = exp(scores[row + j] - big) / z;
            h -= p * log(p + 1e-9);
        }
        e = ei_reduce_sum(h);
    }
    if (lid == 0u) entropy[pc.entropy_skip + hk * pc.nseg + s] = e;
}
