#version 450
// Decode attention (split-K, first pass): a few query rows against a long
// cache, reading each K and V row once per workgroup straight from memory.
//
// Workgroup (row tile, KV head, split) covers the split's chunk of keys for
// up to NR query rows (token, query head of the group). Its invocations form
// key groups of T lanes; a key group takes every NKG-th key of the chunk, its
// lanes each owning D / (2T) consecutive pairs of dims, so a K row is read
// by the group in 16-byte loads (VEC4) that together cover whole sectors. Each key group keeps an online softmax (m, l, o) per row;
// the key groups are merged in shared memory and the workgroup writes one
// partial (o, m, l) per row for attn_combine.
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint DTYPE = 0;
layout(constant_id = 2) const uint D = 128;
layout(constant_id = 3) const uint T = 16;  // lanes per key group
layout(constant_id = 4) const uint NR = 4;  // query rows per workgroup
layout(constant_id = 5) const uint WG = 128;
layout(constant_id = 6) const uint VEC4 = 0; // 1: K and V rows are read as uvec4

#include "common/dtype.glsl"

layout(set = 0, binding = 0) readonly buffer Q { uint q_buf[]; };
layout(set = 0, binding = 1) readonly buffer K { uint k_buf[]; };
layout(set = 0, binding = 2) readonly buffer V { uint v_buf[]; };
layout(set = 0, binding = 1) readonly buffer K4 { uvec4 k4[]; };
layout(set = 0, binding = 2) readonly buffer V4 { uvec4 v4[]; };
layout(set = 0, binding = 3) readonly buffer Lens { uint lens[]; };
layout(set = 0, binding = 4) writeonly buffer Part { float part[]; };

layout(push_constant) uniform Push {
    uint q_len, kv_len, heads, kv_heads, row_base, use_lens, causal, window;
    float scale, softcap;
    uint chunk, splits;
    uint q_skip, k_skip, v_skip, part_skip;
} pc;

EI_DEFINE_LOAD2(load_q, q_buf, DTYPE)
EI_DEFINE_LOAD2(load_k, k_buf, DTYPE)
EI_DEFINE_LOAD2(load_v, v_buf, DTYPE)

#define NEG_INF uintBitsToFloat(0xff800000u)
const uint DP = D / 2u;
const uint PT = DP / T;
const uint NKG = WG / T;
const uint EPW = DTYPE == EI_F32 ? 1u : 2u; // elements per 32-bit word
const uint LW = 2u * PT / EPW;              // words of a row per lane

shared float m_sh[NKG][NR];
shared float l_sh[NKG][NR];
shared vec2 o_sh[NR][DP];

float lane_sum(float x) {
    [[unroll]] for (uint m = T / 2u; m > 0u; m >>= 1) x += subgroupShuffleXor(x, m);
    return x;
}

void main() {
    const uint lid = gl_LocalInvocationID.x;
    const uint kg = lid / T, t = lid % T;
    const uint hk = gl_WorkGroupID.y, split = gl_WorkGroupID.z;
    const uint G = pc.heads / pc.kv_heads;
    const uint rows = pc.q_len * G;
    const uint row0 = pc.row_base + gl_WorkGroupID.x * NR;
    int len = int(pc.kv_len);
    if (pc.use_lens != 0u) len = int(min(lens[hk], pc.kv_len)); // a longer length must not read past K

    vec2 q[NR][PT];
    vec2 o[NR][PT];
    float m[NR], l[NR];
    int qpos[NR];
    bool live[NR];
    [[unroll]] for (uint r = 0u; r < NR; r++) {
        uint row = min(row0 + r, rows - 1u);
        uint token = row / G, head = hk * G + row % G;
        qpos[r] = len - int(pc.q_len) + int(token);
        live[r] = row0 + r < rows;
        [[unroll]] for (uint i = 0u; i < PT; i++) {
            q[r][i] = load_q(pc.q_skip + (token * pc.heads + head) * D + 2u * (t * PT + i)) * pc.scale;
            o[r][i] = vec2(0.0);
        }
        m[r] = NEG_INF;
        l[r] = 0.0;
    }

    const int kb = int(split * pc.chunk);
    const int ke = min(len, int((split + 1u) * pc.chunk));
    for (int key = kb + int(kg); key < ke; key += int(NKG)) {
        const uint at = (uint(key) * pc.kv_heads + hk) * D + 2u * t * PT;
        vec2 kk[PT], vv[PT];
        if (VEC4 != 0u) {
            const uint wk = (pc.k_skip + at) / EPW / 4u, wv = (pc.v_skip + at) / EPW / 4u;
            [[unroll]] for (uint c = 0u; c < LW / 4u; c++) {
                uvec4 a = k4[wk + c], b = v4[wv + c];
                if (DTYPE == EI_F32) {
                    kk[2u * c] = uintBitsToFloat(a.xy);
                    kk[2u * c + 1u] = uintBitsToFloat(a.zw);
                    vv[2u * c] = uintBitsToFloat(b.xy);
                    vv[2u * c + 1u] = uintBitsToFloat(b.zw);
                } else {
                    kk[4u * c] = ei_unpack16(a.x, DTYPE);
                    kk[4u * c + 1u] = ei_unpack16(a.y, DTYPE);
                    kk[4u * c + 2u] = ei_unpack16(a.z, DTYPE);
                    kk[4u * c + 3u] = ei_unpack16(a.w, DTYPE);
                    vv[4u * c] = ei_unpack16(b.x, DTYPE);
                    vv[4u * c + 1u] = ei_unpack16(b.y, DTYPE);
                    vv[4u * c + 2u] = ei_unpack16(b.z, DTYPE);
                    vv[4u * c + 3u] = ei_unpack16(b.w, DTYPE);
                }
            }
        } else {
            [[unroll]] for (uint i = 0u; i < PT; i++) {
                kk[i] = load_k(pc.k_skip + at + 2u * i);
                vv[i] = load_v(pc.v_skip + at + 2u * i);
            }
        }
        [[unroll]] for (uint r = 0u; r < NR; r++) {
            float part_dot = 0.0;
            [[unroll]] for (uint i = 0u; i < PT; i++) part_dot += dot(q[r][i], kk[i]);
            float s = lane_sum(part_dot);
            if (pc.softcap > 0.0) s = pc.softcap * tanh(s / pc.softcap);
            bool visible = live[r] && (pc.causal == 0u || key <= qpos[r]) &&
                           (pc.window == 0u || qpos[r] - key < int(pc.window));
            if (!visible) continue;
            if (s > m[r]) { // a new maximum: rescale what was summed so far
                float corr = exp(m[r] - s);
                l[r] *= corr;
                [[unroll]] for (uint i = 0u; i < PT; i++) o[r][i] *= corr;
                m[r] = s;
            }
            float p = exp(s - m[r]);
            l[r] += p;
            [[unroll]] for (uint i = 0u; i < PT; i++) o[r][i] += p * vv[i];
        }
    }

    // Merge the key groups: common maximum, then sum rescaled (l, o).
    if (t == 0u)
        [[unroll]] for (uint r = 0u; r < NR; r++) m_sh[kg][r] = m[r];
    for (uint e = lid; e < NR * DP; e += WG) o_sh[e / DP][e % DP] = vec2(0.0);
    barrier();
    float big[NR];
    [[unroll]] for (uint r = 0u; r < NR; r++) {
        big[r] = NEG_INF;
        for (uint g = 0u; g < NKG; g++) big[r] = max(big[r], m_sh[g][r]);
        float w = big[r] == NEG_INF ? 0.0 : exp(m[r] - big[r]);
        l[r] *= w;
        [[unroll]] for (uint i = 0u; i < PT; i++) o[r][i] *= w;
    }
    if (t == 0u)
        [[unroll]] for (uint r = 0u; r < NR; r++) l_sh[kg][r] = l[r];
    for (uint g = 0u; g < NKG; g++) {
        if (kg == g)
            [[unroll]] for (uint r = 0u; r < NR; r++)
                [[unroll]] for (uint i = 0u; i < PT; i++) o_sh[r][t * PT + i] += o[r][i];
        barrier();
    }
    for (uint e = lid; e < NR * (DP + 1u); e += WG) {
        uint r = e / (DP + 1u), p = e % (DP + 1u);
        uint row = row0 + r;
        if (row >= rows) continue;
        uint token = row / G, head = hk * G + row % G;
        uint at = pc.part_skip + ((split * pc.q_len + token) * pc.heads + head) * (D + 2u);
        if (p < DP) {
            part[at + 2u * p] = o_sh[r][p].x;
            part[at + 2u * p + 1u] = o_sh[r][p].y;
        } else {
            float lsum = 0.0;
            for (uint g = 0u; g < NKG; g++) lsum += l_sh[g][r];
            part[at + D] = big[r];
            part[at + D + 1u] = lsum;
        }
    }
}
