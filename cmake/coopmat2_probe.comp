#version 450
// Configure-time probe: does the shader compiler know GL_NV_cooperative_matrix2's tensor addressing?
#extension GL_KHR_cooperative_matrix : require
#extension GL_NV_cooperative_matrix2 : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
layout(local_size_x = 32) in;
layout(set = 0, binding = 0) readonly buffer B { float16_t b[]; };
void main() {
    tensorLayoutNV<2> t = createTensorLayoutNV(2);
    t = setTensorLayoutDimensionNV(t, 32, 32);
    coopmat<float16_t, gl_ScopeWorkgroup, 32, 32, gl_MatrixUseA> a;
    coopMatLoadTensorNV(a, b, 0, sliceTensorLayoutNV(t, 0, 32, 0, 32));
}
