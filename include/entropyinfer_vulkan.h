/* EntropyInfer-VK: handing over a Vulkan device the app already owns.
 *
 * For game engines and desktop apps that have their own VkInstance and
 * VkDevice. The library records its work on the queue given here and never
 * destroys the instance, physical device, device or queue it adopted. */
#ifndef ENTROPYINFER_VULKAN_H
#define ENTROPYINFER_VULKAN_H

#include "entropyinfer.h"

#include <vulkan/vulkan.h>

EI_API_BEGIN

typedef struct ei_adopt_desc {
    /* The loader entry point the app uses; NULL for the system loader's. */
    PFN_vkGetInstanceProcAddr get_instance_proc_addr;
    VkInstance instance;
    VkPhysicalDevice physical_device;
    VkDevice device;
    /* A queue family with VK_QUEUE_COMPUTE_BIT and a queue of it. The app
     * must not use this queue from another thread while a library call on
     * this context runs (Vulkan's external-synchronization rule). */
    uint32_t queue_family;
    VkQueue queue;
    /* The Vulkan API version the device was created for (1.2 or newer). */
    uint32_t api_version;
    /* The device extensions the app enabled at creation: optional fast paths
     * (cooperative matrix, ...) are used only where the app turned them on.
     * None is required. With VK_KHR_cooperative_matrix listed, the app must
     * also have enabled its cooperativeMatrix feature, shaderFloat16,
     * storageBuffer16BitAccess, vulkanMemoryModel and
     * vulkanMemoryModelDeviceScope. */
    const char *const *enabled_extensions;
    uint32_t enabled_extension_count;
    /* ei_feature bits the app enabled on the device (fp16 arithmetic,
     * 16/8-bit storage, ...). Bits the device lacks are ignored. */
    uint32_t enabled_features;
    /* As in ei_context_desc. */
    uint32_t required_features;
    uint32_t disabled_features;
    uint64_t device_memory_budget;
    const ei_allocator *host_allocator;
    char *error;
    size_t error_size;
} ei_adopt_desc;

/* Creates a context on the app's device (Vulkan 1.2 or newer). */
ei_status ei_context_adopt(const ei_adopt_desc *desc, ei_context **out);

/* The Vulkan objects behind a context, buffer and recording, for apps that
 * interleave their own work with the library's. */
VkDevice ei_context_vk_device(const ei_context *ctx);
VkBuffer ei_buffer_vk_buffer(const ei_buffer *buf);
VkCommandBuffer ei_cmd_vk_command_buffer(const ei_cmd *cmd);

EI_API_END

#endif
