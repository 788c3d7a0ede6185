/* Device facts, queried once per context: limits, subgroups, arithmetic and
 * storage types, cooperative-matrix shapes, memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int ei_device_has_extension(ei_context *ctx, VkPhysicalDevice pd, const char *name) {
    uint32_t n = 0;
    if (!ei_probe(ctx, vkEnumerateDeviceExtensionProperties(pd, NULL, &n, NULL)) || n == 0) return 0;
    VkExtensionProperties *ext = ei_host_alloc(ctx, n * sizeof *ext);
    if (!ext) return 0;
    int found = 0;
    if (ei_probe(ctx, vkEnumerateDeviceExtensionProperties(pd, NULL, &n, ext)))
        for (uint32_t i = 0; i < n && !found; i++)
            found = strcmp(ext[i].extensionName, name) == 0;
    ei_host_free(ctx, ext);
    return found;
}

int ei_device_compute_family(ei_context *ctx, VkPhysicalDevice pd, uint32_t *family, uint32_t *timestamp_bits) {
    uint32_t n = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, NULL);
    if (n == 0) return 0;
    VkQueueFamilyProperties *q = ei_host_alloc(ctx, n * sizeof *q);
    if (!q) return 0;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, q);
    /* Prefer a family that can time its work; any compute family will do. */
    int best = -1;
    for (uint32_t i = 0; i < n; i++) {
        if (!(q[i].queueFlags & VK_QUEUE_COMPUTE_BIT) || q[i].queueCount == 0) continue;
        if (best < 0 || (q[best].timestampValidBits == 0 && q[i].timestampValidBits > 0)) best = (int)i;
    }
    if (best >= 0) {
        *family = (uint32_t)best;
        if (timestamp_bits) *timestamp_bits = q[best].timestampValidBits;
    }
    ei_host_free(ctx, q);
    return best >= 0;
}

static ei_dtype component_dtype(VkComponentTypeKHR t, int *ok) {
    *ok = 1;
    if (t == VK_COMPONENT_TYPE_FLOAT16_KHR) return EI_F16;
    if (t == VK_COMPONENT_TYPE_FLOAT32_KHR) return EI_F32;
    if (t == VK_COMPONENT_TYPE_BFLOAT16_KHR) return EI_BF16;
    *ok = 0;
    return EI_F32;
}

/* Floating-point subgroup-scope shapes; integer ones are of no use here. */
static void query_coopmat_shapes(ei_context *ctx) {
    PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR get =
        (PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR)vkGetInstanceProcAddr(
            ctx->instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR");
    uint32_t n = 0;
    if (!get || !ei_probe(ctx, get(ctx->physical_device, &n, NULL)) || n == 0) return;
    VkCooperativeMatrixPropertiesKHR *p = ei_host_alloc(ctx, n * sizeof *p);
    if (!p) return;
    for (uint32_t i = 0; i < n; i++)
        p[i].sType = VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_KHR;
    if (ei_probe(ctx, get(ctx->physical_device, &n, p))) {
        for (uint32_t i = 0; i < n && ctx->facts.coopmat_shape_count < EI_MAX_COOPMAT_SHAPES; i++) {
            int ok_a, ok_b, ok_c;
            ei_dtype a = component_dtype(p[i].AType, &ok_a);
            ei_dtype b = component_dtype(p[i].BType, &ok_b);
            ei_dtype c = component_dtype(p[i].ResultType, &ok_c);
            if (!ok_a || !ok_b || !ok_c || a != b || a == EI_F32 || p[i].scope != VK_SCOPE_SUBGROUP_KHR) continue;
            ei_coopmat_shape *s = &ctx->facts.coopmat_shapes[ctx->facts.coopmat_shape_count++];
            s->m = p[i].MSize;
            s->n = p[i].NSize;
            s->k = p[i].KSize;
            s->a_type = a;
            s->acc_type = c;
        }
    }
    ei_host_free(ctx, p);
}

int ei_coopmat_ready(const ei_context *ctx, const char *shader, uint32_t subgroups) {
    const ei_device_facts *f = &ctx->facts;
    if (!(f->features & EI_FEATURE_COOPERATIVE_MATRIX) || f->min_subgroup_size != f->max_subgroup_size ||
        f->subgroup_size < 16 || subgroups * f->subgroup_size > f->max_workgroup_invocations || !ei_shader_find(shader))
        return 0;
    for (uint32_t i = 0; i < f->coopmat_shape_count; i++) {
        const ei_coopmat_shape *s = &f->coopmat_shapes[i];
        if (s->m == 16 && s->n == 16 && s->k == 16 && s->a_type == EI_F16 && s->acc_type == EI_F32) return 1;
    }
    return 0;
}

static void query_memory(ei_context *ctx) {
    vkGetPhysicalDeviceMemoryProperties(ctx->physical_device, &ctx->memory);
    const VkPhysicalDeviceMemoryProperties *m = &ctx->memory;
    for (uint32_t i = 0; i < m->memoryHeapCount; i++)
        if ((m->memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) &&
            m->memoryHeaps[i].size > ctx->facts.device_local_bytes)
            ctx->facts.device_local_bytes = m->memoryHeaps[i].size;
    /* Only integrated and CPU devices share one memory with the host; a
     * discrete card's host-visible device memory (BAR) is slow to read. */
    VkPhysicalDeviceType t = (VkPhysicalDeviceType)ctx->facts.device_type;
    if (t != VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU && t != VK_PHYSICAL_DEVICE_TYPE_CPU) return;
    const VkMemoryPropertyFlags want = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                       VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    for (uint32_t i = 0; i < m->memoryTypeCount; i++)
        if ((m->memoryTypes[i].propertyFlags & want) == want) ctx->facts.features |= EI_FEATURE_UNIFIED_MEMORY;
}

void ei_device_query_facts(ei_context *ctx, uint32_t enabled_mask) {
    ei_device_facts *f = &ctx->facts;
    memset(f, 0, sizeof *f);

    VkPhysicalDeviceSubgroupSizeControlProperties sizes = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES};
    VkPhysicalDeviceVulkan12Properties p12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_PROPERTIES};
    VkPhysicalDeviceVulkan11Properties p11 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_PROPERTIES,
                                              .pNext = &p12};
    VkPhysicalDeviceProperties2 props = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &p11};
    VkPhysicalDeviceProperties base;
    vkGetPhysicalDeviceProperties(ctx->physical_device, &base);
    int has_size_control =
        base.apiVersion >= VK_API_VERSION_1_3 ||
        ei_device_has_extension(ctx, ctx->physical_device, VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME);
    if (has_size_control) p12.pNext = &sizes;
    vkGetPhysicalDeviceProperties2(ctx->physical_device, &props);
    const VkPhysicalDeviceLimits *lim = &props.properties.limits;

    snprintf(f->name, sizeof f->name, "%s", props.properties.deviceName);
    snprintf(f->driver, sizeof f->driver, "%.120s %.120s", p12.driverName, p12.driverInfo);
    f->vendor_id = props.properties.vendorID;
    f->device_id = props.properties.deviceID;
    f->device_type = (uint32_t)props.properties.deviceType;
    f->api_version = props.properties.apiVersion;
    f->driver_version = props.properties.driverVersion;
    f->subgroup_size = p11.subgroupSize;
    f->min_subgroup_size = has_size_control ? sizes.minSubgroupSize : p11.subgroupSize;
    f->max_subgroup_size = has_size_control ? sizes.maxSubgroupSize : p11.subgroupSize;
    f->max_shared_memory = lim->maxComputeSharedMemorySize;
    f->max_workgroup_invocations = lim->maxComputeWorkGroupInvocations;
    memcpy(f->max_workgroup_count, lim->maxComputeWorkGroupCount, sizeof f->max_workgroup_count);
    f->max_storage_buffer_range = lim->maxStorageBufferRange;
    ctx->max_allocation = p11.maxMemoryAllocationSize;
    ctx->subgroup_ops =
        (p11.subgroupSupportedStages & VK_SHADER_STAGE_COMPUTE_BIT) ? p11.subgroupSupportedOperations : 0;
    f->min_storage_buffer_alignment = lim->minStorageBufferOffsetAlignment;
    if (lim->timestampComputeAndGraphics || ctx->timestamp_valid_bits > 0)
        f->timestamp_period_ns = lim->timestampPeriod;

    VkPhysicalDeviceVulkan12Features f12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
    VkPhysicalDeviceVulkan11Features f11 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES,
                                            .pNext = &f12};
    VkPhysicalDeviceFeatures2 feats = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &f11};
    vkGetPhysicalDeviceFeatures2(ctx->physical_device, &feats);
    uint32_t present = 0;
    if (ctx->timestamp_valid_bits > 0 && f->timestamp_period_ns > 0) present |= EI_FEATURE_TIMESTAMPS;
    if (f12.shaderFloat16) present |= EI_FEATURE_SHADER_FLOAT16;
    if (f12.shaderInt8) present |= EI_FEATURE_SHADER_INT8;
    if (f11.storageBuffer16BitAccess) present |= EI_FEATURE_STORAGE_16BIT;
    if (f12.storageBuffer8BitAccess) present |= EI_FEATURE_STORAGE_8BIT;
    if (ei_device_has_extension(ctx, ctx->physical_device, VK_KHR_COOPERATIVE_MATRIX_EXTENSION_NAME))
        present |= EI_FEATURE_COOPERATIVE_MATRIX;
    if (ei_device_has_extension(ctx, ctx->physical_device, VK_NV_COOPERATIVE_MATRIX_2_EXTENSION_NAME))
        present |= EI_FEATURE_COOPERATIVE_MATRIX2;
    if (ei_device_has_extension(ctx, ctx->physical_device, VK_KHR_SHADER_BFLOAT16_EXTENSION_NAME))
        present |= EI_FEATURE_SHADER_BFLOAT16;
    f->features = present & enabled_mask;

    if (f->features & EI_FEATURE_COOPERATIVE_MATRIX) query_coopmat_shapes(ctx);
    query_memory(ctx);
    f->features &= enabled_mask;
    if (!(f->features & EI_FEATURE_TIMESTAMPS)) f->timestamp_period_ns = 0;
}
