#version 450
// Y[t][r] = sum_c W[r][c] * X[t][c] on cooperative matrices
// (GL_KHR_cooperative_matrix, 16x16x16 f16 in, f32 accumulation): what
// matmul_quant.comp computes for many tokens, with the weight in its GGUF
// type decoded (common/quant.glsl) and the activations rounded to f16 in
// shared memory.
//
// A workgroup of SG_R x SG_T subgroups takes BM rows x BN tokens; each
// subgroup holds TM x TN accumulators of Y^T = W X^T (TM*16 rows x TN*16
// tokens). The columns go by in steps of BK through two shared stages: the
// next step's weights and activations are read into registers while this
// step's products run, then stored into the other stage, so one barrier a
// step suffices. The tile sizes come from the host's per-device table
// (src/ops/matmul.c). Needs cols % BK == 0 and a fixed subgroup size.
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint WG = 128;
layout(constant_id = 2) const uint QTYPE = 0;
layout(constant_id = 3) const uint BLOCK_ELEMS = 1;
layout(constant_id = 4) const uint BLOCK_BYTES = 4;
layout(constant_id = 5) const uint SG_R = 4; // subgroups along the rows
layout(constant_id = 6) const uint SG_T = 1; // subgroups along the tokens
layout(constant_id = 7) const uint TM = 2;   // 16-row accumulators a subgroup
layout(constant_id = 8) const uint TN = 4;   // 16-token accumulators a subgroup
layout(constant_id = 9) const uint BK = 32;  // columns a step, a multiple of 16

#include "common/quant.glsl"

layout(set = 0, binding = 0) readonly buffer W { uint w_words[]; };
layout(set = 0, binding = 1) readonly buffer X { vec4 x4[]; }; // x_skip % 4 == 0
layout(set = 0, binding = 2) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Push {
    uint rows, cols, tokens, row_base, piece_rows;
    uint w_byte0, x_skip, y_skip;
} pc;

EI_DEFINE_QUANT(wq, w_words)

#define ACC coopmat<float, gl_ScopeSubgroup, 16u, 16u, gl_MatrixUseAccumulator>
#define MAT_A coopmat<float16_t, gl_ScopeSubgroup, 16u, 16u, gl_MatrixUseA>
#define MAT_B coopmat<float16_t, gl_ScopeSubgroup, 16u, 16u, gl_MatrixUseB>

const uint BM = SG_R * TM * 16u, BN = SG_T * TN * 16u;
const uint KQ = BK / 4u;         // quads (four f16) of a tile row a step
const uint AS = KQ + 2u;         // row stride in quads: 16 bytes of pad put 8 rows' reads on distinct banks
const uint A_QUADS = BM * AS;    // W tile [row][col], then X tile [token][col]
const uint STAGE = (BM + BN) * AS;
const uint WQ = BM * KQ / WG, XQ = BN * KQ / WG; // quads each invocation reads a step
const uint SUB_QUADS = 128u;     // a subgroup's 16x16 f32 staging tile for partial blocks

shared uvec2 sh[2u * STAGE];

// This invocation's quads of the step at column c0: rows (tokens) past the
// end read the last one and are never written. They stay f32 until put():
// rounding them here would wait on the loads before this step's products
// (H100: 145 -> 129 TFLOP/s).
void fetch(uint c0, uint r0, uint t0, out vec4 w[WQ], out vec4 x[XQ]) {
    const uint row_bytes = pc.cols / BLOCK_ELEMS * BLOCK_BYTES;
    [[unroll]] for (uint i = 0u; i < WQ; i++) {
        uint e = gl_LocalInvocationID.x + i * WG, c = c0 + (e % KQ) * 4u;
        uint base = pc.w_byte0 + min(r0 + e / KQ, pc.piece_rows - 1u) * row_bytes;
        w[i] = BLOCK_ELEMS == 1u ? wq_at4(base + c * BLOCK_BYTES, 0u)
                                 : wq_at4(base + (c / BLOCK_ELEMS) * BLOCK_BYTES, c % BLOCK_ELEMS);
    }
    [[unroll]] for (uint i = 0u; i < XQ; i++) {
        uint e = gl_LocalInvocationID.x + i * WG, tok = min(t0 + e / KQ, pc.tokens - 1u);
        x[i] = x4[(pc.x_skip + tok * pc.cols + c0 + (e % KQ) * 4u) / 4u];
    }
}

uvec2 half4(vec4 v) { return uvec2(packHalf2x16(v.xy), packHalf2x16(v.zw)); }

void put(uint stage, vec4 w[WQ], vec4 x[XQ]) {
    const uint lid = gl_LocalInvocationID.x;
    [[unroll]] for (uint i = 0u; i < WQ; i++) {
        uint e = lid + i * WG;
        sh[stage + (e / KQ) * AS + e % KQ] = half4(w[i]);
    }
    [[unroll]] for (uint i = 0u; i < XQ; i++) {
        uint e = lid + i * WG;
        sh[stage + A_QUADS + (e / KQ) * AS + e % KQ] = half4(x[i]);
    }
}

void main() {
    const uint sg = gl_SubgroupID;
    const uint r0 = gl_WorkGroupID.x * BM, t0 = gl_WorkGroupID.y * BN;
    const uint sr = (sg % SG_R) * TM * 16u, st = (sg / SG_R) * TN * 16u; // this subgroup's block

    ACC acc[TM][TN];
    [[unroll]] for (uint i = 0u; i < TM; i++)
        [[unroll]] for (uint j = 0u; j < TN; j++) acc[i][j] = ACC(0.0);

    vec4 wn[WQ], xn[XQ];
    fetch(0u, r0, t0, wn, xn);
    put(0u, wn, xn);
    barrier();
    const uint steps = pc.cols / BK;
    for (uint s = 0u; s < steps; s++) {
        const uint cur = (s & 1u) * STAGE;
        if (s + 1u < steps) fetch((s + 1u) * BK, r0, t0, wn, xn);
        [[unroll]] for (uint k = 0u; k < KQ; k += 4u) { // 16 columns = 4 quads
            MAT_A a[TM];
            [[unroll]] for (uint i = 0u; i < TM; i++)
                coopMatLoad(a[i], sh, cur + (sr + 16u * i) * AS + k, AS, gl_CooperativeMatrixLayoutRowMajor);
            [[unroll]] for (uint j = 0u; j < TN; j++) {
                MAT_B b; // X^T: element (col, token) at token * AS + col / 4
                coopMatLoad(b, sh, cur + A_QUADS + (st + 16u * j) * AS + k, AS, gl_CooperativeMatrixLayoutColumnMajor);
                [[unroll]] for (uint i = 0u; i < TM; i++) acc[i][j] = coopMatMulAdd(a[i], b, acc[i][j]);
            }
        }
        // The other stage was last read before the previous barrier.
        if (s + 1u < steps) put(STAGE - cur, wn, xn);
        barrier();
    }

    // Whole 16x16 blocks go straight out (Y^T column-major: token-major Y);
    // the last rows or tokens pass through this subgroup's own staging tile
    // (free: every stage was read before the loop's last barrier).
    const uint sub = sg * SUB_QUADS;
    [[unroll]] for (uint i = 0u; i < TM; i++)
        [[unroll]] for (uint j = 0u; j < TN; j++) {
            uint r = r0 + sr + 16u * i, t = t0 + st + 16u * j;
            if (r >= pc.piece_rows || t >= pc.tokens) continue;
            uint at = pc.y_skip + t * pc.rows + pc.row_base + r;
            if (r + 16u <= pc.piece_rows && t + 16u <= pc.tokens) {
                coopMatStore(acc[i][j], y, at, pc.rows, gl_CooperativeMatrixLayoutColumnMajor);
                continue;
            }
            coopMatStore(acc[i][j], sh, sub, 8u, gl_CooperativeMatrixLayoutColumnMajor);
            subgroupMemoryBarrierShared();
            subgroupBarrier();
            for (uint e = gl_SubgroupInvocationID; e < 256u; e += gl_SubgroupSize) {
                uint tt = e / 16u, rr = e % 16u;
                if (r + rr < pc.piece_rows && t + tt < pc.tokens)
                    y[at + tt * pc.rows + rr] = uintBitsToFloat(sh[sub + e / 2u][e % 2u]);
            }
            subgroupBarrier(); // read before the next block goes over it
        }
}
