#version 450
// Entropy of the observation softmax (algorithm.md section 1, steps 7-8):
// per (segment, KV head), P = softmax over all nblk blocks in f32 with the
// masked blocks (j >= s * nrep) at the most negative finite value, and
// E = -sum P ln(P + 1e-9). Masked blocks get P = 0 unless every block is
// masked (segment 0), where P is uniform.
//
// ROUND (reference mode, section 2b): P is rounded to the model's dtype and
// each step of the entropy too, and the mask value is that dtype's most
// negative finite value. FUSION (layer_fusion): P becomes
// 0.25 P(previous layer) + 0.75 P from layer 2 on, and the row of P is kept
// in `fused` for the next layer. WRITE_P: P replaces the visible scores, so
// that selection orders by P (rounded or fused) rather than by A.
#extension GL_GOOGLE_include_directive : require

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint WG = 256;
layout(constant_id = 2) const uint ROUND = 0; // EI_F32: none; EI_F16 or EI_BF16
layout(constant_id = 3) const uint FUSION = 0; // 0 off, 1 keep P, 2 blend with the kept P and keep
layout(constant_id = 4) const uint WRITE_P = 0;

#include "common/dtype.glsl"
#include "common/reduce.glsl"

layout(set = 0, binding = 0) coherent buffer Scores { float scores[]; };
layout(set = 0, binding = 1) writeonly buffer Entropy { float entropy[]; };
layout(set = 0, binding = 2) coherent buffer Fused { float fused[]; }; // [Hkv][nseg][nblk]

layout(push_constant) uniform Push {
    uint nseg, nblk, nrep, scores_skip, entropy_skip, fused_skip;
} pc;

float mask_value() {
    if (ROUND == EI_F16) return -65504.0;
    if (ROUND == EI_BF16) return -3.38953139e38;
    return -3.40282347e38;
}

void main() {
    const uint s = gl_WorkGroupID.x, hk = gl_WorkGroupID.y, lid = gl_LocalInvocationID.x;
    const uint n = min(s * pc.nrep, pc.nblk);
    const uint row = (hk * pc.nseg + s) * pc.nblk;
    const float masked = mask_value();
    float big = n < pc.nblk ? masked : uintBitsToFloat(0xff800000u);
    for (uint j = lid; j < n; j += WG) big = max(big, scores[pc.scores_skip + row + j]);
    big = ei_reduce_max(big);
    float z = 0.0;
    for (uint j = lid; j < pc.nblk; j += WG) z += exp((j < n ? scores[pc.scores_skip + row + j] : masked) - big);
    z = ei_reduce_sum(z);
    float h = 0.0;
    for (uint j = lid; j < pc.nblk; j += WG) {
        float p = ei_round(exp((j < n ? scores[pc.scores_skip + row + j] : masked) - big) / z, ROUND);
        if (FUSION == 2u) p = ei_round(ei_round(fused[pc.fused_skip + row + j] * 0.25, ROUND) + ei_round(p * 0.75, ROUND), ROUND);
        if (FUSION != 0u) fused[pc.fused_skip + row + j] = p;
        if (WRITE_P != 0u && j < n) scores[pc.scores_skip + row + j] = p;
        // 1e-9 rounds to 0 in f16, where the paper's code then gets 0 * log(0)
        // = NaN for every P that underflowed; we take the limit, 0.
        if (p > 0.0) h -= ei_round(p * ei_round(log(ei_round(p + 1e-9, ROUND)), ROUND), ROUND);
    }
    h = ei_reduce_sum(h);
    if (lid == 0u) entropy[pc.entropy_skip + hk * pc.nseg + s] = ei_round(h, ROUND);
}
