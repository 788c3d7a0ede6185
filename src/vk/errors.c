/* Status codes and the per-context message of the last failure. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

const char *ei_status_name(ei_status status) {
    switch (status) {
    case EI_OK: return "EI_OK";
    case EI_ERROR_INVALID_ARGUMENT: return "EI_ERROR_INVALID_ARGUMENT";
    case EI_ERROR_OUT_OF_HOST_MEMORY: return "EI_ERROR_OUT_OF_HOST_MEMORY";
    case EI_ERROR_OUT_OF_DEVICE_MEMORY: return "EI_ERROR_OUT_OF_DEVICE_MEMORY";
    case EI_ERROR_DEVICE_LOST: return "EI_ERROR_DEVICE_LOST";
    case EI_ERROR_FEATURE_NOT_PRESENT: return "EI_ERROR_FEATURE_NOT_PRESENT";
    case EI_ERROR_LIMIT_EXCEEDED: return "EI_ERROR_LIMIT_EXCEEDED";
    case EI_ERROR_NO_DEVICE: return "EI_ERROR_NO_DEVICE";
    case EI_ERROR_VULKAN: return "EI_ERROR_VULKAN";
    }
    return "EI_ERROR_UNKNOWN";
}

size_t ei_dtype_size(ei_dtype dtype) { return dtype == EI_F16 || dtype == EI_BF16 ? 2 : 4; }

const char *ei_context_error(const ei_context *ctx) { return ctx ? ctx->error : ""; }

void ei_write_error(char *dst, size_t size, const char *msg) {
    if (dst && size > 0) snprintf(dst, size, "%s", msg);
}

ei_status ei_fail(ei_context *ctx, ei_status status, const char *fmt, ...) {
    if (ctx) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ctx->error, sizeof ctx->error, fmt, ap);
        va_end(ap);
    }
    return status;
}

ei_status ei_status_of(VkResult result) {
    switch (result) {
    case VK_SUCCESS: return EI_OK;
    case VK_ERROR_OUT_OF_HOST_MEMORY: return EI_ERROR_OUT_OF_HOST_MEMORY;
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return EI_ERROR_OUT_OF_DEVICE_MEMORY;
    case VK_ERROR_DEVICE_LOST: return EI_ERROR_DEVICE_LOST;
    case VK_ERROR_FEATURE_NOT_PRESENT:
    case VK_ERROR_EXTENSION_NOT_PRESENT:
    case VK_ERROR_LAYER_NOT_PRESENT: return EI_ERROR_FEATURE_NOT_PRESENT;
    case VK_ERROR_INCOMPATIBLE_DRIVER: return EI_ERROR_NO_DEVICE;
    default: return EI_ERROR_VULKAN;
    }
}

static const char *vk_result_name(VkResult r) {
    switch (r) {
#define NAME(x)                                                                                                        \
    case x: return #x;
        NAME(VK_ERROR_OUT_OF_HOST_MEMORY)
        NAME(VK_ERROR_OUT_OF_DEVICE_MEMORY)
        NAME(VK_ERROR_INITIALIZATION_FAILED)
        NAME(VK_ERROR_DEVICE_LOST)
        NAME(VK_ERROR_MEMORY_MAP_FAILED)
        NAME(VK_ERROR_LAYER_NOT_PRESENT)
        NAME(VK_ERROR_EXTENSION_NOT_PRESENT)
        NAME(VK_ERROR_FEATURE_NOT_PRESENT)
        NAME(VK_ERROR_INCOMPATIBLE_DRIVER)
        NAME(VK_ERROR_TOO_MANY_OBJECTS)
        NAME(VK_ERROR_UNKNOWN)
        NAME(VK_TIMEOUT)
#undef NAME
    default: return "VkResult";
    }
}

ei_status ei_vk_fail(ei_context *ctx, VkResult result, const char *what) {
    return ei_fail(ctx, ei_status_of(result), "%s failed: %s (%d)", what, vk_result_name(result), (int)result);
}
