#version 450
// AdaKV's budget split (algorithm.md section 5): the layer keeps
// total = heads * (Bd - W) keys besides the windows, chosen jointly by
// smoothed score over every head, with a floor: each head's top `floor`
// keys are taken first.
//
// MODE 0: one invocation per (rank i, head) lifts the head's top-floor keys
// (listed by topk_select) to the largest float. MODE 1, one workgroup: a
// radix select over every head's candidates finds the total-th largest
// score, and each head's keep is its count above it plus its share of the
// ties at it, given to heads in order (then to lower indices, as
// topk_select takes them).

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint WG = 256;
layout(constant_id = 2) const uint MODE = 0;

layout(set = 0, binding = 0) coherent buffer Pooled { float pooled[]; }; // [Hc][capacity]
layout(set = 0, binding = 1) readonly buffer Lens { uint lens[]; };
layout(set = 0, binding = 2) readonly buffer Floor { uint floor_sel[]; }; // [Hc][max_floor]
layout(set = 0, binding = 3) writeonly buffer Keep { uint keep[]; };

layout(push_constant) uniform Push {
    uint cache_heads, capacity, window, floor_keep, total;
    uint pooled_skip, lens_skip, floor_skip, keep_skip;
} pc;

shared uint hist[256];
shared uint chosen, remaining;
shared uint above[64], equal[64]; // per head; the host allows at most 64 heads

uint order_key(float x) {
    uint u = floatBitsToUint(x == 0.0 ? 0.0 : x);
    return (u & 0x80000000u) != 0u ? ~u : u | 0x80000000u;
}

uint candidates(uint h) {
    uint len = lens[pc.lens_skip + h];
    return len - min(pc.window, len);
}

void main() {
    const uint lid = gl_LocalInvocationID.x;
    if (MODE == 0u) {
        const uint i = gl_GlobalInvocationID.x, h = gl_WorkGroupID.y;
        if (i < min(pc.floor_keep, candidates(h)))
            pooled[pc.pooled_skip + h * pc.capacity + floor_sel[pc.floor_skip + h * pc.floor_keep + i]] =
                3.40282347e38;
        return;
    }
    uint all = 0u;
    for (uint h = 0u; h < pc.cache_heads; h++) all += candidates(h);
    uint prefix = 0u, mask = 0u, need = min(pc.total, all);
    if (need == 0u) {
        for (uint h = lid; h < pc.cache_heads; h += WG) keep[pc.keep_skip + h] = 0u;
        return;
    }
    for (int shift = 24; shift >= 0; shift -= 8) {
        hist[lid] = 0u;
        barrier();
        for (uint h = 0u; h < pc.cache_heads; h++)
            for (uint j = lid; j < candidates(h); j += WG) {
                uint u = order_key(pooled[pc.pooled_skip + h * pc.capacity + j]);
                if ((u & mask) == prefix) atomicAdd(hist[(u >> uint(shift)) & 255u], 1u);
            }
        barrier();
        if (lid == 0u) {
            uint over = 0u, digit = 255u;
            while (over + hist[digit] < need) over += hist[digit--];
            chosen = digit;
            remaining = need - over;
        }
        barrier();
        prefix |= chosen << uint(shift);
        mask |= 255u << uint(shift);
        need = remaining;
        barrier();
    }
    if (lid < pc.cache_heads) above[lid] = equal[lid] = 0u;
    barrier();
    for (uint h = 0u; h < pc.cache_heads; h++)
        for (uint j = lid; j < candidates(h); j += WG) {
            uint u = order_key(pooled[pc.pooled_skip + h * pc.capacity + j]);
            if (pc.total >= all || u > prefix) atomicAdd(above[h], 1u);
            else if (u == prefix) atomicAdd(equal[h], 1u);
        }
    barrier();
    if (lid == 0u) {
        uint ties = pc.total >= all ? 0u : need;
        for (uint h = 0u; h < pc.cache_heads; h++) {
            uint share = min(equal[h], ties);
            ties -= share;
            keep[pc.keep_skip + h] = above[h] + share;
        }
    }
}
