#version 450
// Gated activations and residual adds, element-wise over n floats:
// MODE 0 SwiGLU   out = silu(a) * b          (Llama, Qwen)
// MODE 1 GeGLU    out = gelu_tanh(a) * b     (Gemma)
// MODE 2 add      out = a + b
// b repeats every b_period elements (a bias row added to every token).

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint MODE = 0;

layout(set = 0, binding = 0) readonly buffer A { float a[]; };
layout(set = 0, binding = 1) readonly buffer B { float b[]; };
layout(set = 0, binding = 2) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Push {
    uint n, base, b_period, a_skip, b_skip, o_skip;
} pc;

void main() {
    const uint i = pc.base + gl_GlobalInvocationID.x;
    if (i >= pc.n) return;
    const float x = a[pc.a_skip + i], y = b[pc.b_skip + i % pc.b_period];
    float v;
    if (MODE == 0u) {
        v = x / (1.0 + exp(-x)) * y;
    } else if (MODE == 1u) {
        // GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        v = 0.5 * x * (1.0 + tanh(0.7978845608 * (x + 0.044715 * x * x * x))) * y;
    } else {
        v = x + y;
    }
    o[pc.o_skip + i] = v;
}
