/* Segment and block max/min pooling (algorithm.md section 1, steps 1-3). */
#include "../vk/internal.h"

#define POOL_WORKGROUP 64

typedef struct pool_push {
    uint32_t rows, heads, dim, group, x_skip, max_skip, min_skip;
} pool_push;

ei_status ei_pool_minmax(ei_cmd *cmd, const ei_pool_desc *d, ei_tensor x, ei_tensor out_max, ei_tensor out_min) {
    if (!cmd) return EI_ERROR_INVALID_ARGUMENT;
    ei_context *ctx = cmd->ctx;
    if (!d) return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_pool_minmax: desc is NULL");
    if (d->rows == 0 || d->heads == 0 || d->dim == 0 || d->group == 0 || d->dim % 2)
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT,
                       "ei_pool_minmax: rows %u, heads %u, group %u must be positive and dim %u positive and even",
                       d->rows, d->heads, d->group, d->dim);
    if (!ei_is_float(x.dtype))
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_pool_minmax: x must be f32, f16 or bf16");
    if (out_max.dtype != EI_F32 || out_min.dtype != EI_F32)
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_pool_minmax: outputs must be EI_F32");
    uint64_t row = (uint64_t)d->heads * d->dim;
    uint64_t groups = ((uint64_t)d->rows + d->group - 1) / d->group;
    ei_status st = ei_tensor_check(ctx, x, d->rows * row, "ei_pool_minmax: x");
    if (st == EI_OK) st = ei_tensor_check(ctx, out_max, groups * row, "ei_pool_minmax: out_max");
    if (st == EI_OK) st = ei_tensor_check(ctx, out_min, groups * row, "ei_pool_minmax: out_min");
    if (st != EI_OK) return st;

    /* Pieces of whole groups, each within the binding range and the
     * workgroup-count limit. */
    uint64_t by_x = ei_tensor_max_elements(ctx, x.dtype) / (row * d->group);
    uint64_t by_out = ei_tensor_max_elements(ctx, EI_F32) / row;
    uint64_t per = by_x < by_out ? by_x : by_out;
    if (per > ctx->facts.max_workgroup_count[1]) per = ctx->facts.max_workgroup_count[1];
    if (per == 0)
        return ei_fail(ctx, EI_ERROR_LIMIT_EXCEEDED,
                       "ei_pool_minmax: one group of %u rows x %llu elements exceeds the device's binding range",
                       d->group, (unsigned long long)row);
    uint64_t pairs = row / 2;
    uint64_t gx = (pairs + POOL_WORKGROUP - 1) / POOL_WORKGROUP;
    if (gx > ctx->facts.max_workgroup_count[0])
        return ei_fail(ctx, EI_ERROR_LIMIT_EXCEEDED, "ei_pool_minmax: heads x dim %llu is too large",
                       (unsigned long long)row);

    ei_kernel k = {.shader = "pool_minmax",
                   .bindings = 3,
                   .push_size = sizeof(pool_push),
                   .spec_count = 2,
                   .spec = {POOL_WORKGROUP, (uint32_t)x.dtype}};
    ei_pipeline *p;
    st = ei_pipeline_get(ctx, &k, &p);
    for (uint64_t g0 = 0; st == EI_OK && g0 < groups; g0 += per) {
        uint64_t n = groups - g0 < per ? groups - g0 : per;
        uint64_t r0 = g0 * d->group;
        uint64_t rows = d->rows - r0 < n * d->group ? d->rows - r0 : n * d->group;
        ei_binding b[3];
        pool_push push = {.rows = (uint32_t)rows, .heads = d->heads, .dim = d->dim, .group = d->group};
        st = ei_tensor_binding(ctx, x, r0 * row, rows * row, &b[0], &push.x_skip);
        if (st == EI_OK) st = ei_tensor_binding(ctx, out_max, g0 * row, n * row, &b[1], &push.max_skip);
        if (st == EI_OK) st = ei_tensor_binding(ctx, out_min, g0 * row, n * row, &b[2], &push.min_skip);
        if (st == EI_OK) st = ei_cmd_dispatch(cmd, p, b, &push, (uint32_t)gx, (uint32_t)n, 1);
    }
    return st;
}
