#version 450
// Decode attention (split-K, first pass): a few query rows against a long
// cache, reading each K and V row once per workgroup straight from memory.
//
// Workgroup (row tile, KV head, split) covers the split's chunk of keys for
// up to NR query rows (token, query head of the group), a tile of TK keys
// at a time, in two stages:
//  scores: T1 lanes own a key of the tile: each reads KU 16-byte units of
//          its K row and dots them with each row's query (shared memory,
//          broadcast); T1 is 1 up to 16 units a row;
//  P.V:    a V row is UR units; invocation (group g, unit u) adds unit u of
//          every NG-th key's V row, weighted by its probability.
// Memory latency is what limits this kernel, so the loads are pipelined:
// the tile's V rows are in flight while its scores are computed, the next
// tile's K rows while its softmax and P.V are. The tile's maximum comes
// from a subgroup and a shared-memory reduction, so (m, l) is the same in
// every invocation: the groups' outputs add up without rescaling, and the
// workgroup writes one partial (o, m, l) per row for attn_combine.
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint DTYPE = 0;
layout(constant_id = 2) const uint D = 128;
layout(constant_id = 3) const uint NR = 4;   // query rows per workgroup
layout(constant_id = 4) const uint WG = 128;
layout(constant_id = 5) const uint VEC4 = 0; // 1: K and V rows are read as uvec4

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

#define NEG_INF uintBitsToFloat(0xff800000u)
const uint EPW = DTYPE == EI_F32 ? 1u : 2u;           // elements per 32-bit word
const uint UE = 4u * EPW;                             // elements per 16-byte unit
const uint UR = D / UE;                               // units per row: 8 .. 64
const uint T1 = UR > 32u ? 4u : (UR > 16u ? 2u : 1u); // lanes per key (scores)
const uint KU = UR / T1;                              // units per lane: at most 16
const uint TK = WG / T1;                              // keys per tile
const uint NG = WG / UR;                              // P.V groups
const uint KPG = (TK + NG - 1u) / NG;                 // keys per group per tile

shared vec4 q_sh[NR][D / 4u]; // the queries, then the groups' summed outputs
shared float p_sh[NR][TK];
shared float red_sh[NR][WG]; // per subgroup (at most WG of them)

// The 16-byte unit of K or V at element e (skip included), as 4 words.
uvec4 unit_k(uint e) {
    if (VEC4 != 0u) return k4[e / UE];
    uint w = e / EPW;
    return uvec4(k_buf[w], k_buf[w + 1u], k_buf[w + 2u], k_buf[w + 3u]);
}
uvec4 unit_v(uint e) {
    if (VEC4 != 0u) return v4[e / UE];
    uint w = e / EPW;
    return uvec4(v_buf[w], v_buf[w + 1u], v_buf[w + 2u], v_buf[w + 3u]);
}

// Its elements: the first UE / 2 pairs.
void unpack_unit(uvec4 w, out vec2 x[4]) {
    if (DTYPE == EI_F32) {
        x[0] = uintBitsToFloat(w.xy);
        x[1] = uintBitsToFloat(w.zw);
    } else {
        x[0] = ei_unpack16(w.x, DTYPE);
        x[1] = ei_unpack16(w.y, DTYPE);
        x[2] = ei_unpack16(w.z, DTYPE);
        x[3] = ei_unpack16(w.w, DTYPE);
    }
}

float subgroup_max(float x) {
    for (uint m = gl_SubgroupSize / 2u; m > 0u; m >>= 1) x = max(x, subgroupShuffleXor(x, m));
    return x;
}

void main() {
    const uint lid = gl_LocalInvocationID.x;
    const uint hk = gl_WorkGroupID.y, split = gl_WorkGroupID.z;
    const uint G = pc.heads / pc.kv_heads;
    const uint rows = pc.q_len * G;
    const uint row0 = pc.row_base + gl_WorkGroupID.x * NR;
    int len = int(pc.kv_len);
    if (pc.use_lens != 0u) len = int(min(lens[hk], pc.kv_len)); // a longer length must not read past K

    for (uint e = lid; e < NR * D / 2u; e += WG) {
        uint r = e / (D / 2u), p = e % (D / 2u);
        uint row = min(row0 + r, rows - 1u);
        uint token = row / G, head = hk * G + row % G;
        vec2 x = load_q(pc.q_skip + (token * pc.heads + head) * D + 2u * p) * pc.scale;
        if (p % 2u == 0u)
            q_sh[r][p / 2u].xy = x;
        else
            q_sh[r][p / 2u].zw = x;
    }
    int qpos[NR];
    bool live[NR];
    float m[NR], l[NR];
    vec2 o[NR][UE / 2u];
    [[unroll]] for (uint r = 0u; r < NR; r++) {
        qpos[r] = len - int(pc.q_len) + int((row0 + r) / G);
        live[r] = row0 + r < rows;
        m[r] = NEG_INF;
        l[r] = 0.0;
        [[unroll]] for (uint i = 0u; i < UE / 2u; i++) o[r][i] = vec2(0.0);
    }
    const uint kl = lid / T1, t = lid % T1; // scores: key of the tile, lane
    const uint g = lid / UR, u = lid % UR;  // P.V: group, unit
    const int kb = int(split * pc.chunk);
    const int ke = min(len, int((split + 1u) * pc.chunk));
    // A lane's units of a key are T1 apart, so the key's lanes read
    // neighbouring units together.
    uvec4 kw[KU], vw[KPG];
    if (kb + int(kl) < ke)
        [[unroll]] for (uint c = 0u; c < KU; c++)
            kw[c] = unit_k(pc.k_skip + (uint(kb + int(kl)) * pc.kv_heads + hk) * D + (c * T1 + t) * UE);
    barrier();

    for (int t0 = kb; t0 < ke; t0 += int(TK)) {
        const int n = min(int(TK), ke - t0);
        if (g < NG)
            [[unroll]] for (uint i = 0u; i < KPG; i++) {
                const uint j = g + i * NG;
                if (int(j) < n) vw[i] = unit_v(pc.v_skip + (uint(t0 + int(j)) * pc.kv_heads + hk) * D + u * UE);
            }
        // Scores of key t0 + kl.
        const int key = t0 + int(kl);
        float s[NR];
        [[unroll]] for (uint r = 0u; r < NR; r++) s[r] = 0.0;
        if (key < ke) {
            [[unroll]] for (uint c = 0u; c < KU; c++) {
                vec2 x[4];
                unpack_unit(kw[c], x);
                const uint q0 = (c * T1 + t) * UE / 4u;
                [[unroll]] for (uint r = 0u; r < NR; r++)
                    [[unroll]] for (uint i = 0u; i < UE / 4u; i++)
                        s[r] += dot(q_sh[r][q0 + i], vec4(x[2u * i], x[2u * i + 1u]));
            }
        }
        const int next = t0 + int(TK) + int(kl);
        if (next < ke)
            [[unroll]] for (uint c = 0u; c < KU; c++)
                kw[c] = unit_k(pc.k_skip + (uint(next) * pc.kv_heads + hk) * D + (c * T1 + t) * UE);
        [[unroll]] for (uint r = 0u; r < NR; r++) {
            [[unroll]] for (uint b = T1 / 2u; b > 0u; b >>= 1) s[r] += subgroupShuffleXor(s[r], b);
            if (pc.softcap > 0.0) s[r] = pc.softcap * tanh(s[r] / pc.softcap);
            bool visible = key < ke && live[r] && (pc.causal == 0u || key <= qpos[r]) &&
                           (pc.window == 0u || qpos[r] - key < int(pc.window));
            s[r] = visible ? s[r] : NEG_INF;
            float big = subgroup_max(s[r]);
            if (gl_SubgroupInvocationID == 0u) red_sh[r][gl_SubgroupID] = big;
        }
        barrier();
        // The running maximum; probabilities of the tile's keys.
        float corr[NR];
        [[unroll]] for (uint r = 0u; r < NR; r++) {
            float big = m[r];
            for (uint w = 0u; w < gl_NumSubgroups; w++) big = max(big, red_sh[r][w]);
            corr[r] = big == NEG_INF ? 1.0 : exp(m[r] - big);
            m[r] = big;
            if (t == 0u) p_sh[r][kl] = big == NEG_INF ? 0.0 : exp(s[r] - big);
        }
        barrier();
        // P.V of the tile.
        if (g < NG) {
            [[unroll]] for (uint r = 0u; r < NR; r++) {
                l[r] *= corr[r];
                [[unroll]] for (uint i = 0u; i < UE / 2u; i++) o[r][i] *= corr[r];
            }
            [[unroll]] for (uint i = 0u; i < KPG; i++) {
                const uint j = g + i * NG;
                if (int(j) < n) {
                    vec2 x[4];
                    unpack_unit(vw[i], x);
                    [[unroll]] for (uint r = 0u; r < NR; r++) {
                        float p = p_sh[r][j];
                        l[r] += p;
                        [[unroll]] for (uint e = 0u; e < UE / 2u; e++) o[r][e] += p * x[e];
                    }
                }
            }
        }
    }

    // Sum the groups' outputs (and l, the same in every unit of a group).
    barrier();
    for (uint e = lid; e < NR * D / 4u; e += WG) q_sh[e / (D / 4u)][e % (D / 4u)] = vec4(0.0);
    barrier();
    for (uint gg = 0u; gg < NG; gg++) {
        if (g == gg) {
            [[unroll]] for (uint r = 0u; r < NR; r++) {
                [[unroll]] for (uint i = 0u; i < UE / 4u; i++)
                    q_sh[r][u * UE / 4u + i] += vec4(o[r][2u * i], o[r][2u * i + 1u]);
                if (u == 0u) red_sh[r][gg] = l[r];
            }
        }
        barrier();
    }
    for (uint e = lid; e < NR * (D + 2u); e += WG) {
        uint r = e / (D + 2u), p = e % (D + 2u);
        uint row = row0 + r;
        if (row >= rows) continue;
        uint token = row / G, head = hk * G + row % G;
        uint at = pc.part_skip + ((split * pc.q_len + token) * pc.heads + head) * (D + 2u);
        if (p < D) {
            part[at + p] = q_sh[r][p / 4u][p % 4u];
        } else if (p == D) {
            part[at + D] = m[r];
        } else {
            float lsum = 0.0;
            for (uint gg = 0u; gg < NG; gg++) lsum += red_sh[r][gg];
            part[at + D + 1u] = lsum;
        }
    }
}
