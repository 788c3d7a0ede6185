#version 450
// Y[t][r] = sum_c W[r][c] * X[t][c] on cooperative matrices
// (GL_KHR_cooperative_matrix, 16x16x16 f16 in, f32 accumulation): what
// matmul_quant.comp computes for many tokens, with the weight in its GGUF
// type decoded (common/quant.glsl) and the activations rounded to f16 in
// shared memory.
//
// A workgroup of 4 subgroups takes 128 rows x 64 tokens, each subgroup 32
// rows x 64 tokens as 2 x 4 accumulators of Y^T = W X^T; the columns go by
// in steps of 32, the next step's weights and activations read into
// registers while this step's products run. Tiles sit in shared memory as
// f16 pairs in 32-bit words; the result passes through the same memory so
// that partial tiles (the last rows or tokens) are written element by
// element. Needs cols % 32 == 0 (the host checks) and a fixed subgroup size.
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint WG = 128; // 4 subgroups
layout(constant_id = 2) const uint QTYPE = 0;
layout(constant_id = 3) const uint BLOCK_ELEMS = 1;
layout(constant_id = 4) const uint BLOCK_BYTES = 4;

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

const uint BM = 128u, BN = 64u, BK = 32u;
const uint AS = BK / 2u + 4u; // row stride of the W and X tiles, words of two halves (the pad spreads banks)
const uint CS = BN + 4u;      // row stride of the result tile, floats
const uint X0 = BM * AS;      // the X tile's first word
const uint WQ = BM * BK / 4u / WG, XQ = BN * BK / 4u / WG; // quads of four each invocation reads a step

shared float sh[BM * CS]; // W [row][col] and X [token][col] pairs; then Y^T [row][token]

// Four consecutive f16 values as two words at word `at`.
void put4(uint at, vec4 v) {
    sh[at] = uintBitsToFloat(packHalf2x16(v.xy));
    sh[at + 1u] = uintBitsToFloat(packHalf2x16(v.zw));
}

// This invocation's quads of the step at column c0: rows (tokens) past the
// end read the last one and are never written.
void fetch(uint c0, uint r0, uint t0, out vec4 w[WQ], out vec4 x[XQ]) {
    const uint row_bytes = pc.cols / BLOCK_ELEMS * BLOCK_BYTES;
    [[unroll]] for (uint i = 0u; i < WQ; i++) {
        uint e = gl_LocalInvocationID.x + i * WG, c = c0 + (e % (BK / 4u)) * 4u;
        uint base = pc.w_byte0 + min(r0 + e / (BK / 4u), pc.piece_rows - 1u) * row_bytes;
        w[i] = BLOCK_ELEMS == 1u ? wq_at4(base + c * BLOCK_BYTES, 0u)
                                 : wq_at4(base + (c / BLOCK_ELEMS) * BLOCK_BYTES, c % BLOCK_ELEMS);
    }
    [[unroll]] for (uint i = 0u; i < XQ; i++) {
        uint e = gl_LocalInvocationID.x + i * WG, tok = min(t0 + e / (BK / 4u), pc.tokens - 1u);
        x[i] = x4[(pc.x_skip + tok * pc.cols + c0 + (e % (BK / 4u)) * 4u) / 4u];
    }
}

void main() {
    const uint lid = gl_LocalInvocationID.x, sg = gl_SubgroupID;
    const uint r0 = gl_WorkGroupID.x * BM, t0 = gl_WorkGroupID.y * BN;
    const uint sr = sg * 32u; // this subgroup's rows

    ACC acc[2][4];
    [[unroll]] for (uint i = 0u; i < 2u; i++)
        [[unroll]] for (uint j = 0u; j < 4u; j++) acc[i][j] = ACC(0.0);

    vec4 wn[WQ], xn[XQ];
    fetch(0u, r0, t0, wn, xn);
    for (uint c0 = 0u; c0 < pc.cols; c0 += BK) {
        barrier(); // the last step's tiles are read
        [[unroll]] for (uint i = 0u; i < WQ; i++) {
            uint e = lid + i * WG;
            put4((e / (BK / 4u)) * AS + 2u * (e % (BK / 4u)), wn[i]);
        }
        [[unroll]] for (uint i = 0u; i < XQ; i++) {
            uint e = lid + i * WG;
            put4(X0 + (e / (BK / 4u)) * AS + 2u * (e % (BK / 4u)), xn[i]);
        }
        barrier();
        if (c0 + BK < pc.cols) fetch(c0 + BK, r0, t0, wn, xn);
        [[unroll]] for (uint k = 0u; k < BK / 2u; k += 8u) { // 16 columns = 8 words
            MAT_A a[2];
            [[unroll]] for (uint i = 0u; i < 2u; i++)
                coopMatLoad(a[i], sh, (sr + 16u * i) * AS + k, AS, gl_CooperativeMatrixLayoutRowMajor);
            [[unroll]] for (uint j = 0u; j < 4u; j++) {
                MAT_B b; // X^T: element (col, token) at token * AS + col / 2
                coopMatLoad(b, sh, X0 + 16u * j * AS + k, AS, gl_CooperativeMatrixLayoutColumnMajor);
                [[unroll]] for (uint i = 0u; i < 2u; i++) acc[i][j] = coopMatMulAdd(a[i], b, acc[i][j]);
            }
        }
    }

    barrier(); // the tiles are read: the result goes over them
    [[unroll]] for (uint i = 0u; i < 2u; i++)
        [[unroll]] for (uint j = 0u; j < 4u; j++)
            coopMatStore(acc[i][j], sh, (sr + 16u * i) * CS + 16u * j, CS, gl_CooperativeMatrixLayoutRowMajor);
    barrier();
    // Token-major out: consecutive invocations write consecutive rows.
    for (uint e = lid; e < BM * BN; e += WG) {
        uint tt = e / BM, rr = e % BM;
        if (r0 + rr < pc.piece_rows && t0 + tt < pc.tokens)
            y[pc.y_skip + (t0 + tt) * pc.rows + pc.row_base + r0 + rr] = sh[rr * CS + tt];
    }
}
