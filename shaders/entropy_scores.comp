#version 450
// Observation scores (algorithm.md section 1, steps 4-6): for block j and
// segment s of KV head hk, A = mean over the group's query heads of
// max(a_max, a_min), a_max = (Qmax . Kmax + Qmin . Kmax) / 2,
// a_min = (Qmax . Kmin + Qmin . Kmin) / 2, unscaled, in f32. Only the
// visible blocks j < s * nrep are written; the others are masked.
// With ROUND (reference mode, section 2b) each matmul result, each mean of
// two and the group mean are rounded to the model's dtype, as the paper's
// code does.
//
// Workgroup (block tile, segment tile, hk): one invocation per block; the
// ST segments' Qmax and Qmin of the G heads sit in shared memory, so each K
// summary row read serves ST segments.
#extension GL_GOOGLE_include_directive : require

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint WG = 64;
layout(constant_id = 2) const uint D = 128;
layout(constant_id = 3) const uint G = 4;  // query heads per KV head
layout(constant_id = 4) const uint ST = 8; // segments per workgroup
layout(constant_id = 5) const uint ROUND = 0; // EI_F32: none; EI_F16 or EI_BF16

#include "common/dtype.glsl"

layout(set = 0, binding = 0) readonly buffer QMax { float qmax[]; };
layout(set = 0, binding = 1) readonly buffer QMin { float qmin[]; };
layout(set = 0, binding = 2) readonly buffer KMax { float kmax[]; };
layout(set = 0, binding = 3) readonly buffer KMin { float kmin[]; };
layout(set = 0, binding = 4) writeonly buffer Scores { float scores[]; };

layout(push_constant) uniform Push {
    uint nseg, nblk, nrep, heads, kv_heads;
    uint qmax_skip, qmin_skip, kmax_skip, kmin_skip, scores_skip;
} pc;

shared vec2 q_sh[ST * G * D]; // (Qmax, Qmin)

void main() {
    const uint lid = gl_LocalInvocationID.x;
    const uint j = gl_WorkGroupID.x * WG + lid;
    const uint s0 = gl_WorkGroupID.y * ST;
    const uint hk = gl_WorkGroupID.z;
    for (uint e = lid; e < ST * G * D; e += WG) {
        uint s = s0 + e / (G * D), g = (e / D) % G, c = e % D;
        uint at = (min(s, pc.nseg - 1u) * pc.heads + hk * G + g) * D + c;
        q_sh[e] = vec2(qmax[pc.qmax_skip + at], qmin[pc.qmin_skip + at]);
    }
    barrier();
    // Blocks no segment of this tile can see need no work.
    uint last_seg = min(s0 + ST, pc.nseg) - 1u;
    if (j >= pc.nblk || j >= last_seg * pc.nrep) return;

    float mean[ST];
    for (uint t = 0u; t < ST; t++) mean[t] = 0.0;
    const uint krow = (j * pc.kv_heads + hk) * D;
    for (uint g = 0u; g < G; g++) {
        // With ROUND the paper's two matmuls (Qmax . K and Qmin . K, each
        // rounded); without, the sums (Qmax + Qmin) . K.
        vec2 ax[ST], an[ST];
        float sx[ST], sn[ST];
        for (uint t = 0u; t < ST; t++) {
            ax[t] = an[t] = vec2(0.0);
            sx[t] = sn[t] = 0.0;
        }
        for (uint c = 0u; c < D; c++) {
            float kx = kmax[pc.kmax_skip + krow + c], kn = kmin[pc.kmin_skip + krow + c];
            for (uint t = 0u; t < ST; t++) {
                vec2 q = q_sh[(t * G + g) * D + c];
                if (ROUND != EI_F32) {
                    ax[t] += q * kx;
                    an[t] += q * kn;
                } else {
                    sx[t] += (q.x + q.y) * kx;
                    sn[t] += (q.x + q.y) * kn;
                }
            }
        }
        for (uint t = 0u; t < ST; t++) {
            float a_max = ei_round((ei_round(ax[t].x, ROUND) + ei_round(ax[t].y, ROUND)) * 0.5, ROUND);
            float a_min = ei_round((ei_round(an[t].x, ROUND) + ei_round(an[t].y, ROUND)) * 0.5, ROUND);
            if (ROUND == EI_F32) { // (Qmax + Qmin) . K: no cancellation between the two products
                a_max = sx[t] * 0.5;
                a_min = sn[t] * 0.5;
            }
            mean[t] += max(a_max, a_min);
        }
    }
    for (uint t = 0u; t < ST; t++) {
        uint s = s0 + t;
        if (s < pc.nseg && j < s * pc.nrep)
            scores[pc.scores_skip + (hk * pc.nseg + s) * pc.nblk + j] = ei_round(mean[t] / float(G), ROUND);
    }
}
