// Workgroup-wide reductions through shared memory, correct for any subgroup
// size. The including shader defines WG (its workgroup size, a power of two)
// and calls these from uniform control flow.
#ifndef EI_REDUCE_GLSL
#define EI_REDUCE_GLSL

shared float ei_red[WG];

float ei_reduce_max(float x) {
    uint i = gl_LocalInvocationID.x;
    ei_red[i] = x;
    barrier();
    for (uint n = WG / 2u; n > 0u; n >>= 1) {
        if (i < n) ei_red[i] = max(ei_red[i], ei_red[i + n]);
        barrier();
    }
    float r = ei_red[0];
    barrier();
    return r;
}

float ei_reduce_sum(float x) {
    uint i = gl_LocalInvocationID.x;
    ei_red[i] = x;
    barrier();
    for (uint n = WG / 2u; n > 0u; n >>= 1) {
        if (i < n) ei_red[i] += ei_red[i + n];
        barrier();
    }
    float r = ei_red[0];
    barrier();
    return r;
}

#endif
