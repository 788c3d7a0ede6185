/* ei_context: an instance and device of its own, or an app's adopted ones. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define EI_REQUIRED_API VK_API_VERSION_1_2
static const char *const validation_layer = "VK_LAYER_KHRONOS_validation";

ei_context_desc ei_context_desc_default(void) {
    ei_context_desc d;
    memset(&d, 0, sizeof d);
    d.device_index = -1;
    return d;
}

void ei_vk_name(ei_context *ctx, VkObjectType type, uint64_t handle, const char *name) {
    if (!ctx->set_object_name || !name) return;
    VkDebugUtilsObjectNameInfoEXT info = {.sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_OBJECT_NAME_INFO_EXT,
                                          .objectType = type,
                                          .objectHandle = handle,
                                          .pObjectName = name};
    ctx->set_object_name(ctx->device, &info);
}

static VKAPI_ATTR VkBool32 VKAPI_CALL on_validation(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                    VkDebugUtilsMessageTypeFlagsEXT types,
                                                    const VkDebugUtilsMessengerCallbackDataEXT *data, void *user) {
    (void)types;
    ei_context *ctx = user;
    ctx->validation_messages++;
    int error = (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT) != 0;
    const char *message = data->pMessage ? data->pMessage : "";
    if (ctx->on_validation)
        ctx->on_validation(ctx->validation_user, error, message);
    else
        fprintf(stderr, "entropyinfer: validation %s: %s\n", error ? "error" : "warning", message);
    return VK_FALSE;
}

uint32_t ei_context_validation_messages(const ei_context *ctx) { return ctx ? ctx->validation_messages : 0; }
uint64_t ei_context_device_bytes(const ei_context *ctx) { return ctx ? ctx->memory_held : 0; }

const ei_device_facts *ei_context_facts(const ei_context *ctx) { return ctx ? &ctx->facts : NULL; }

VkDevice ei_context_vk_device(const ei_context *ctx) { return ctx ? ctx->device : VK_NULL_HANDLE; }

static int has_instance_layer(ei_context *ctx, const char *name) {
    uint32_t n = 0;
    if (!ei_probe(ctx, vkEnumerateInstanceLayerProperties(&n, NULL)) || n == 0) return 0;
    VkLayerProperties *p = ei_host_alloc(ctx, n * sizeof *p);
    int found = 0;
    if (p && ei_probe(ctx, vkEnumerateInstanceLayerProperties(&n, p)))
        for (uint32_t i = 0; i < n && !found; i++)
            found = strcmp(p[i].layerName, name) == 0;
    ei_host_free(ctx, p);
    return found;
}

static int has_instance_extension(ei_context *ctx, const char *name) {
    uint32_t n = 0;
    if (!ei_probe(ctx, vkEnumerateInstanceExtensionProperties(NULL, &n, NULL)) || n == 0) return 0;
    VkExtensionProperties *p = ei_host_alloc(ctx, n * sizeof *p);
    int found = 0;
    if (p && ei_probe(ctx, vkEnumerateInstanceExtensionProperties(NULL, &n, p)))
        for (uint32_t i = 0; i < n && !found; i++)
            found = strcmp(p[i].extensionName, name) == 0;
    ei_host_free(ctx, p);
    return found;
}

static ei_status create_instance(ei_context *ctx, int validation) {
    const char *exts[2];
    uint32_t n_ext = 0;
    int debug_utils = has_instance_extension(ctx, VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    if (debug_utils) exts[n_ext++] = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
    int portability = has_instance_extension(ctx, VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME);
    if (portability) exts[n_ext++] = VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME;
    int layer = validation && has_instance_layer(ctx, validation_layer);
    if (ctx->host_failed) return ei_fail(ctx, EI_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    if (validation && !layer)
        return ei_fail(ctx, EI_ERROR_FEATURE_NOT_PRESENT,
                       "validation requested but %s is not installed (vulkan-validationlayers)", validation_layer);
    if (validation && !debug_utils)
        return ei_fail(ctx, EI_ERROR_FEATURE_NOT_PRESENT, "validation requested but VK_EXT_debug_utils is missing");

    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
                             .pApplicationName = "entropyinfer",
                             .pEngineName = "entropyinfer",
                             .apiVersion = VK_API_VERSION_1_3};
    /* Synchronization validation always; GPU-assisted validation (shader
     * buffer accesses checked on the device) when EI_VALIDATION_GPU_AV=1:
     * it instruments every shader, so it is slower and opt-in. */
    const char *gpu_av = getenv("EI_VALIDATION_GPU_AV");
    VkValidationFeatureEnableEXT enables[2] = {VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT,
                                               VK_VALIDATION_FEATURE_ENABLE_GPU_ASSISTED_EXT};
    VkValidationFeaturesEXT vfeat = {.sType = VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT,
                                     .enabledValidationFeatureCount = gpu_av && !strcmp(gpu_av, "1") ? 2 : 1,
                                     .pEnabledValidationFeatures = enables};
    VkDebugUtilsMessengerCreateInfoEXT msg = {.sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
                                              .pNext = &vfeat,
                                              .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                                                                 VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
                                              .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                                                             VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                                                             VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
                                              .pfnUserCallback = on_validation,
                                              .pUserData = ctx};
    VkInstanceCreateInfo info = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
                                 .pNext = validation ? &msg : NULL,
                                 .flags = portability ? VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR : 0,
                                 .pApplicationInfo = &app,
                                 .enabledLayerCount = validation ? 1 : 0,
                                 .ppEnabledLayerNames = &validation_layer,
                                 .enabledExtensionCount = n_ext,
                                 .ppEnabledExtensionNames = exts};
    VkResult r = vkCreateInstance(&info, ei_vk_alloc(ctx), &ctx->instance);
    if (r != VK_SUCCESS) return ei_vk_fail(ctx, r, "vkCreateInstance");
    ctx->owns_instance = 1;
    volkLoadInstanceOnly(ctx->instance);
    if (validation) {
        PFN_vkCreateDebugUtilsMessengerEXT create =
            (PFN_vkCreateDebugUtilsMessengerEXT)vkGetInstanceProcAddr(ctx->instance, "vkCreateDebugUtilsMessengerEXT");
        ctx->destroy_messenger = (PFN_vkDestroyDebugUtilsMessengerEXT)vkGetInstanceProcAddr(
            ctx->instance, "vkDestroyDebugUtilsMessengerEXT");
        msg.pNext = NULL;
        r = create ? create(ctx->instance, &msg, ei_vk_alloc(ctx), &ctx->messenger) : VK_ERROR_EXTENSION_NOT_PRESENT;
        if (r != VK_SUCCESS) return ei_vk_fail(ctx, r, "vkCreateDebugUtilsMessengerEXT");
    }
    if (debug_utils)
        ctx->set_object_name =
            (PFN_vkSetDebugUtilsObjectNameEXT)vkGetInstanceProcAddr(ctx->instance, "vkSetDebugUtilsObjectNameEXT");
    return EI_OK;
}

/* Why a physical device cannot host a context, or NULL when it can. */
static const char *unsuitable(ei_context *ctx, VkPhysicalDevice pd) {
    VkPhysicalDeviceProperties p;
    vkGetPhysicalDeviceProperties(pd, &p);
    uint32_t family;
    if (p.apiVersion < EI_REQUIRED_API) return "Vulkan 1.2 is required";
    if (!ei_device_compute_family(ctx, pd, &family, NULL)) return "no compute queue";
    return NULL;
}

static int type_rank(VkPhysicalDeviceType t) {
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
    default: return 0;
    }
}

static int name_matches(const char *name, const char *want) {
    size_t n = strlen(want);
    for (const char *s = name; *s; s++) {
        size_t i = 0;
        while (i < n && s[i] && tolower((unsigned char)s[i]) == tolower((unsigned char)want[i]))
            i++;
        if (i == n) return 1;
    }
    return n == 0;
}

static ei_status pick_device(ei_context *ctx, int index, const char *name) {
    const char *env = getenv("EI_DEVICE");
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end == '\0') {
            index = (int)v;
            name = NULL;
        } else {
            index = -1;
            name = env;
        }
    }
    uint32_t n = 0;
    VkResult r = vkEnumeratePhysicalDevices(ctx->instance, &n, NULL);
    if (r != VK_SUCCESS) return ei_vk_fail(ctx, r, "vkEnumeratePhysicalDevices");
    if (n == 0) return ei_fail(ctx, EI_ERROR_NO_DEVICE, "no Vulkan device found (is a driver installed?)");
    VkPhysicalDevice *pds = ei_host_alloc(ctx, n * sizeof *pds);
    if (!pds) return ei_fail(ctx, EI_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    r = vkEnumeratePhysicalDevices(ctx->instance, &n, pds);
    if (r != VK_SUCCESS && r != VK_INCOMPLETE) {
        ei_host_free(ctx, pds);
        return ei_vk_fail(ctx, r, "vkEnumeratePhysicalDevices");
    }
    ei_status st = EI_OK;
    if (index >= 0) {
        if ((uint32_t)index >= n) {
            st = ei_fail(ctx, EI_ERROR_NO_DEVICE, "device index %d out of range (%u devices)", index, n);
        } else {
            const char *why = unsuitable(ctx, pds[index]);
            if (why)
                st = ei_fail(ctx, EI_ERROR_FEATURE_NOT_PRESENT, "device %d: %s", index, why);
            else
                ctx->physical_device = pds[index];
        }
    } else {
        int best_rank = -1;
        const char *why = "no device matches";
        for (uint32_t i = 0; i < n; i++) {
            VkPhysicalDeviceProperties p;
            vkGetPhysicalDeviceProperties(pds[i], &p);
            if (name && !name_matches(p.deviceName, name)) continue;
            const char *u = unsuitable(ctx, pds[i]);
            if (u) {
                why = u;
                continue;
            }
            if (type_rank(p.deviceType) > best_rank) {
                best_rank = type_rank(p.deviceType);
                ctx->physical_device = pds[i];
            }
        }
        if (best_rank < 0)
            st = ei_fail(ctx, EI_ERROR_NO_DEVICE, "no usable Vulkan device%s%s: %s", name ? " named " : "",
                         name ? name : "", why);
    }
    ei_host_free(ctx, pds);
    return st;
}

/* Device-level features we turn on when present; *enabled gets the
 * ei_feature bits of extensions turned on (cooperative matrix, with the
 * Vulkan memory model its shaders declare), the rest are masked off. */
static ei_status create_device(ei_context *ctx, uint32_t *enabled) {
    VkPhysicalDevice pd = ctx->physical_device;
    ei_device_compute_family(ctx, pd, &ctx->queue_family, &ctx->timestamp_valid_bits);

    VkPhysicalDeviceVulkan12Features f12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
    VkPhysicalDeviceVulkan11Features f11 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES,
                                            .pNext = &f12};
    VkPhysicalDeviceFeatures2 have = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &f11};
    vkGetPhysicalDeviceFeatures2(pd, &have);

    VkPhysicalDeviceVulkan12Features e12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
                                            .shaderFloat16 = f12.shaderFloat16,
                                            .shaderInt8 = f12.shaderInt8,
                                            .storageBuffer8BitAccess = f12.storageBuffer8BitAccess};
    VkPhysicalDeviceCooperativeMatrixFeaturesKHR coopmat = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_KHR, .cooperativeMatrix = VK_TRUE};
    const char *extensions[1];
    uint32_t n_ext = 0;
    *enabled = ~(uint32_t)(EI_FEATURE_COOPERATIVE_MATRIX | EI_FEATURE_COOPERATIVE_MATRIX2 | EI_FEATURE_SHADER_BFLOAT16);
    /* With the memory model on, device-scope barriers (our other shaders
     * have them) need its device scope too. */
    if (ei_device_has_extension(ctx, pd, VK_KHR_COOPERATIVE_MATRIX_EXTENSION_NAME) && f12.vulkanMemoryModel &&
        f12.vulkanMemoryModelDeviceScope && f12.shaderFloat16 && f11.storageBuffer16BitAccess) {
        extensions[n_ext++] = VK_KHR_COOPERATIVE_MATRIX_EXTENSION_NAME;
        e12.vulkanMemoryModel = VK_TRUE;
        e12.vulkanMemoryModelDeviceScope = VK_TRUE;
        e12.pNext = &coopmat;
        *enabled |= EI_FEATURE_COOPERATIVE_MATRIX;
    }
    VkPhysicalDeviceVulkan11Features e11 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES,
                                            .pNext = &e12,
                                            .storageBuffer16BitAccess = f11.storageBuffer16BitAccess};
    VkPhysicalDeviceFeatures2 enable = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &e11};
    enable.features.shaderInt16 = have.features.shaderInt16;

    float priority = 1.0f;
    VkDeviceQueueCreateInfo q = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                 .queueFamilyIndex = ctx->queue_family,
                                 .queueCount = 1,
                                 .pQueuePriorities = &priority};
    VkDeviceCreateInfo info = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
                               .pNext = &enable,
                               .queueCreateInfoCount = 1,
                               .pQueueCreateInfos = &q,
                               .enabledExtensionCount = n_ext,
                               .ppEnabledExtensionNames = extensions};
    VkResult r = vkCreateDevice(pd, &info, ei_vk_alloc(ctx), &ctx->device);
    if (r != VK_SUCCESS) return ei_vk_fail(ctx, r, "vkCreateDevice");
    ctx->owns_device = 1;
    return EI_OK;
}

/* What both creation paths share once instance, device and queue exist. */
static ei_status finish(ei_context *ctx, uint32_t enabled, uint32_t required, uint64_t max_binding) {
    volkLoadDeviceTable(&ctx->vk, ctx->device);
    ei_device_query_facts(ctx, enabled);
    ctx->max_binding = ctx->facts.max_storage_buffer_range;
    if (max_binding && max_binding < ctx->max_binding) {
        if (max_binding < 4 * ctx->facts.min_storage_buffer_alignment)
            return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "max_binding_bytes %llu is too small",
                           (unsigned long long)max_binding);
        ctx->max_binding = max_binding;
    }
    uint32_t missing = required & ~ctx->facts.features;
    if (missing)
        return ei_fail(ctx, EI_ERROR_FEATURE_NOT_PRESENT,
                       "the device '%s' lacks required features (ei_feature bits 0x%x)", ctx->facts.name, missing);
    if (ctx->queue == VK_NULL_HANDLE) ctx->vk.vkGetDeviceQueue(ctx->device, ctx->queue_family, 0, &ctx->queue);

    VkCommandPoolCreateInfo pool = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                    .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                                    .queueFamilyIndex = ctx->queue_family};
    VkResult r = ctx->vk.vkCreateCommandPool(ctx->device, &pool, ei_vk_alloc(ctx), &ctx->command_pool);
    if (r != VK_SUCCESS) return ei_vk_fail(ctx, r, "vkCreateCommandPool");
    VkPipelineCacheCreateInfo cache = {.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
    r = ctx->vk.vkCreatePipelineCache(ctx->device, &cache, ei_vk_alloc(ctx), &ctx->pipeline_cache);
    if (r != VK_SUCCESS) return ei_vk_fail(ctx, r, "vkCreatePipelineCache");
    return EI_OK;
}

/* Hands a failed creation's message to the caller and frees what exists. */
static ei_status give_up(ei_context *ctx, ei_status st, char *error, size_t error_size) {
    ei_write_error(error, error_size, ctx->error);
    ei_context_destroy(ctx);
    return st;
}

/* A zeroed context from the app's hooks (or malloc), hooks set. */
static ei_context *new_context(const ei_allocator *a) {
    ei_context bootstrap = {0};
    ei_host_hooks(&bootstrap, a);
    ei_context *ctx = ei_host_alloc(&bootstrap, sizeof *ctx);
    if (ctx) ei_host_hooks(ctx, a);
    return ctx;
}

/* A host allocation that failed during creation (where a probe of
 * devices or extensions could only take it for "absent") explains whatever
 * failed after it: the creation fails as out of host memory. */
static ei_status host_check(ei_context *ctx, ei_status st) {
    return ctx->host_failed ? ei_fail(ctx, EI_ERROR_OUT_OF_HOST_MEMORY, "out of host memory") : st;
}

ei_status ei_context_create(const ei_context_desc *desc_in, ei_context **out) {
    ei_context_desc desc = desc_in ? *desc_in : ei_context_desc_default();
    if (!out) {
        ei_write_error(desc.error, desc.error_size, "ei_context_create: out is NULL");
        return EI_ERROR_INVALID_ARGUMENT;
    }
    *out = NULL;
    ei_context *ctx = new_context(desc.host_allocator);
    if (!ctx) {
        ei_write_error(desc.error, desc.error_size, "out of host memory");
        return EI_ERROR_OUT_OF_HOST_MEMORY;
    }
    if (volkInitialize() != VK_SUCCESS) {
        ei_fail(ctx, EI_ERROR_NO_DEVICE, "no Vulkan loader found (install libvulkan1)");
        return give_up(ctx, EI_ERROR_NO_DEVICE, desc.error, desc.error_size);
    }
    const char *env = getenv("EI_VALIDATION");
    int validation = desc.enable_validation || (env && strcmp(env, "0") != 0 && *env);
    ctx->on_validation = desc.on_validation;
    ctx->validation_user = desc.validation_user;
    ei_status st = create_instance(ctx, validation);
    if (st == EI_OK) st = pick_device(ctx, desc.device_index, desc.device_name);
    uint32_t enabled = 0;
    if (st == EI_OK) st = create_device(ctx, &enabled);
    if (st == EI_OK)
        st = finish(ctx, enabled & ~desc.disabled_features, desc.required_features, desc.max_binding_bytes);
    st = host_check(ctx, st);
    ctx->memory_budget = desc.device_memory_budget;
    if (st != EI_OK) return give_up(ctx, st, desc.error, desc.error_size);
    *out = ctx;
    return EI_OK;
}

static int list_has(const char *const *list, uint32_t n, const char *name) {
    for (uint32_t i = 0; i < n; i++)
        if (list[i] && strcmp(list[i], name) == 0) return 1;
    return 0;
}

ei_status ei_context_adopt(const ei_adopt_desc *desc, ei_context **out) {
    if (!desc || !out) {
        if (desc) ei_write_error(desc->error, desc->error_size, "ei_context_adopt: out is NULL");
        return EI_ERROR_INVALID_ARGUMENT;
    }
    *out = NULL;
    ei_context *ctx = new_context(desc->host_allocator);
    if (!ctx) {
        ei_write_error(desc->error, desc->error_size, "out of host memory");
        return EI_ERROR_OUT_OF_HOST_MEMORY;
    }
    ei_status st = EI_OK;
    if (!desc->instance || !desc->physical_device || !desc->device || !desc->queue)
        st = ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT,
                     "ei_context_adopt: instance, physical device, device and queue are required");
    else if (desc->api_version < EI_REQUIRED_API)
        st = ei_fail(ctx, EI_ERROR_FEATURE_NOT_PRESENT,
                     "ei_context_adopt: the device must be created for Vulkan 1.2 or newer");
    if (st != EI_OK) return give_up(ctx, st, desc->error, desc->error_size);

    if (desc->get_instance_proc_addr)
        volkInitializeCustom(desc->get_instance_proc_addr);
    else if (volkInitialize() != VK_SUCCESS) {
        ei_fail(ctx, EI_ERROR_NO_DEVICE, "no Vulkan loader found (install libvulkan1)");
        return give_up(ctx, EI_ERROR_NO_DEVICE, desc->error, desc->error_size);
    }
    volkLoadInstanceOnly(desc->instance);
    ctx->instance = desc->instance;
    ctx->physical_device = desc->physical_device;
    ctx->device = desc->device;
    ctx->queue = desc->queue;
    ctx->queue_family = desc->queue_family;

    uint32_t n = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(ctx->physical_device, &n, NULL);
    VkQueueFamilyProperties *q = ei_host_alloc(ctx, (n ? n : 1) * sizeof *q);
    if (!q) {
        ei_fail(ctx, EI_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
        return give_up(ctx, EI_ERROR_OUT_OF_HOST_MEMORY, desc->error, desc->error_size);
    }
    vkGetPhysicalDeviceQueueFamilyProperties(ctx->physical_device, &n, q);
    if (desc->queue_family >= n || !(q[desc->queue_family].queueFlags & VK_QUEUE_COMPUTE_BIT))
        st = ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_context_adopt: queue family %u has no compute queue",
                     desc->queue_family);
    else
        ctx->timestamp_valid_bits = q[desc->queue_family].timestampValidBits;
    ei_host_free(ctx, q);
    if (st != EI_OK) return give_up(ctx, st, desc->error, desc->error_size);

    /* Only what the app turned on counts: extensions from its list, and the
     * shader/storage features it says it enabled. */
    uint32_t enabled =
        (desc->enabled_features & (EI_FEATURE_SHADER_FLOAT16 | EI_FEATURE_SHADER_INT8 | EI_FEATURE_STORAGE_16BIT |
                                   EI_FEATURE_STORAGE_8BIT | EI_FEATURE_SHADER_BFLOAT16)) |
        EI_FEATURE_TIMESTAMPS | EI_FEATURE_UNIFIED_MEMORY;
    const char *const *ext = desc->enabled_extensions;
    uint32_t n_ext = desc->enabled_extension_count;
    if (list_has(ext, n_ext, VK_KHR_COOPERATIVE_MATRIX_EXTENSION_NAME) && (enabled & EI_FEATURE_SHADER_FLOAT16) &&
        (enabled & EI_FEATURE_STORAGE_16BIT))
        enabled |= EI_FEATURE_COOPERATIVE_MATRIX;
    if (list_has(ext, n_ext, VK_NV_COOPERATIVE_MATRIX_2_EXTENSION_NAME)) enabled |= EI_FEATURE_COOPERATIVE_MATRIX2;
    if (!list_has(ext, n_ext, VK_KHR_SHADER_BFLOAT16_EXTENSION_NAME)) enabled &= ~(uint32_t)EI_FEATURE_SHADER_BFLOAT16;
    st = host_check(ctx, finish(ctx, enabled & ~desc->disabled_features, desc->required_features, 0));
    ctx->memory_budget = desc->device_memory_budget;
    if (st != EI_OK) return give_up(ctx, st, desc->error, desc->error_size);
    *out = ctx;
    return EI_OK;
}

void ei_context_destroy(ei_context *ctx) {
    if (!ctx) return;
    if (ctx->device) {
        /* Our work on an adopted device has finished: recordings wait for
         * their own fences when destroyed, and the app's work is its own. */
        if (ctx->owns_device) ctx->vk.vkDeviceWaitIdle(ctx->device);
        ei_pipelines_destroy(ctx);
        if (ctx->pipeline_cache) ctx->vk.vkDestroyPipelineCache(ctx->device, ctx->pipeline_cache, ei_vk_alloc(ctx));
        if (ctx->command_pool) ctx->vk.vkDestroyCommandPool(ctx->device, ctx->command_pool, ei_vk_alloc(ctx));
        if (ctx->owns_device) ctx->vk.vkDestroyDevice(ctx->device, ei_vk_alloc(ctx));
    }
    if (ctx->owns_instance) {
        if (ctx->messenger && ctx->destroy_messenger)
            ctx->destroy_messenger(ctx->instance, ctx->messenger, ei_vk_alloc(ctx));
        vkDestroyInstance(ctx->instance, ei_vk_alloc(ctx));
    }
    ei_host_free(ctx, ctx->pipelines);
    ei_context bootstrap = *ctx; /* the hooks outlive the block they sit in */
    ei_host_free(&bootstrap, ctx);
}
