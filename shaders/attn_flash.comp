#version 450
// Flash attention (portable path): online softmax over K/V tiles streamed
// through shared memory, f32 accumulation, nothing of size Lq x Lk stored.
//
// A workgroup holds R = WG / T query rows of one KV head: rows are
// (token, query head of the group) with the head fastest, so all G query
// heads of a GQA group share each K/V tile. The T threads of a row each own
// D / (2T) pairs of dims (pair p = t + T*i); a score's partial dot products
// are summed across those T lanes with subgroup shuffles (T divides the
// subgroup size, so a row never straddles subgroups).
//
// Queries are end-aligned to the keys: row `token` sits at key index
// Lk - Lq + token, so a chunk of queries attends to a longer cache.
//
// With SPARSE (EntropyInfer block-sparse prefill, algorithm.md section 3),
// workgroups tile each segment separately. A sparse segment's rows attend
// to its KV head's selected blocks, read in place through the block list,
// then to their own segment causally; a dense one (starting before
// threshold_len, the last, a dense layer, or keeping no block) attends to
// every earlier key. Keys are walked as one virtual sequence: first the
// listed blocks' keys, then a contiguous range.
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint DTYPE = 0;  // Q, K, V
layout(constant_id = 2) const uint ODTYPE = 0; // output
layout(constant_id = 3) const uint D = 128;    // head dim
layout(constant_id = 4) const uint T = 8;      // lanes per query row
layout(constant_id = 5) const uint BC = 32;    // keys per shared tile
layout(constant_id = 6) const uint WG = 128;   // workgroup size (= local_size_x)
layout(constant_id = 7) const uint SPARSE = 0;

#include "common/dtype.glsl"

layout(set = 0, binding = 0) readonly buffer Q { uint q_buf[]; };
layout(set = 0, binding = 1) readonly buffer K { uint k_buf[]; };
layout(set = 0, binding = 2) readonly buffer V { uint v_buf[]; };
layout(set = 0, binding = 3) writeonly buffer O { uint o_buf[]; };
layout(set = 0, binding = 4) readonly buffer Keep { uint keep[]; };         // SPARSE: [Hkv][nseg]
layout(set = 0, binding = 5) readonly buffer Selected { uint selected[]; }; // SPARSE: [Hkv][nseg][max_keep]

layout(push_constant) uniform Push {
    uint q_len;      // Lq
    uint kv_len;     // Lk
    uint heads;      // H
    uint kv_heads;   // Hkv
    uint row_base;   // first (token, head-in-group) row of this dispatch
    uint causal;
    uint window;     // 0: none
    float scale;
    float softcap;   // 0: none
    uint q_skip, k_skip, v_skip, o_skip;
    // SPARSE only:
    uint segment, block, nseg, max_keep, threshold_len, dense_layer, keep_skip, selected_skip;
} pc;

EI_DEFINE_LOAD2(load_q, q_buf, DTYPE)
EI_DEFINE_LOAD2(load_k, k_buf, DTYPE)
EI_DEFINE_LOAD2(load_v, v_buf, DTYPE)
EI_DEFINE_STORE2(store_o, o_buf, ODTYPE)

const uint R = WG / T;       // query rows per workgroup
const uint DP = D / 2u;      // pairs per row
const uint PT = DP / T;      // pairs per lane
#define NEG_INF uintBitsToFloat(0xff800000u)

shared vec2 k_sh[BC * DP];
shared vec2 v_sh[BC * DP];
shared int key_sh[BC];

float lane_sum(float x) {
    [[unroll]] for (uint m = T / 2u; m > 0u; m >>= 1) x += subgroupShuffleXor(x, m);
    return x;
}

void main() {
    const uint lid = gl_LocalInvocationID.x;
    const uint r = lid / T, t = lid % T;
    const uint hk = gl_WorkGroupID.y;
    const uint G = pc.heads / pc.kv_heads;
    const uint rows = pc.q_len * G;
    const int len = int(pc.kv_len), offset = len - int(pc.q_len);
    uint row0 = pc.row_base + gl_WorkGroupID.x * R;
    uint row_end = rows;
    uint seg = 0u;
    if (SPARSE != 0u) { // tiles never straddle segments; the chunk starts at one
        uint seg_rows = pc.segment * G, tiles = (seg_rows + R - 1u) / R;
        uint local_seg = (pc.row_base / R + gl_WorkGroupID.x) / tiles;
        row0 = local_seg * seg_rows + (pc.row_base / R + gl_WorkGroupID.x) % tiles * R;
        row_end = min(row_end, (local_seg + 1u) * seg_rows);
        seg = uint(offset) / pc.segment + local_seg;
    }
    const uint row = row0 + r;
    const bool valid = row < row_end;
    const uint token = min(row, rows - 1u) / G;
    const uint head = hk * G + min(row, rows - 1u) % G;
    const int qpos = offset + int(token);

    // Keys this workgroup needs: up to the causal limit of its last row,
    // from the window start of its first; a sparse segment's listed blocks
    // come first, then its own rows.
    const uint last_row = max(min(row0 + R, row_end), row0 + 1u) - 1u;
    const int qpos_last = offset + int(last_row / G);
    const int qpos_first = offset + int(row0 / G);
    int kb = 0;
    int ke = len;
    if (pc.causal != 0u) ke = min(ke, qpos_last + 1);
    if (pc.window != 0u) kb = max(kb, qpos_first - int(pc.window) + 1);
    int nlist = 0;
    uint list_at = 0u;
    if (SPARSE != 0u) {
        uint n = keep[pc.keep_skip + hk * pc.nseg + seg];
        bool dense = pc.dense_layer != 0u || seg * pc.segment < pc.threshold_len || seg + 1u >= pc.nseg || n == 0u;
        if (!dense) {
            nlist = int(n * pc.block);
            list_at = pc.selected_skip + (hk * pc.nseg + seg) * pc.max_keep;
            kb = int(seg * pc.segment);
        }
    }
    const int nv = nlist + max(ke - kb, 0);

    vec2 q[PT];
    vec2 o[PT];
    const uint row_at = (token * pc.heads + head) * D;
    [[unroll]] for (uint i = 0u; i < PT; i++) {
        q[i] = valid ? load_q(pc.q_skip + row_at + 2u * (t + T * i)) * pc.scale : vec2(0.0);
        o[i] = vec2(0.0);
    }
    float m = NEG_INF;
    float l = 0.0;
    float s[BC];

    for (int v0 = 0; v0 < nv; v0 += int(BC)) {
        barrier();
        for (uint j = lid; j < BC; j += WG) {
            int v = v0 + int(j), key = -1; // -1: past the end
            if (v < nlist) key = int(selected[list_at + uint(v) / pc.block] * pc.block + uint(v) % pc.block);
            else if (v < nv) key = kb + (v - nlist);
            key_sh[j] = key;
        }
        barrier();
        for (uint e = lid; e < BC * DP; e += WG) {
            uint j = e / DP, p = e % DP;
            int key = key_sh[j];
            vec2 kv = vec2(0.0), vv = vec2(0.0);
            if (key >= 0) {
                uint at = (uint(key) * pc.kv_heads + hk) * D + 2u * p;
                kv = load_k(pc.k_skip + at);
                vv = load_v(pc.v_skip + at);
            }
            k_sh[e] = kv;
            v_sh[e] = vv;
        }
        barrier();

        float tile_max = NEG_INF;
        [[unroll]] for (uint j = 0u; j < BC; j++) {
            float dot_part = 0.0;
            [[unroll]] for (uint i = 0u; i < PT; i++) {
                vec2 kk = k_sh[j * DP + t + T * i];
                dot_part += q[i].x * kk.x + q[i].y * kk.y;
            }
            float x = lane_sum(dot_part);
            if (pc.softcap > 0.0) x = pc.softcap * tanh(x / pc.softcap);
            int key = key_sh[j];
            // Listed blocks all precede the segment: visible to all its rows.
            bool listed = v0 + int(j) < nlist;
            bool visible = valid && key >= 0 &&
                           (listed || ((pc.causal == 0u || key <= qpos) && (pc.window == 0u || qpos - key < int(pc.window))));
            s[j] = visible ? x : NEG_INF;
            tile_max = max(tile_max, s[j]);
        }
        float m_new = max(m, tile_max);
        if (m_new != NEG_INF) { // else nothing is visible yet for this row
            float corr = exp(m - m_new);
            l *= corr;
            [[unroll]] for (uint i = 0u; i < PT; i++) o[i] *= corr;
            [[unroll]] for (uint j = 0u; j < BC; j++) {
                float p = exp(s[j] - m_new);
                l += p;
                [[unroll]] for (uint i = 0u; i < PT; i++) o[i] += p * v_sh[j * DP + t + T * i];
            }
            m = m_new;
        }
    }

    if (!valid) return;
    float inv = l > 0.0 ? 1.0 / l : 0.0;
    [[unroll]] for (uint i = 0u; i < PT; i++) store_o(pc.o_skip + row_at + 2u * (t + T * i), o[i] * inv);
}
