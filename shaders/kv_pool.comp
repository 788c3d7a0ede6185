#version 450
// Smoothing of the cache scores (algorithm.md section 4, step 3): 1-D
// average pooling with an odd kernel, stride 1, zero padding counted (the
// sum is always divided by the kernel width), over each stored head's keys
// [0, len - W).

layout(local_size_x_id = 0) in;

layout(set = 0, binding = 0) readonly buffer Score { float score[]; };
layout(set = 0, binding = 1) readonly buffer Lens { uint lens[]; };
layout(set = 0, binding = 2) writeonly buffer Pooled { float pooled[]; };

layout(push_constant) uniform Push {
    uint capacity, window, kernel;
    uint score_skip, lens_skip, pooled_skip;
} pc;

void main() {
    const uint j = gl_GlobalInvocationID.x, hc = gl_WorkGroupID.y;
    const uint len = lens[pc.lens_skip + hc];
    const uint n = len - min(pc.window, len);
    if (j >= n) return;
    const int half_width = int(pc.kernel / 2u);
    float sum = 0.0;
    for (int t = -half_width; t <= half_width; t++) {
        int x = int(j) + t;
        if (x >= 0 && x < int(n)) sum += score[pc.score_skip + hc * pc.capacity + uint(x)];
    }
    pooled[pc.pooled_skip + hc * pc.capacity + j] = sum / float(pc.kernel);
}
