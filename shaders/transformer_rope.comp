#version 450
// Rotary position embedding, in place on x [tokens][heads][dim] (f32):
// token t sits at position pos0 + t; pair i of a head (i < rot/2) turns by
// theta = pos * freq_scale * base^(-2i/rot) / factor[i] (factor: optional
// per-pair divisors, Llama 3's rope_freqs). NEOX pairs element i with
// i + rot/2; otherwise (GPT-J / llama.cpp "normal") 2i with 2i+1. Dims
// past rot stay as they are. One invocation per (token, head, pair).

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint NEOX = 0;

layout(set = 0, binding = 0) buffer X { float x[]; };
layout(set = 0, binding = 1) readonly buffer Factors { float factors[]; };

layout(push_constant) uniform Push {
    uint tokens, heads, dim, rot, pos0, has_factors;
    float base, freq_scale;
    uint x_skip, f_skip;
} pc;

void main() {
    const uint g = gl_GlobalInvocationID.x, pairs = pc.rot / 2u;
    if (g >= pc.tokens * pc.heads * pairs) return;
    const uint i = g % pairs, th = g / pairs; // th: token * heads + head
    const uint t = th / pc.heads;
    float inv_freq = pow(pc.base, -2.0 * float(i) / float(pc.rot));
    if (pc.has_factors != 0u) inv_freq /= factors[pc.f_skip + i];
    const float theta = float(pc.pos0 + t) * pc.freq_scale * inv_freq;
    const float c = cos(theta), s = sin(theta);
    const uint at = pc.x_skip + th * pc.dim;
    const uint j0 = NEOX != 0u ? i : 2u * i, j1 = NEOX != 0u ? i + pairs : 2u * i + 1u;
    const float a = x[at + j0], b = x[at + j1];
    x[at + j0] = a * c - b * s;
    x[at + j1] = a * s + b * c;
}
