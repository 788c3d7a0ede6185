#version 450
// Flash attention on cooperative matrices (GL_KHR_cooperative_matrix): what
// attn_flash.comp computes (same rows, masks, block lists and push
// constants; read its header), with f16 Q, K, V and f32 accumulation on the
// device's matrix units.
//
// A workgroup holds NSG subgroups of 16 query rows each, all of one KV head.
// Per tile of BC keys: the workgroup stores K and V into shared memory (read
// from global memory into registers while the previous tile computed); each
// subgroup computes its 16 x BC scores S = Q K^T (Q stays in registers as
// D/16 A-matrices) into its own shared tile, where LPR lanes per row run the
// online softmax in f32 (scale, soft-cap, masks: skipped for a tile every
// row sees whole), write P over S as f16 pairs, and add P V to its D/16
// output accumulators. Rescaling an accumulator by its row's correction
// needs each element's row, which the extension does not expose: a matrix
// loaded from a table of row numbers has the same layout as every
// accumulator of its type, so element i of it holds element i's row.
//
// Needs a fixed subgroup size SG of at least 16 (the host checks); key and
// value offsets must be multiples of 8 elements (16-byte loads).
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_KHR_shader_subgroup_vote : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint ODTYPE = 0; // output
layout(constant_id = 2) const uint D = 128;    // head dim, a multiple of 16
layout(constant_id = 3) const uint BC = 32;    // keys per tile, a multiple of 16
layout(constant_id = 4) const uint NSG = 4;    // subgroups (of 16 rows) per workgroup
layout(constant_id = 5) const uint WG = 128;   // workgroup size (= local_size_x)
layout(constant_id = 6) const uint SPARSE = 0;
layout(constant_id = 7) const uint SG = 32;    // subgroup size

#include "common/dtype.glsl"

layout(set = 0, binding = 0) readonly buffer Q { uint q_buf[]; };
layout(set = 0, binding = 1) readonly buffer K { uvec4 k_buf[]; };
layout(set = 0, binding = 2) readonly buffer V { uvec4 v_buf[]; };
layout(set = 0, binding = 3) writeonly buffer O { uint o_buf[]; };
layout(set = 0, binding = 4) readonly buffer Keep { uint keep[]; };
layout(set = 0, binding = 5) readonly buffer Selected { uint selected[]; };

layout(push_constant) uniform Push {
    uint q_len, kv_len, heads, kv_heads, row_base, causal, window;
    float scale, softcap;
    uint q_skip, k_skip, v_skip, o_skip;
    uint segment, block, nseg, max_keep, threshold_len, dense_layer, keep_skip, selected_skip;
} pc;

EI_DEFINE_STORE2(store_o, o_buf, ODTYPE)

#define ACC coopmat<float, gl_ScopeSubgroup, 16u, 16u, gl_MatrixUseAccumulator>
#define MAT_A coopmat<float16_t, gl_ScopeSubgroup, 16u, 16u, gl_MatrixUseA>
#define MAT_B coopmat<float16_t, gl_ScopeSubgroup, 16u, 16u, gl_MatrixUseB>
#define ROW_MAJOR gl_CooperativeMatrixLayoutRowMajor
#define COL_MAJOR gl_CooperativeMatrixLayoutColumnMajor
#define NEG_INF uintBitsToFloat(0xff800000u)

const uint R = 16u * NSG;              // query rows per workgroup
const uint D8 = D / 8u;                // 16-byte words per key row
const uint KS = D8 + 1u;               // K/V tile row stride in words: the pad spreads rows over banks
const uint SS = BC + 4u;               // score tile row stride, floats
const uint DC = D / 16u;               // 16-dim chunks of a row
const uint NC = BC / 16u;              // 16-key chunks of a tile
const uint LPR = SG / 16u;             // softmax lanes per row
const uint PPL = BC / 2u / LPR;        // key pairs per softmax lane
const uint LPT = (BC * D8 + WG - 1u) / WG; // K (and V) words each invocation loads per tile

shared uvec4 k_sh[BC * KS];
shared uvec4 v_sh[BC * KS];
shared int key_sh[BC];
shared float s_sh[NSG * 16u * SS]; // per subgroup: scores, then P as f16 pairs (and Q, O staging)
shared float row_sh[NSG * 16u];    // per row: the tile's correction, at the end 1 / l
shared float rowid_sh[256];        // element (r, c) = r

// Key v of the virtual sequence (listed blocks, then kb..): -1 past the end.
int key_of(int v, int nlist, int nv, int kb, uint list_at) {
    if (v < nlist) return int(selected[list_at + uint(v) / pc.block] * pc.block + uint(v) % pc.block);
    return v < nv ? kb + (v - nlist) : -1;
}

// This invocation's share of the K and V words of the tile starting at
// virtual key v0, and each word's key (-1: past the end, zeros loaded).
void fetch_tile(int v0, int nlist, int nv, int kb, uint list_at, uint hk, out uvec4 k[LPT], out uvec4 v[LPT],
                out int keys[LPT]) {
    [[unroll]] for (uint i = 0u; i < LPT; i++) {
        uint e = gl_LocalInvocationID.x + i * WG;
        int key = e < BC * D8 ? key_of(v0 + int(e / D8), nlist, nv, kb, list_at) : -1;
        uint at = (uint(max(key, 0)) * pc.kv_heads + hk) * D8 + e % D8;
        keys[i] = key;
        k[i] = key >= 0 ? k_buf[pc.k_skip / 8u + at] : uvec4(0u);
        v[i] = key >= 0 ? v_buf[pc.v_skip / 8u + at] : uvec4(0u);
    }
}

void main() {
    const uint lid = gl_LocalInvocationID.x;
    const uint sg = gl_SubgroupID, lane = gl_SubgroupInvocationID;
    const uint hk = gl_WorkGroupID.y;
    const uint G = pc.heads / pc.kv_heads;
    const uint rows = pc.q_len * G;
    const int len = int(pc.kv_len), offset = len - int(pc.q_len);
    uint row0 = pc.row_base + gl_WorkGroupID.x * R;
    uint row_end = rows;
    uint seg = 0u;
    if (SPARSE != 0u) { // as attn_flash.comp: tiles never straddle segments
        uint seg_rows = pc.segment * G, tiles = (seg_rows + R - 1u) / R;
        uint local_seg = (pc.row_base / R + gl_WorkGroupID.x) / tiles;
        row0 = local_seg * seg_rows + (pc.row_base / R + gl_WorkGroupID.x) % tiles * R;
        row_end = min(row_end, (local_seg + 1u) * seg_rows);
        seg = uint(offset) / pc.segment + local_seg;
    }
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

    for (uint e = lid; e < 256u; e += WG) rowid_sh[e] = float(e / 16u);

    // This subgroup's 16 rows into A-matrices, 16 dims at a time (rows are
    // not evenly strided in Q, so they pass through shared memory).
    const uint my0 = row0 + sg * 16u;
    const uint s_base = sg * 16u * SS; // this subgroup's tile
    MAT_A qm[DC];
    [[unroll]] for (uint c = 0u; c < DC; c++) {
        for (uint e = lane; e < 128u; e += SG) { // 16 rows x 8 pairs, rows 8 words apart
            uint row = my0 + e / 8u, w = 0u;
            if (row < row_end)
                w = q_buf[(pc.q_skip + ((row / G) * pc.heads + hk * G + row % G) * D + c * 16u + 2u * (e % 8u)) >> 1];
            s_sh[s_base + e] = uintBitsToFloat(w);
        }
        subgroupBarrier();
        coopMatLoad(qm[c], s_sh, s_base, 8u, ROW_MAJOR);
        subgroupBarrier();
    }
    barrier();
    ACC rowid;
    coopMatLoad(rowid, rowid_sh, 0u, 16u, ROW_MAJOR);

    ACC o[DC];
    [[unroll]] for (uint c = 0u; c < DC; c++) o[c] = ACC(0.0);
    // Softmax lanes: LPR per row, each over every LPR-th pair of keys.
    const uint r = lane / LPR, part = lane % LPR;
    const uint row = my0 + r;
    const bool valid = row < row_end;
    const int qpos = offset + int(min(row, rows - 1u) / G);
    const bool rows_valid = my0 + 15u < row_end;
    const int qpos_first_row = offset + int(my0 / G);
    const uint s_at = s_base + r * SS;
    float m = NEG_INF;
    float l = 0.0;

    // The first tile's K and V into registers.
    uvec4 next_k[LPT], next_v[LPT];
    int next_key[LPT];
    fetch_tile(0, nlist, nv, kb, list_at, hk, next_k, next_v, next_key);

    for (int v0 = 0; v0 < nv; v0 += int(BC)) {
        barrier(); // the last tile's K/V reads are done
        [[unroll]] for (uint i = 0u; i < LPT; i++) {
            uint e = lid + i * WG;
            if (e < BC * D8) {
                uint j = e / D8, w = e % D8;
                k_sh[j * KS + w] = next_k[i];
                v_sh[j * KS + w] = next_v[i];
                if (w == 0u) key_sh[j] = next_key[i];
            }
        }
        barrier();
        if (v0 + int(BC) < nv) // the next tile's loads overlap this tile's math
            fetch_tile(v0 + int(BC), nlist, nv, kb, list_at, hk, next_k, next_v, next_key);

        [[unroll]] for (uint n = 0u; n < NC; n++) {
            ACC s = ACC(0.0);
            [[unroll]] for (uint c = 0u; c < DC; c++) {
                MAT_B kt; // K^T: element (dim, key) at key * KS + dim / 8
                coopMatLoad(kt, k_sh, n * 16u * KS + 2u * c, KS, COL_MAJOR);
                s = coopMatMulAdd(qm[c], kt, s);
            }
            coopMatStore(s, s_sh, s_base + n * 16u, SS, ROW_MAJOR);
        }
        subgroupBarrier();

        // Every row of this subgroup sees every key of the tile: listed
        // blocks, or contiguous keys all at or before the first row's
        // position, no window, no key past the end.
        int last_v = v0 + int(BC) - 1;
        bool whole = rows_valid && pc.window == 0u && last_v < nv &&
                     (last_v < nlist || pc.causal == 0u || kb + (last_v - nlist) <= qpos_first_row);
        float x[2u * PPL];
        float tile_max = NEG_INF;
        [[unroll]] for (uint i = 0u; i < 2u * PPL; i++) {
            uint j = 2u * (part + LPR * (i / 2u)) + i % 2u;
            float y = s_sh[s_at + j] * pc.scale;
            if (pc.softcap > 0.0) y = pc.softcap * tanh(y / pc.softcap);
            if (!whole) {
                int key = key_sh[j];
                bool listed = v0 + int(j) < nlist; // listed blocks precede the segment: visible to all its rows
                bool visible = valid && key >= 0 &&
                               (listed || ((pc.causal == 0u || key <= qpos) && (pc.window == 0u || qpos - key < int(pc.window))));
                y = visible ? y : NEG_INF;
            }
            x[i] = y;
            tile_max = max(tile_max, y);
        }
        [[unroll]] for (uint b = LPR / 2u; b > 0u; b >>= 1) tile_max = max(tile_max, subgroupShuffleXor(tile_max, b));
        float m_new = max(m, tile_max);
        float corr = 1.0, sum = 0.0;
        if (m_new != NEG_INF) corr = exp(m - m_new); // else nothing is visible yet for this row
        subgroupBarrier(); // every lane has read its scores: P goes over them
        [[unroll]] for (uint i = 0u; i < PPL; i++) {
            vec2 p = m_new != NEG_INF ? exp(vec2(x[2u * i], x[2u * i + 1u]) - m_new) : vec2(0.0);
            sum += p.x + p.y;
            s_sh[s_at + part + LPR * i] = uintBitsToFloat(packHalf2x16(p));
        }
        [[unroll]] for (uint b = LPR / 2u; b > 0u; b >>= 1) sum += subgroupShuffleXor(sum, b);
        l = l * corr + sum;
        m = m_new;
        if (part == 0u) row_sh[sg * 16u + r] = corr;
        subgroupBarrier();

        if (!subgroupAll(corr == 1.0))
            [[unroll]] for (uint c = 0u; c < DC; c++)
                for (int i = 0; i < o[c].length(); i++) o[c][i] *= row_sh[sg * 16u + uint(rowid[i])];
        [[unroll]] for (uint n = 0u; n < NC; n++) {
            MAT_A pm; // P: row r's key pairs at s_base + r * SS
            coopMatLoad(pm, s_sh, s_base + n * 8u, SS, ROW_MAJOR);
            [[unroll]] for (uint c = 0u; c < DC; c++) {
                MAT_B vt; // element (key, dim) at key * KS + dim / 8
                coopMatLoad(vt, v_sh, n * 16u * KS + 2u * c, KS, ROW_MAJOR);
                o[c] = coopMatMulAdd(pm, vt, o[c]);
            }
        }
        subgroupBarrier(); // row_sh and the tile are rewritten by the next tile
    }

    if (part == 0u) row_sh[sg * 16u + r] = l > 0.0 ? 1.0 / l : 0.0;
    subgroupBarrier();
    // Each 16 x 16 piece of the output through this subgroup's score tile.
    [[unroll]] for (uint c = 0u; c < DC; c++) {
        for (int i = 0; i < o[c].length(); i++) o[c][i] *= row_sh[sg * 16u + uint(rowid[i])];
        coopMatStore(o[c], s_sh, s_base, SS, ROW_MAJOR);
        subgroupBarrier();
        for (uint e = lane; e < 128u; e += SG) { // 16 rows x 8 pairs
            uint rr = e / 8u, out_row = my0 + rr, pp = e % 8u;
            if (out_row < row_end) {
                uint at = pc.o_skip + ((out_row / G) * pc.heads + hk * G + out_row % G) * D + c * 16u + 2u * pp;
                uint s_e = (sg * 16u + rr) * SS + 2u * pp;
                store_o(at, vec2(s_sh[s_e], s_sh[s_e + 1u]));
            }
        }
        subgroupBarrier();
    }
}
