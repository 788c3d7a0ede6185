#version 450
// Scoring the cache for compression (algorithm.md section 4, step 2):
// softmax(Qobs . K^T * scale) in f32 over each stored head's cached keys,
// with the causal mask on the last W keys (observation query i sees window
// keys 0..i), averaged over the W queries, for the keys [0, len - W).
//
// MODE 0: one workgroup per (observation query i, query head h) finds the
// row's maximum m and sum z. MODE 1: one invocation per (key j, stored
// head) sums exp(s - m) / z over the queries, divides by W, and combines
// the G query heads of the stored head (AGG 0 mean, 1 max).
#extension GL_GOOGLE_include_directive : require

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint WG = 256;
layout(constant_id = 2) const uint MODE = 0;
layout(constant_id = 3) const uint DTYPE = 0;
layout(constant_id = 4) const uint D = 128;
layout(constant_id = 5) const uint W = 32;
layout(constant_id = 6) const uint AGG = 0;

#include "common/dtype.glsl"
#include "common/reduce.glsl"

layout(set = 0, binding = 0) readonly buffer Q { uint q_buf[]; };     // [W][H][D]
layout(set = 0, binding = 1) readonly buffer K { uint k_buf[]; };     // [cap][Hc][D]
layout(set = 0, binding = 2) readonly buffer Lens { uint lens[]; };   // [Hc]
layout(set = 0, binding = 3) coherent buffer Stats { vec2 stats[]; }; // [H][W] (m, z)
layout(set = 0, binding = 4) writeonly buffer Score { float score[]; }; // [Hc][cap]

layout(push_constant) uniform Push {
    uint heads, cache_heads, capacity;
    float scale;
    uint q_start; // observation query i sits at row (q_start + i) % W (a ring)
    uint q_skip, k_skip, lens_skip, stats_skip, score_skip;
} pc;

EI_DEFINE_LOAD2(load_q, q_buf, DTYPE)
EI_DEFINE_LOAD2(load_k, k_buf, DTYPE)

#define NEG_INF uintBitsToFloat(0xff800000u)

float dot_qk(uint i, uint h, uint j, uint hc) {
    float s = 0.0;
    for (uint p = 0u; p < D / 2u; p++)
        s += dot(load_q(pc.q_skip + (((pc.q_start + i) % W) * pc.heads + h) * D + 2u * p), load_k(pc.k_skip + (j * pc.cache_heads + hc) * D + 2u * p));
    return s * pc.scale;
}

void main() {
    const uint G = pc.heads / pc.cache_heads;
    if (MODE == 0u) {
        const uint i = gl_WorkGroupID.x, h = gl_WorkGroupID.y, hc = h / G;
        const int len = int(lens[pc.lens_skip + hc]);
        const int visible = min(len, len - int(W) + int(i) + 1); // keys before the window, and window keys 0..i
        float m = NEG_INF, z = 0.0;
        for (int j = int(gl_LocalInvocationID.x); j < visible; j += int(WG)) {
            float s = dot_qk(i, h, uint(j), hc);
            if (s > m) {
                z = z * exp(m - s) + 1.0;
                m = s;
            } else {
                z += exp(s - m);
            }
        }
        float big = ei_reduce_max(m);
        float total = ei_reduce_sum(m == NEG_INF ? 0.0 : z * exp(m - big));
        if (gl_LocalInvocationID.x == 0u) stats[pc.stats_skip / 2u + h * W + i] = vec2(big, total);
        return;
    }
    const uint j = gl_GlobalInvocationID.x, hc = gl_WorkGroupID.y;
    const uint len = lens[pc.lens_skip + hc];
    if (len < W || j >= len - W) return;
    float agg = AGG == 0u ? 0.0 : NEG_INF;
    for (uint g = 0u; g < G; g++) {
        const uint h = hc * G + g;
        float acc = 0.0;
        for (uint i = 0u; i < W; i++) {
            vec2 mz = stats[pc.stats_skip / 2u + h * W + i];
            acc += exp(dot_qk(i, h, j, hc) - mz.x) / mz.y;
        }
        acc /= float(W);
        agg = AGG == 0u ? agg + acc : max(agg, acc);
    }
    score[pc.score_skip + hc * pc.capacity + j] = AGG == 0u ? agg / float(G) : agg;
}
