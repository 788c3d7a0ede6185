#version 450
// Cache compaction (algorithm.md section 4, step 4): each stored head keeps
// its selected keys (ascending, as topk_select writes them) and its last W
// keys, in original order. MODE 0 gathers those rows of K and V into a
// staging area (an in-place gather could overwrite rows still to be read)
// and records the new lengths; MODE 1, dispatched after, copies them back
// and sets the lengths. A head with fewer than Bd keys keeps them all.

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint MODE = 0;

layout(set = 0, binding = 0) buffer KCache { uint k_cache[]; };
layout(set = 0, binding = 1) buffer VCache { uint v_cache[]; };
layout(set = 0, binding = 2) buffer Lens { uint lens[]; };
layout(set = 0, binding = 3) readonly buffer Keep { uint keep[]; };
layout(set = 0, binding = 4) readonly buffer Selected { uint selected[]; }; // [Hc][max_keep]
layout(set = 0, binding = 5) buffer KStage { uint k_stage[]; };             // [max_rows][Hc][row_words]
layout(set = 0, binding = 6) buffer VStage { uint v_stage[]; };
layout(set = 0, binding = 7) buffer NewLens { uint new_lens[]; };

layout(push_constant) uniform Push {
    uint cache_heads, row_words, window, max_keep, max_rows;
    uint k_skip, v_skip, lens_skip, keep_skip, selected_skip, k_stage_skip, v_stage_skip, new_lens_skip;
} pc;

void main() {
    const uint t = gl_GlobalInvocationID.x;
    const uint per_row = pc.cache_heads * pc.row_words;
    if (t >= pc.max_rows * per_row) return;
    const uint i = t / per_row, hc = (t / pc.row_words) % pc.cache_heads, w = t % pc.row_words;
    const uint at = (i * pc.cache_heads + hc) * pc.row_words + w;
    if (MODE == 0u) {
        const uint len = lens[pc.lens_skip + hc];
        const uint n = len - min(pc.window, len); // candidates before the window
        const uint k = min(keep[pc.keep_skip + hc], n);
        const uint new_len = k + (len - n);
        if (i == 0u && w == 0u) new_lens[pc.new_lens_skip + hc] = new_len;
        if (i >= new_len) return;
        const uint src_row = i < k ? selected[pc.selected_skip + hc * pc.max_keep + i] : n + (i - k);
        const uint src = (src_row * pc.cache_heads + hc) * pc.row_words + w;
        k_stage[pc.k_stage_skip + at] = k_cache[pc.k_skip + src];
        v_stage[pc.v_stage_skip + at] = v_cache[pc.v_skip + src];
        return;
    }
    const uint new_len = new_lens[pc.new_lens_skip + hc];
    if (i == 0u && w == 0u) lens[pc.lens_skip + hc] = new_len;
    if (i >= new_len) return;
    k_cache[pc.k_skip + at] = k_stage[pc.k_stage_skip + at];
    v_cache[pc.v_skip + at] = v_stage[pc.v_stage_skip + at];
}
