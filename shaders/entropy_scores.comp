#version 450
// Observation scores (algorithm.md section 1, steps 4-6): for block j and
// segment s of KV head hk, A = mean over the group's query heads of
// max(a_max, a_min), a_max = (Qmax + Qmin) . Kmax / 2,
// a_min = (Qmax + Qmin) . Kmin / 2, unscaled, in f32. Only the visible
// blocks j < s * nrep are written; the others are masked.
//
// Workgroup (block tile, segment tile, hk): one invocation per block; the
// ST segments' (Qmax + Qmin) of the G heads sit in shared memory, so each K
// summary row read serves ST segments.
#extension GL_GOOGLE_include_directive : require

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint WG = 64;
layout(constant_id = 2) const uint D = 128;
layout(constant_id = 3) const uint G = 4;  // query heads per KV head
layout(constant_id = 4) const uint ST = 8; // segments per workgroup

layout(set = 0, binding = 0) readonly buffer QMax { float qmax[]; };
layout(set = 0, binding = 1) readonly buffer QMin { float qmin[]; };
layout(set = 0, binding = 2) readonly buffer KMax { float kmax[]; };
layout(set = 0, binding = 3) readonly buffer KMin { float kmin[]; };
layout(set = 0, binding = 4) writeonly buffer Scores { float scores[]; };

layout(push_constant) uniform Push {
    uint nseg, nblk, nrep, heads, kv_heads;
    uint qmax_skip, qmin_skip, kmax_skip, kmin_skip, scores_skip;
} pc;

shared float qsum[ST * G * D];

void main() {
    const uint lid = gl_LocalInvocationID.x;
    const uint j = gl_WorkGroupID.x * WG + lid;
    const uint s0 = gl_WorkGroupID.y * ST;
    const uint hk = gl_WorkGroupID.z;
    for (uint e = lid; e < ST * G * D; e += WG) {
        uint s = s0 + e / (G * D), g = (e / D) % G, c = e % D;
        uint at = (min(s, pc.nseg - 1u) * pc.heads + hk * G + g) * D + c;
        qsum[e] = qmax[pc.qmax_skip + at] + qmin[pc.qmin_skip + at];
    }
    barrier();
    // Blocks no segment of this tile can see need no work.
    uint last_seg = min(s0 + ST, pc.nseg) - 1u;
    if (j >= pc.nblk || j >= last_seg * pc.nrep) return;

    float mean[ST];
    for (uint t = 0u; t < ST; t++) mean[t] = 0.0;
    const uint krow = (j * pc.kv_heads + hk) * D;
    for (uint g = 0u; g < G; g++) {
        float ax[ST], an[ST];
        for (uint t = 0u; t < ST; t++) ax[t] = an[t] = 0.0;
        for (uint c = 0u; c < D; c++) {
            float kx = kmax[pc.kmax_skip + krow + c], kn = kmin[pc.kmin_skip + krow + c];
            for (uint t = 0u; t < ST; t++) {
                float q = qsum[(t * G + g) * D + c];
                ax[t] += q * kx;
                an[t] += q * kn;
            }
        }
        for (uint t = 0u; t < ST; t++) mean[t] += max(ax[t], an[t]) * 0.5;
    }
    for (uint t = 0u; t < ST; t++) {
        uint s = s0 + t;
        if (s < pc.nseg && j < s * pc.nrep) scores[pc.scores_skip + (hk * pc.nseg + s) * pc.nblk + j] = mean[t] / float(G);
    }
}
