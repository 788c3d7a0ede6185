#version 450
// Budgets from entropy (algorithm.md section 2, steps 1-4), one invocation
// per KV head walking its segments in order (the recurrence is sequential).
// `precise` keeps every operation a separate f32 operation (no fused
// multiply-add), so a CPU doing the same operations gets the same keeps.
// In reference mode every head then gets the segment's largest keep. With
// ROUND (reference mode with f16/bf16 inputs, section 2b) every step is
// rounded to the model's dtype, as the paper's code computes the budgets on
// tensors of that dtype.
#extension GL_GOOGLE_include_directive : require

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint WG = 64;
layout(constant_id = 2) const uint ROUND = 0; // EI_F32: none; EI_F16 or EI_BF16

#include "common/dtype.glsl"

layout(set = 0, binding = 0) readonly buffer Entropy { float entropy[]; };
layout(set = 0, binding = 1) coherent buffer Keep { uint keep[]; };
layout(set = 0, binding = 2) writeonly buffer Rigid { uint rigid[]; };

layout(push_constant) uniform Push {
    uint kv_heads, nseg, nrep, block, maxeff, mode;
    float base, e_t, delta_t, alpha;
    uint entropy_skip, keep_skip, rigid_skip;
} pc;

const uint MODE_REFERENCE = 1u, MODE_CRITIPREFILL = 2u, MODE_FULL = 3u;

void main() {
    const uint lid = gl_LocalInvocationID.x;
    for (uint hk = lid; hk < pc.kv_heads; hk += WG) {
        const uint e0 = pc.entropy_skip + hk * pc.nseg, k0 = pc.keep_skip + hk * pc.nseg;
        bool is_rigid = pc.nseg >= 2u;
        for (uint s = 1u; s < pc.nseg; s++)
            if (!(entropy[e0 + s] < pc.e_t)) is_rigid = false;
        rigid[pc.rigid_skip + hk] = is_rigid ? 1u : 0u;
        precise float B0 = pc.base;
        precise float gain = pc.alpha * B0;
        precise float top = 1.0 + pc.delta_t;
        precise float ceiling = 3.0 * B0;
        if (pc.nseg < 2u) {
            for (uint s = 0u; s < pc.nseg; s++) keep[k0 + s] = uint(floor(B0 / float(pc.block)));
            continue;
        }
        precise float budget = B0;
        keep[k0] = 0u;
        for (uint s = 1u; s < pc.nseg; s++) {
            if (!is_rigid && pc.mode != MODE_CRITIPREFILL) {
                precise float r = ei_round(pc.delta_t, ROUND);
                if (s > 1u) {
                    precise float prev = entropy[e0 + s - 1u];
                    r = ei_round(ei_round(entropy[e0 + s] - prev, ROUND) / ei_round(prev + 1e-9, ROUND), ROUND);
                }
                r = ei_round(min(max(r, 0.0), top), ROUND);
                precise float step = ei_round(gain * ei_round(r - pc.delta_t, ROUND), ROUND);
                budget = ei_round(min(max(ei_round(budget + step, ROUND), B0), ceiling), ROUND);
            }
            uint n = uint(floor(ei_round(budget / float(pc.block), ROUND)));
            uint cap = min(s * pc.nrep, pc.maxeff);
            keep[k0 + s] = pc.mode == MODE_FULL ? 0u : min(n, cap);
        }
    }
    if (pc.mode != MODE_REFERENCE || pc.nseg < 2u) return;
    memoryBarrierBuffer();
    barrier();
    for (uint s = 1u + lid; s < pc.nseg; s += WG) {
        uint most = 0u;
        for (uint hk = 0u; hk < pc.kv_heads; hk++) most = max(most, keep[pc.keep_skip + hk * pc.nseg + s]);
        for (uint hk = 0u; hk < pc.kv_heads; hk++) keep[pc.keep_skip + hk * pc.nseg + s] = most;
    }
}
