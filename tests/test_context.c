/* The context's own device: facts, device choice, features, timestamps, and
 * the error paths (bad arguments, oversize bindings, missing features), each
 * with its own status and message, leaving the context usable. */
#include <stdlib.h>
#include <string.h>

#include "util/test_util.h"

static void check_facts(const ei_device_facts *f) {
    CHECK(f->name[0] != '\0', "device has no name");
    CHECK(f->api_version >= (1u << 22 | 2u << 12), "Vulkan 1.2 or newer expected");
    CHECK(f->subgroup_size >= 1 && (f->subgroup_size & (f->subgroup_size - 1)) == 0, "subgroup size %u",
          f->subgroup_size);
    CHECK(f->min_subgroup_size <= f->subgroup_size && f->subgroup_size <= f->max_subgroup_size,
          "subgroup sizes %u <= %u <= %u", f->min_subgroup_size, f->subgroup_size, f->max_subgroup_size);
    CHECK(f->max_shared_memory >= 16384, "shared memory %u below Vulkan's minimum", f->max_shared_memory);
    CHECK(f->max_storage_buffer_range >= (1u << 27), "storage range %llu below Vulkan's minimum",
          (unsigned long long)f->max_storage_buffer_range);
    CHECK(f->device_local_bytes > 0, "no device-local heap");
    for (uint32_t i = 0; i < f->coopmat_shape_count; i++)
        CHECK(f->coopmat_shapes[i].m && f->coopmat_shapes[i].n && f->coopmat_shapes[i].k, "empty coopmat shape");
    CHECK(!!(f->features & EI_FEATURE_COOPERATIVE_MATRIX) == (f->coopmat_shape_count > 0),
          "cooperative matrix flag and shape list disagree");
    printf("facts: %s | %s | subgroup %u [%u..%u] | shared %u B | binding %llu B | features 0x%x | coopmat shapes %u\n",
           f->name, f->driver, f->subgroup_size, f->min_subgroup_size, f->max_subgroup_size, f->max_shared_memory,
           (unsigned long long)f->max_storage_buffer_range, f->features, f->coopmat_shape_count);
}

/* A small pooling that must succeed: proof that the context still works. */
static void check_usable(ei_context *ctx) {
    ei_buffer *b = tu_buffer(ctx, 4 * 16 * 3);
    float x[16];
    for (int i = 0; i < 16; i++)
        x[i] = (float)(i % 5) - 2.0f;
    CHECK_STATUS(ei_buffer_upload(b, 0, x, sizeof x), EI_OK, ctx);
    ei_pool_desc d = {4, 1, 4, 4};
    ei_cmd *cmd = NULL;
    CHECK_STATUS(ei_cmd_begin(ctx, &cmd), EI_OK, ctx);
    CHECK_STATUS(
        ei_pool_minmax(cmd, &d, (ei_tensor){b, 0, EI_F32}, (ei_tensor){b, 64, EI_F32}, (ei_tensor){b, 128, EI_F32}),
        EI_OK, ctx);
    CHECK_STATUS(ei_cmd_run(cmd), EI_OK, ctx);
    ei_cmd_destroy(cmd);
    float out[8];
    CHECK_STATUS(ei_buffer_download(b, 64, out, 16), EI_OK, ctx);
    CHECK_STATUS(ei_buffer_download(b, 128, out + 4, 16), EI_OK, ctx);
    /* rows: {-2,-1,0,1} {2,-2,-1,0} {1,2,-2,-1} {0,1,2,-2} */
    const float want[8] = {2, 2, 2, 1, -2, -2, -2, -2};
    CHECK(memcmp(out, want, sizeof want) == 0, "pooling after an error gave a wrong result");
    ei_buffer_destroy(b);
}

static void check_bad_arguments(ei_context *ctx) {
    ei_buffer *b = tu_buffer(ctx, 4096);
    ei_tensor t = {b, 0, EI_F32};
    ei_cmd *cmd = NULL;
    CHECK_STATUS(ei_cmd_begin(ctx, &cmd), EI_OK, ctx);
    ei_pool_desc d = {8, 2, 16, 4};
    CHECK_STATUS(ei_pool_minmax(cmd, NULL, t, t, t), EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK(strstr(ei_context_error(ctx), "desc") != NULL, "message names the NULL desc: %s", ei_context_error(ctx));
    ei_pool_desc odd = {8, 2, 15, 4};
    CHECK_STATUS(ei_pool_minmax(cmd, &odd, t, t, t), EI_ERROR_INVALID_ARGUMENT, ctx);
    ei_pool_desc zero = {0, 2, 16, 4};
    CHECK_STATUS(ei_pool_minmax(cmd, &zero, t, t, t), EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK_STATUS(ei_pool_minmax(cmd, &d, t, (ei_tensor){b, 0, EI_F16}, t), EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK_STATUS(ei_pool_minmax(cmd, &d, (ei_tensor){b, 2, EI_F16}, t, t), EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK_STATUS(ei_pool_minmax(cmd, &d, (ei_tensor){b, 0, (ei_dtype)7}, t, t), EI_ERROR_INVALID_ARGUMENT, ctx);
    /* 8 rows x 2 heads x 16 = 256 floats fit; 200 rows do not. */
    ei_pool_desc big = {200, 2, 16, 4};
    CHECK_STATUS(ei_pool_minmax(cmd, &big, t, t, t), EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK(strstr(ei_context_error(ctx), "do not fit") != NULL, "message says what does not fit: %s",
          ei_context_error(ctx));
    CHECK_STATUS(ei_pool_minmax(cmd, &d, (ei_tensor){NULL, 0, EI_F32}, t, t), EI_ERROR_INVALID_ARGUMENT, ctx);
    /* Nothing was recorded by the failed calls: an empty recording runs. */
    CHECK_STATUS(ei_cmd_run(cmd), EI_OK, ctx);
    CHECK_STATUS(ei_cmd_submit(cmd), EI_ERROR_INVALID_ARGUMENT, ctx);
    ei_cmd_destroy(cmd);

    float host[4];
    CHECK_STATUS(ei_buffer_upload(b, 4090, host, 16), EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK_STATUS(ei_buffer_download(b, 0, NULL, 16), EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK_STATUS(ei_buffer_fill(b, 2, 8, 0), EI_ERROR_INVALID_ARGUMENT, ctx);
    ei_buffer *none = NULL;
    CHECK_STATUS(ei_buffer_create(ctx, 0, &none), EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK(none == NULL, "no buffer on failure");
    CHECK_STATUS(ei_buffer_create(ctx, 1ull << 50, &none), EI_ERROR_OUT_OF_DEVICE_MEMORY, ctx);
    CHECK(none == NULL && strstr(ei_context_error(ctx), "largest allocation"), "%s", ei_context_error(ctx));
    CHECK_STATUS(ei_buffer_create_mapped(ctx, 0, &none), EI_ERROR_INVALID_ARGUMENT, ctx);
    ei_buffer_destroy(b);

    /* A mapped buffer: what a kernel writes there, the host reads after the run. */
    ei_buffer *m = NULL;
    CHECK_STATUS(ei_buffer_create_mapped(ctx, 64, &m), EI_OK, ctx);
    float in[8] = {1, 2, 3, 4, 5, 6, 7, 8}, out[4];
    CHECK_STATUS(ei_buffer_upload(m, 0, in, sizeof in), EI_OK, ctx);
    CHECK_STATUS(ei_cmd_begin(ctx, &cmd), EI_OK, ctx);
    CHECK_STATUS(ei_elementwise(cmd, EI_ADD, 4, (ei_tensor){m, 0, EI_F32}, (ei_tensor){m, 16, EI_F32},
                                (ei_tensor){m, 32, EI_F32}),
                 EI_OK, ctx);
    CHECK_STATUS(ei_cmd_run(cmd), EI_OK, ctx);
    ei_cmd_destroy(cmd);
    CHECK_STATUS(ei_buffer_download(m, 32, out, sizeof out), EI_OK, ctx);
    CHECK(out[0] == 6 && out[3] == 12, "mapped sums %g .. %g", out[0], out[3]);
    ei_buffer_destroy(m);
}

/* One group larger than a storage binding cannot be split: a clear limit
 * error, nothing dispatched. */
static void check_oversize(void) {
    ei_context_desc desc = ei_context_desc_default();
    desc.max_binding_bytes = 1u << 16;
    ei_context *ctx = tu_context_from(desc);
    ei_buffer *b = tu_buffer(ctx, 1u << 18);
    ei_cmd *cmd = NULL;
    CHECK_STATUS(ei_cmd_begin(ctx, &cmd), EI_OK, ctx);
    ei_pool_desc d = {512, 4, 64, 512}; /* one segment: 512 x 4 x 64 x 2 B = 256 KiB > 64 KiB */
    ei_tensor x = {b, 0, EI_F32};
    CHECK_STATUS(ei_pool_minmax(cmd, &d, (ei_tensor){b, 0, EI_F16}, x, x), EI_ERROR_LIMIT_EXCEEDED, ctx);
    CHECK(strstr(ei_context_error(ctx), "binding range") != NULL, "message: %s", ei_context_error(ctx));
    CHECK_STATUS(ei_cmd_run(cmd), EI_OK, ctx);
    ei_cmd_destroy(cmd);
    ei_buffer_destroy(b);
    check_usable(ctx);
    tu_release(ctx);

    ei_context_desc tiny = ei_context_desc_default();
    tiny.max_binding_bytes = 4;
    char error[256] = "";
    tiny.error = error;
    tiny.error_size = sizeof error;
    ei_context *none = NULL;
    CHECK_STATUS(ei_context_create(&tiny, &none), EI_ERROR_INVALID_ARGUMENT, NULL);
    CHECK(none == NULL && strstr(error, "max_binding_bytes"), "error: %s", error);
}

/* Requiring an absent feature fails cleanly; masking one off hides it. */
static void check_features(const ei_device_facts *f) {
    uint32_t absent = 0;
    for (uint32_t bit = 1; bit <= EI_FEATURE_UNIFIED_MEMORY; bit <<= 1)
        if (!(f->features & bit)) absent |= bit;
    CHECK(absent != 0, "every feature is present: cannot test a missing one");
    for (uint32_t bit = 1; bit <= EI_FEATURE_UNIFIED_MEMORY; bit <<= 1) {
        if (!(absent & bit)) continue;
        ei_context_desc desc = ei_context_desc_default();
        desc.required_features = bit;
        char error[256] = "";
        desc.error = error;
        desc.error_size = sizeof error;
        ei_context *ctx = (ei_context *)&desc; /* must be reset to NULL */
        CHECK_STATUS(ei_context_create(&desc, &ctx), EI_ERROR_FEATURE_NOT_PRESENT, NULL);
        CHECK(ctx == NULL && strstr(error, "lacks required features"), "feature 0x%x: %s", bit, error);
    }
    /* Timestamps masked off: the op that needs them says so. */
    ei_context_desc desc = ei_context_desc_default();
    desc.disabled_features = EI_FEATURE_TIMESTAMPS;
    ei_context *ctx = tu_context_from(desc);
    CHECK(!(ei_context_facts(ctx)->features & EI_FEATURE_TIMESTAMPS), "timestamps were not masked");
    ei_cmd *cmd = NULL;
    uint32_t id;
    CHECK_STATUS(ei_cmd_begin(ctx, &cmd), EI_OK, ctx);
    CHECK_STATUS(ei_cmd_timestamp(cmd, &id), EI_ERROR_FEATURE_NOT_PRESENT, ctx);
    CHECK_STATUS(ei_cmd_run(cmd), EI_OK, ctx);
    ei_cmd_destroy(cmd);
    tu_release(ctx);
}

static void check_timestamps(ei_context *ctx) {
    if (!(ei_context_facts(ctx)->features & EI_FEATURE_TIMESTAMPS)) {
        CHECK(0, "the test device is expected to have timestamps");
        return;
    }
    ei_buffer *b = tu_buffer(ctx, 1u << 22);
    ei_cmd *cmd = NULL;
    uint32_t t0, t1;
    CHECK_STATUS(ei_cmd_begin(ctx, &cmd), EI_OK, ctx);
    CHECK_STATUS(ei_cmd_timestamp(cmd, &t0), EI_OK, ctx);
    ei_pool_desc d = {2048, 8, 64, 8};
    CHECK_STATUS(ei_pool_minmax(cmd, &d, (ei_tensor){b, 0, EI_F16}, (ei_tensor){b, 1u << 21, EI_F32},
                                (ei_tensor){b, 3u << 20, EI_F32}),
                 EI_OK, ctx);
    CHECK_STATUS(ei_cmd_timestamp(cmd, &t1), EI_OK, ctx);
    double ms = -1;
    CHECK_STATUS(ei_cmd_elapsed_ms(cmd, t0, t1, &ms), EI_ERROR_INVALID_ARGUMENT, ctx); /* not run yet */
    CHECK_STATUS(ei_cmd_run(cmd), EI_OK, ctx);
    CHECK_STATUS(ei_cmd_elapsed_ms(cmd, t0, t1, &ms), EI_OK, ctx);
    CHECK(ms > 0 && ms < 10000, "elapsed %g ms", ms);
    CHECK_STATUS(ei_cmd_elapsed_ms(cmd, t0, 5, &ms), EI_ERROR_INVALID_ARGUMENT, ctx);
    ei_cmd_destroy(cmd);
    ei_buffer_destroy(b);
}

static void check_device_choice(const ei_device_facts *f) {
    ei_context_desc desc = ei_context_desc_default();
    desc.device_name = "no such device anywhere";
    char error[256] = "";
    desc.error = error;
    desc.error_size = sizeof error;
    ei_context *ctx = NULL;
    if (getenv("EI_DEVICE")) return; /* the environment overrides the name */
    CHECK_STATUS(ei_context_create(&desc, &ctx), EI_ERROR_NO_DEVICE, NULL);
    CHECK(ctx == NULL && strstr(error, "no such device"), "error: %s", error);
    desc.device_name = NULL;
    desc.device_index = 1000;
    CHECK_STATUS(ei_context_create(&desc, &ctx), EI_ERROR_NO_DEVICE, NULL);
    CHECK(strstr(error, "out of range") != NULL, "error: %s", error);
    /* By a case-changed part of its name, the same device comes back. */
    char part[8] = "";
    for (int i = 0; i < 4 && f->name[i]; i++)
        part[i] = (char)((f->name[i] >= 'a' && f->name[i] <= 'z') ? f->name[i] - 32 : f->name[i]);
    desc.device_index = -1;
    desc.device_name = part;
    ctx = tu_context_from(desc);
    CHECK(strcmp(ei_context_facts(ctx)->name, f->name) == 0, "picked %s", ei_context_facts(ctx)->name);
    tu_release(ctx);
}

int main(void) {
    tu_seed();
    ei_context *ctx = tu_context();
    const ei_device_facts *f = ei_context_facts(ctx);
    check_facts(f);
    CHECK(strcmp(ei_context_error(ctx), "") == 0, "fresh context has an error: %s", ei_context_error(ctx));
    CHECK_STATUS(ei_context_create(NULL, NULL), EI_ERROR_INVALID_ARGUMENT, NULL);
    check_bad_arguments(ctx);
    check_usable(ctx);
    check_timestamps(ctx);
    check_oversize();
    check_features(f);
    check_device_choice(f);
    return tu_finish(ctx);
}
