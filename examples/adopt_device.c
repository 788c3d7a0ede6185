/* An app that owns its Vulkan device hands it to EntropyInfer.
 *
 * The app creates the instance, device and queue (as a game engine would),
 * adopts them into a library context, runs block pooling on its own data,
 * and destroys the context. It does that three times on the one device, then
 * uses the device for its own work, which must still run: the library
 * destroys nothing it did not create. With the validation layer installed it
 * runs under validation (set EI_VALIDATION=0 to skip) and fails on any
 * message. Exit status 0 means every check held. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <entropyinfer_vulkan.h>

static unsigned messages;

static VKAPI_ATTR VkBool32 VKAPI_CALL on_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                 VkDebugUtilsMessageTypeFlagsEXT type,
                                                 const VkDebugUtilsMessengerCallbackDataEXT *data, void *user) {
    (void)severity, (void)type, (void)user;
    messages++;
    fprintf(stderr, "validation: %s\n", data->pMessage);
    return VK_FALSE;
}

static int want_validation(void) {
    const char *v = getenv("EI_VALIDATION");
    if (v && strcmp(v, "0") == 0) return 0;
    uint32_t n = 0;
    vkEnumerateInstanceLayerProperties(&n, NULL);
    VkLayerProperties *p = malloc((n ? n : 1) * sizeof *p);
    int found = 0;
    if (p && vkEnumerateInstanceLayerProperties(&n, p) == VK_SUCCESS)
        for (uint32_t i = 0; i < n; i++)
            found |= strcmp(p[i].layerName, "VK_LAYER_KHRONOS_validation") == 0;
    free(p);
    return found;
}

typedef struct app {
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    VkPhysicalDevice gpu;
    VkDevice device;
    uint32_t family;
    VkQueue queue;
} app;

/* The app's own setup: the first device with a compute queue. */
static int app_create(app *a, int validation) {
    const char *layer = "VK_LAYER_KHRONOS_validation";
    const char *ext = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
    VkApplicationInfo info = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO, .apiVersion = VK_API_VERSION_1_2};
    VkDebugUtilsMessengerCreateInfoEXT msg = {.sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
                                              .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                                                                 VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
                                              .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                                                             VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT,
                                              .pfnUserCallback = on_message};
    VkInstanceCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
                               .pApplicationInfo = &info,
                               .enabledLayerCount = validation,
                               .ppEnabledLayerNames = &layer,
                               .enabledExtensionCount = validation,
                               .ppEnabledExtensionNames = &ext};
    if (vkCreateInstance(&ci, NULL, &a->instance) != VK_SUCCESS) return 0;
    if (validation) {
        PFN_vkCreateDebugUtilsMessengerEXT create =
            (PFN_vkCreateDebugUtilsMessengerEXT)vkGetInstanceProcAddr(a->instance, "vkCreateDebugUtilsMessengerEXT");
        if (!create || create(a->instance, &msg, NULL, &a->messenger) != VK_SUCCESS) return 0;
    }
    uint32_t n = 1;
    VkResult r = vkEnumeratePhysicalDevices(a->instance, &n, &a->gpu);
    if ((r != VK_SUCCESS && r != VK_INCOMPLETE) || n == 0) return 0;
    VkQueueFamilyProperties q[16];
    n = 16;
    vkGetPhysicalDeviceQueueFamilyProperties(a->gpu, &n, q);
    for (a->family = 0; a->family < n && !(q[a->family].queueFlags & VK_QUEUE_COMPUTE_BIT); a->family++) {
    }
    if (a->family == n) return 0;
    float priority = 1.0f;
    VkDeviceQueueCreateInfo qi = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                  .queueFamilyIndex = a->family,
                                  .queueCount = 1,
                                  .pQueuePriorities = &priority};
    VkDeviceCreateInfo di = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, .queueCreateInfoCount = 1, .pQueueCreateInfos = &qi};
    if (vkCreateDevice(a->gpu, &di, NULL, &a->device) != VK_SUCCESS) return 0;
    vkGetDeviceQueue(a->device, a->family, 0, &a->queue);
    return 1;
}

/* Pool 64 rows x 2 heads x 8 dims of f32 into blocks of 8 rows with the
 * library, and check one block against a host computation. */
static int library_work(const app *a) {
    char error[256] = "";
    ei_adopt_desc d = {.instance = a->instance,
                       .physical_device = a->gpu,
                       .device = a->device,
                       .queue_family = a->family,
                       .queue = a->queue,
                       .api_version = VK_API_VERSION_1_2,
                       .get_instance_proc_addr = vkGetInstanceProcAddr,
                       .error = error,
                       .error_size = sizeof error};
    ei_context *ctx = NULL;
    if (ei_context_adopt(&d, &ctx) != EI_OK) {
        fprintf(stderr, "adopt failed: %s\n", error);
        return 0;
    }
    enum { ROWS = 64, ROW = 16, BLOCKS = ROWS / 8 };
    float x[ROWS * ROW], got[BLOCKS * ROW];
    for (int i = 0; i < ROWS * ROW; i++)
        x[i] = (float)((i * 7919) % 101) - 50.0f;
    ei_buffer *buf = NULL;
    ei_cmd *cmd = NULL;
    ei_pool_desc pool = {ROWS, 2, 8, 8};
    uint64_t out = sizeof x, out_bytes = sizeof got;
    int ok = ei_buffer_create(ctx, out + 2 * out_bytes, &buf) == EI_OK &&
             ei_buffer_upload(buf, 0, x, sizeof x) == EI_OK && ei_cmd_begin(ctx, &cmd) == EI_OK &&
             ei_pool_minmax(cmd, &pool, (ei_tensor){buf, 0, EI_F32}, (ei_tensor){buf, out, EI_F32},
                            (ei_tensor){buf, out + out_bytes, EI_F32}) == EI_OK &&
             ei_cmd_run(cmd) == EI_OK && ei_buffer_download(buf, out, got, out_bytes) == EI_OK;
    if (!ok) fprintf(stderr, "library work failed: %s\n", ei_context_error(ctx));
    for (int b = 0; ok && b < BLOCKS; b++)
        for (int i = 0; i < ROW; i++) {
            float m = x[b * 8 * ROW + i];
            for (int r = 1; r < 8; r++)
                m = x[(b * 8 + r) * ROW + i] > m ? x[(b * 8 + r) * ROW + i] : m;
            if (got[b * ROW + i] != m) ok = 0;
        }
    printf("library pooling on the app's device (%s): %s\n", ei_context_facts(ctx)->name, ok ? "ok" : "WRONG");
    ei_cmd_destroy(cmd);
    ei_buffer_destroy(buf);
    ei_context_destroy(ctx);
    return ok;
}

/* The app's own work after the library is gone: fill a buffer, read it back. */
static int app_work(const app *a) {
    VkBufferCreateInfo bi = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = 256, .usage = VK_BUFFER_USAGE_TRANSFER_DST_BIT};
    VkBuffer buf;
    if (vkCreateBuffer(a->device, &bi, NULL, &buf) != VK_SUCCESS) return 0;
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(a->device, buf, &req);
    VkPhysicalDeviceMemoryProperties mp;
    vkGetPhysicalDeviceMemoryProperties(a->gpu, &mp);
    uint32_t type = 0;
    VkMemoryPropertyFlags want = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    while (type < mp.memoryTypeCount &&
           !((req.memoryTypeBits & (1u << type)) && (mp.memoryTypes[type].propertyFlags & want) == want))
        type++;
    VkMemoryAllocateInfo ai = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, .allocationSize = req.size, .memoryTypeIndex = type};
    VkDeviceMemory mem;
    if (type == mp.memoryTypeCount || vkAllocateMemory(a->device, &ai, NULL, &mem) != VK_SUCCESS) return 0;
    vkBindBufferMemory(a->device, buf, mem, 0);
    VkCommandPoolCreateInfo pi = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO, .queueFamilyIndex = a->family};
    VkCommandPool pool;
    vkCreateCommandPool(a->device, &pi, NULL, &pool);
    VkCommandBufferAllocateInfo cai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                       .commandPool = pool,
                                       .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                       .commandBufferCount = 1};
    VkCommandBuffer cb;
    vkAllocateCommandBuffers(a->device, &cai, &cb);
    VkCommandBufferBeginInfo begin = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    vkBeginCommandBuffer(cb, &begin);
    vkCmdFillBuffer(cb, buf, 0, 256, 0x12345678u);
    VkMemoryBarrier host = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                            .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                            .dstAccessMask = VK_ACCESS_HOST_READ_BIT};
    vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &host, 0, NULL, 0, NULL);
    vkEndCommandBuffer(cb);
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &cb};
    int ok = vkQueueSubmit(a->queue, 1, &si, VK_NULL_HANDLE) == VK_SUCCESS && vkQueueWaitIdle(a->queue) == VK_SUCCESS;
    uint32_t *p = NULL;
    ok = ok && vkMapMemory(a->device, mem, 0, 256, 0, (void **)&p) == VK_SUCCESS && p[0] == 0x12345678u &&
         p[63] == 0x12345678u;
    if (p) vkUnmapMemory(a->device, mem);
    vkDestroyCommandPool(a->device, pool, NULL);
    vkDestroyBuffer(a->device, buf, NULL);
    vkFreeMemory(a->device, mem, NULL);
    printf("the app's own work after the library: %s\n", ok ? "ok" : "FAILED");
    return ok;
}

int main(void) {
    app a = {0};
    int validation = want_validation();
    if (!app_create(&a, validation)) {
        fprintf(stderr, "the app could not create its Vulkan device\n");
        return 1;
    }
    int ok = 1;
    for (int i = 0; i < 3; i++)
        ok &= library_work(&a);
    ok &= app_work(&a);
    vkDestroyDevice(a.device, NULL);
    if (a.messenger) {
        PFN_vkDestroyDebugUtilsMessengerEXT destroy =
            (PFN_vkDestroyDebugUtilsMessengerEXT)vkGetInstanceProcAddr(a.instance, "vkDestroyDebugUtilsMessengerEXT");
        destroy(a.instance, a.messenger, NULL);
    }
    vkDestroyInstance(a.instance, NULL);
    printf("validation: %s, %u messages\n", validation ? "on" : "off", messages);
    return ok && messages == 0 ? 0 : 1;
}
