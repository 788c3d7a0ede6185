/* ei_pool_minmax against the CPU reference: ragged shapes, one segment,
 * L < S, GQA head counts, every dtype, tensors at offsets, and a tensor
 * larger than the device's storage binding range. Max/min must be exact. */
#include <stdlib.h>
#include <string.h>

#include "ref/ref.h"
#include "util/test_util.h"

typedef struct shape {
    uint32_t rows, heads, dim, group;
} shape;

/* Runs one case; x is placed `x_pad` bytes into its buffer and the outputs
 * at `out_pad` bytes, so bindings start at unaligned offsets too. */
static void run_case(ei_context *ctx, shape s, ei_dtype dtype, uint64_t x_pad, uint64_t out_pad) {
    uint64_t row = (uint64_t)s.heads * s.dim, n = s.rows * row;
    uint32_t groups = (s.rows + s.group - 1) / s.group;
    uint64_t out_n = groups * row;
    size_t es = ei_dtype_size(dtype);
    void *stored = malloc(n * es);
    float *values = malloc(n * sizeof(float));
    float *ref_max = malloc(out_n * sizeof(float)), *ref_min = malloc(out_n * sizeof(float));
    float *got_max = malloc(out_n * sizeof(float)), *got_min = malloc(out_n * sizeof(float));
    if (!stored || !values || !ref_max || !ref_min || !got_max || !got_min) {
        fprintf(stderr, "out of host memory\n");
        exit(1);
    }
    tu_random_tensor(dtype, n, 4.0f, stored, values);
    ref_pool_minmax(values, s.rows, s.heads, s.dim, s.group, ref_max, ref_min);

    ei_buffer *bx = tu_buffer(ctx, x_pad + n * es);
    ei_buffer *bo = tu_buffer(ctx, 2 * (out_pad + out_n * 4));
    CHECK_STATUS(ei_buffer_upload(bx, x_pad, stored, n * es), EI_OK, ctx);
    ei_tensor x = {bx, x_pad, dtype};
    ei_tensor omax = {bo, out_pad, EI_F32};
    ei_tensor omin = {bo, 2 * out_pad + out_n * 4, EI_F32};
    ei_pool_desc d = {s.rows, s.heads, s.dim, s.group};
    ei_cmd *cmd = NULL;
    CHECK_STATUS(ei_cmd_begin(ctx, &cmd), EI_OK, ctx);
    CHECK_STATUS(ei_pool_minmax(cmd, &d, x, omax, omin), EI_OK, ctx);
    CHECK_STATUS(ei_cmd_run(cmd), EI_OK, ctx);
    ei_cmd_destroy(cmd);
    CHECK_STATUS(ei_buffer_download(bo, omax.offset, got_max, out_n * 4), EI_OK, ctx);
    CHECK_STATUS(ei_buffer_download(bo, omin.offset, got_min, out_n * 4), EI_OK, ctx);

    uint64_t bad = 0, first = 0;
    for (uint64_t i = 0; i < out_n; i++)
        if (memcmp(&got_max[i], &ref_max[i], 4) != 0 || memcmp(&got_min[i], &ref_min[i], 4) != 0) {
            if (!bad) first = i;
            bad++;
        }
    CHECK(bad == 0, "rows %u heads %u dim %u group %u %s: %llu of %llu differ, first at %llu (max %g vs %g)", s.rows,
          s.heads, s.dim, s.group, tu_dtype_name(dtype), (unsigned long long)bad, (unsigned long long)out_n,
          (unsigned long long)first, got_max[first], ref_max[first]);
    printf("pool rows %6u heads %2u dim %3u group %3u %-4s: %s\n", s.rows, s.heads, s.dim, s.group,
           tu_dtype_name(dtype), bad ? "FAIL" : "exact");
    ei_buffer_destroy(bx);
    ei_buffer_destroy(bo);
    free(stored);
    free(values);
    free(ref_max);
    free(ref_min);
    free(got_max);
    free(got_min);
}

int main(void) {
    tu_seed();
    ei_context *ctx = tu_context();
    const ei_device_facts *f = ei_context_facts(ctx);
    /* Segments (group = S) and blocks (group = b) at ragged and edge shapes:
     * L not a multiple of S or b, L < S, exactly one segment, one row,
     * query heads (8, 32) and KV heads (1, 2) of GQA layouts. */
    const shape shapes[] = {
        {1000, 8, 64, 512},   {1000, 2, 64, 8},  {300, 4, 128, 512}, {512, 4, 128, 512}, {1, 2, 64, 512},
        {1537, 32, 128, 512}, {1536, 1, 256, 8}, {77, 8, 80, 8},     {96, 3, 96, 8},     {2049, 2, 2, 64},
    };
    const ei_dtype dtypes[] = {EI_F32, EI_F16, EI_BF16};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (size_t t = 0; t < 3; t++)
            run_case(ctx, shapes[i], dtypes[t], 4 * tu_below(8), 4 * tu_below(8));
    /* A random shape too, each run. */
    shape r = {1 + tu_below(3000), 1 + tu_below(8), 2 * (1 + tu_below(64)), 1u << tu_below(10)};
    run_case(ctx, r, dtypes[tu_below(3)], 4 * tu_below(8), 4 * tu_below(8));

    /* Keys larger than one storage binding: the op must split the work into
     * pieces of whole groups and still be exact. With a 3 MiB cap on any
     * device, and past the device's own limit where that fits in memory
     * (lavapipe's 128 MiB). */
    ei_context_desc capped = ei_context_desc_default();
    capped.max_binding_bytes = 3u << 20;
    ei_context *small = tu_context_from(capped);
    run_case(small, (shape){3001, 8, 128, 8}, EI_F16, 4, 8);
    run_case(small, (shape){1500, 8, 128, 512}, EI_F32, 0, 4);
    tu_release(small);
    uint64_t range = f->max_storage_buffer_range;
    uint32_t heads = 8, dim = 128;
    uint64_t rows = range / (heads * dim * 4) + 1001;
    if (rows * heads * dim * 4 <= (1ull << 30))
        run_case(ctx, (shape){(uint32_t)(rows / 8 * 8), heads, dim, 8}, EI_F32, 0, 0);
    else
        printf("the device's binding range (%llu bytes) is too large to exceed here; the capped case covers it\n",
               (unsigned long long)range);
    return tu_finish(ctx);
}
