#version 450
// KV-cache appends (algorithm.md section 4): MODE 0 copies n new rows of K
// and V ([n][src_heads][dim]) to each stored head's end, lens[head] + i;
// stored head h takes source head h / expand (expand = G stores a copy per
// query head, the paper's per-query-head layout). MODE 1, dispatched after,
// adds n to every head's length. Rows move as 32-bit words.

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint MODE = 0;

layout(set = 0, binding = 0) readonly buffer KNew { uint k_new[]; };
layout(set = 0, binding = 1) readonly buffer VNew { uint v_new[]; };
layout(set = 0, binding = 2) buffer KCache { uint k_cache[]; };
layout(set = 0, binding = 3) buffer VCache { uint v_cache[]; };
layout(set = 0, binding = 4) buffer Lens { uint lens[]; };

layout(push_constant) uniform Push {
    uint n, heads, expand, row_words; // row_words: words of one head's row
    uint k_new_skip, v_new_skip, k_skip, v_skip, lens_skip; // in words
} pc;

void main() {
    const uint t = gl_GlobalInvocationID.x;
    if (MODE == 1u) {
        if (t < pc.heads) lens[pc.lens_skip + t] += pc.n;
        return;
    }
    const uint per_row = pc.heads * pc.row_words;
    if (t >= pc.n * per_row) return;
    const uint i = t / per_row, h = (t / pc.row_words) % pc.heads, w = t % pc.row_words;
    const uint src = (i * (pc.heads / pc.expand) + h / pc.expand) * pc.row_words + w;
    const uint dst = ((lens[pc.lens_skip + h] + i) * pc.heads + h) * pc.row_words + w;
    k_cache[pc.k_skip + dst] = k_new[pc.k_new_skip + src];
    v_cache[pc.v_skip + dst] = v_new[pc.v_new_skip + src];
}
