#version 450
// Y[t][r] = sum_c W[r][c] * X[t][c] for F16 weights and f16 activations on
// workgroup-scope cooperative matrices (VK_NV_cooperative_matrix2: flexible
// sizes, tensor-addressed loads and stores; the driver stages the tiles
// through shared memory and picks the instructions), f32 accumulation. The
// workgroup computes Y^T's BM rows x BN tokens block in steps of BK columns.
// The tensor layouts clamp: past the last row, token or column the loads
// read zeros and the stores write nothing, so ragged shapes need no
// remainder path. The host checks the 16-byte alignment the loads need.
#extension GL_KHR_cooperative_matrix : require
#extension GL_NV_cooperative_matrix2 : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require

// A literal size: workgroup-scope matrices need it known before
// specialization (the driver read a specialized WorkgroupSize as 0 and
// crashed; LocalSizeId would need SPIR-V 1.6 and maintenance4). 256 is
// NVIDIA's largest, with the coarsest granularity (32x32x16 on the H100).
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint BM = 128;
layout(constant_id = 1) const uint BN = 128;
layout(constant_id = 2) const uint BK = 32;

layout(set = 0, binding = 0) readonly buffer W { float16_t w[]; };
layout(set = 0, binding = 1) readonly buffer X { float16_t x[]; };
layout(set = 0, binding = 2) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Push {
    uint rows, cols, tokens, w_skip, x_skip, y_skip; // skips in elements of each buffer
} pc;

void main() {
    const uint r0 = gl_WorkGroupID.x * BM, t0 = gl_WorkGroupID.y * BN;
    tensorLayoutNV<2, gl_CooperativeMatrixClampModeConstantNV> tw = createTensorLayoutNV(2, gl_CooperativeMatrixClampModeConstantNV);
    tensorLayoutNV<2, gl_CooperativeMatrixClampModeConstantNV> tx = createTensorLayoutNV(2, gl_CooperativeMatrixClampModeConstantNV);
    tensorLayoutNV<2, gl_CooperativeMatrixClampModeConstantNV> ty = createTensorLayoutNV(2, gl_CooperativeMatrixClampModeConstantNV);
    tw = setTensorLayoutDimensionNV(tw, pc.rows, pc.cols);
    tx = setTensorLayoutDimensionNV(tx, pc.tokens, pc.cols);
    ty = setTensorLayoutDimensionNV(ty, pc.tokens, pc.rows);
    // X and Y are token-major: B = X^T and the result Y^T go through a transposing view.
    tensorViewNV<2, false, 1, 0> transposed = createTensorViewNV(2, false, 1, 0);

    coopmat<float, gl_ScopeWorkgroup, BM, BN, gl_MatrixUseAccumulator> acc =
        coopmat<float, gl_ScopeWorkgroup, BM, BN, gl_MatrixUseAccumulator>(0.0);
    for (uint c = 0u; c < pc.cols; c += BK) {
        coopmat<float16_t, gl_ScopeWorkgroup, BM, BK, gl_MatrixUseA> a;
        coopmat<float16_t, gl_ScopeWorkgroup, BK, BN, gl_MatrixUseB> b;
        coopMatLoadTensorNV(a, w, pc.w_skip, sliceTensorLayoutNV(tw, r0, BM, c, BK));
        coopMatLoadTensorNV(b, x, pc.x_skip, sliceTensorLayoutNV(tx, t0, BN, c, BK), transposed);
        acc = coopMatMulAdd(a, b, acc);
    }
    coopMatStoreTensorNV(acc, y, pc.y_skip, sliceTensorLayoutNV(ty, t0, BN, r0, BM), transposed);
}
