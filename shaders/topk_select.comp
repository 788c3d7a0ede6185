#version 450
// Top-k selection, ties to the lower index, written in ascending index
// order, per row of candidates. Two users:
//  - block selection (algorithm.md section 2, step 5): a row per (KV head,
//    segment s >= first_row), candidates the blocks j < s * nrep, k = keep;
//  - KV-cache compression (section 4, step 4; nrep = 0): a row per KV head,
//    candidates the keys j < lens[head] - window, k = the head's budget.
//
// A radix select over the scores' order-preserving 32-bit keys (4 passes of
// 8 bits with a 256-bin histogram) finds the keep-th largest key T and how
// many blocks equal to T to take; one ordered pass then writes the blocks
// above T and the first such blocks equal to T.

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint WG = 256;

layout(set = 0, binding = 0) readonly buffer Scores { float scores[]; };
layout(set = 0, binding = 1) readonly buffer Keep { uint keep[]; };
layout(set = 0, binding = 2) writeonly buffer Selected { uint selected[]; };
layout(set = 0, binding = 3) readonly buffer Lens { uint lens[]; }; // nrep = 0 only

layout(push_constant) uniform Push {
    uint rows;      // rows per head (segments, or 1)
    uint first_row; // the first row dispatched (1: segment 0 sees nothing)
    uint stride;    // candidates between rows (nblk, or the cache capacity)
    uint nrep;      // 0: candidates from lens - window
    uint window;
    uint max_keep;
    uint scores_skip, keep_skip, selected_skip, lens_skip;
} pc;

shared uint hist[256];
shared uint chosen, remaining;
shared uint scan[WG];
shared uint base_gt, base_eq;

// Larger float, larger key; -0 and +0 are one value.
uint order_key(float x) {
    uint u = floatBitsToUint(x == 0.0 ? 0.0 : x);
    return (u & 0x80000000u) != 0u ? ~u : u | 0x80000000u;
}

void main() {
    const uint s = gl_WorkGroupID.x + pc.first_row, hk = gl_WorkGroupID.y, lid = gl_LocalInvocationID.x;
    uint n = min(s * pc.nrep, pc.stride);
    if (pc.nrep == 0u) n = lens[pc.lens_skip + hk] - min(pc.window, lens[pc.lens_skip + hk]);
    const uint k = min(keep[pc.keep_skip + hk * pc.rows + s], n);
    const uint row = pc.scores_skip + (hk * pc.rows + s) * pc.stride;
    const uint out_at = pc.selected_skip + (hk * pc.rows + s) * pc.max_keep;
    if (k == 0u) return;

    uint prefix = 0u, mask = 0u, need = k;
    if (k < n) {
        for (int shift = 24; shift >= 0; shift -= 8) {
            hist[lid] = 0u; // WG >= 256 is required by the host
            barrier();
            for (uint j = lid; j < n; j += WG) {
                uint u = order_key(scores[row + j]);
                if ((u & mask) == prefix) atomicAdd(hist[(u >> uint(shift)) & 255u], 1u);
            }
            barrier();
            if (lid == 0u) {
                uint above = 0u, digit = 255u;
                while (above + hist[digit] < need) above += hist[digit--];
                chosen = digit;
                remaining = need - above;
            }
            barrier();
            prefix |= chosen << uint(shift);
            mask |= 255u << uint(shift);
            need = remaining;
            barrier();
        }
    } else {
        prefix = 0u; // every visible block is selected: all keys >= 0, none counted as equal
        need = 0u;
    }
    // Ordered write: position = (blocks above T before j) + min(equal before j, need).
    if (lid == 0u) base_gt = base_eq = 0u;
    barrier();
    for (uint c0 = 0u; c0 < n; c0 += WG) {
        uint j = c0 + lid;
        uint u = j < n ? order_key(scores[row + j]) : 0u;
        bool gt = j < n && (k >= n || u > prefix);
        bool eq = j < n && k < n && u == prefix;
        // Inclusive scan of (gt, eq) counts packed into one word (each < 2^16).
        uint v = (gt ? 1u : 0u) | (eq ? 0x10000u : 0u);
        scan[lid] = v;
        barrier();
        for (uint d = 1u; d < WG; d <<= 1) {
            uint add = lid >= d ? scan[lid - d] : 0u;
            barrier();
            scan[lid] += add;
            barrier();
        }
        uint before = scan[lid] - v;
        uint gt_before = base_gt + (before & 0xffffu), eq_before = base_eq + (before >> 16);
        if (gt || (eq && eq_before < need)) selected[out_at + gt_before + min(eq_before, need)] = j;
        barrier();
        if (lid == WG - 1u) {
            base_gt += scan[lid] & 0xffffu;
            base_eq += scan[lid] >> 16;
        }
        barrier();
    }
}
