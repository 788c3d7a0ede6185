/* The cooperative-matrix rate probe (shaders/peak_coopmat.comp). */
#include "../vk/internal.h"

#define PEAK_SUBGROUPS 4 /* a workgroup's; the probe only needs several per multiprocessor */
#define PEAK_ACCUMULATORS 8

ei_status ei_coopmat_peak(ei_cmd *cmd, uint32_t workgroups, uint32_t steps, ei_tensor ab, ei_tensor out,
                          double *flops) {
    if (!cmd) return EI_ERROR_INVALID_ARGUMENT;
    ei_context *ctx = cmd->ctx;
    const char *fn = "ei_coopmat_peak";
    if (!flops) return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "%s: flops is NULL", fn);
    if (!workgroups || !steps || workgroups > ctx->facts.max_workgroup_count[0])
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "%s: workgroups (1..%u) and steps must be positive", fn,
                       ctx->facts.max_workgroup_count[0]);
    if (ab.dtype != EI_F16 || out.dtype != EI_F32)
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "%s: ab must be EI_F16 and out EI_F32", fn);
    uint64_t out_n = (uint64_t)workgroups * PEAK_SUBGROUPS * 256;
    struct {
        uint32_t steps, ab_skip, o_skip;
    } p = {steps};
    ei_binding b[2];
    ei_status st;
    if ((st = ei_tensor_check(ctx, ab, 512, "ei_coopmat_peak: ab")) ||
        (st = ei_tensor_check(ctx, out, out_n, "ei_coopmat_peak: out")) ||
        (st = ei_tensor_binding(ctx, ab, 0, 512, &b[0], &p.ab_skip)) ||
        (st = ei_tensor_binding(ctx, out, 0, out_n, &b[1], &p.o_skip)))
        return st;
    if (!ei_coopmat_ready(ctx, "peak_coopmat", PEAK_SUBGROUPS))
        return ei_fail(ctx, EI_ERROR_FEATURE_NOT_PRESENT,
                       "%s: no 16x16x16 f16 cooperative matrices with a fixed subgroup size of 16 or more here", fn);
    if (p.ab_skip % 8 || p.o_skip % 4) /* the matrices' loads and stores need 16-byte aligned starts */
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "%s: ab and out must start at 16-byte offsets", fn);
    ei_kernel k = {.shader = "peak_coopmat",
                   .bindings = 2,
                   .push_size = sizeof p,
                   .spec_count = 2,
                   .spec = {PEAK_SUBGROUPS * ctx->facts.subgroup_size, PEAK_ACCUMULATORS}};
    ei_pipeline *pipe;
    if ((st = ei_pipeline_get(ctx, &k, &pipe)) || (st = ei_cmd_dispatch(cmd, pipe, b, &p, workgroups, 1, 1)))
        return st;
    *flops = 2.0 * 16 * 16 * 16 * PEAK_ACCUMULATORS * (double)steps * PEAK_SUBGROUPS * workgroups;
    return EI_OK;
}
