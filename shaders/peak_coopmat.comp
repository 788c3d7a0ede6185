#version 450
// The matrix units' rate through subgroup-scope cooperative matrices, the
// ceiling of every kernel built on them: each subgroup loads one 16x16 A
// and one 16x16 B (f16) and runs pc.steps rounds of NACC independent
// 16x16x16 products into f32 accumulators (independent so that the
// products' latency overlaps), with no other memory traffic; then it
// stores the accumulators' sum, 256 floats, for the host to check.
#extension GL_KHR_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint NACC = 8;

layout(set = 0, binding = 0) readonly buffer AB { float16_t ab[]; }; // A, then B, row-major
layout(set = 0, binding = 1) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Push {
    uint steps, ab_skip, o_skip;
} pc;

#define ACC coopmat<float, gl_ScopeSubgroup, 16u, 16u, gl_MatrixUseAccumulator>

void main() {
    coopmat<float16_t, gl_ScopeSubgroup, 16u, 16u, gl_MatrixUseA> a;
    coopmat<float16_t, gl_ScopeSubgroup, 16u, 16u, gl_MatrixUseB> b;
    coopMatLoad(a, ab, pc.ab_skip, 16u, gl_CooperativeMatrixLayoutRowMajor);
    coopMatLoad(b, ab, pc.ab_skip + 256u, 16u, gl_CooperativeMatrixLayoutRowMajor);
    ACC acc[NACC];
    [[unroll]] for (uint i = 0u; i < NACC; i++) acc[i] = ACC(0.0);
    for (uint s = 0u; s < pc.steps; s++)
        [[unroll]] for (uint i = 0u; i < NACC; i++) acc[i] = coopMatMulAdd(a, b, acc[i]);
    [[unroll]] for (uint i = 1u; i < NACC; i++) acc[0] = acc[0] + acc[i];
    uint sg = gl_WorkGroupID.x * gl_NumSubgroups + gl_SubgroupID;
    coopMatStore(acc[0], o, pc.o_skip + sg * 256u, 16u, gl_CooperativeMatrixLayoutRowMajor);
}
