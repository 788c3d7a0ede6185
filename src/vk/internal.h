/* The Vulkan host layer's private view: what a context, buffer and
 * recording hold, and the helpers the operations build on. */
#ifndef EI_VK_INTERNAL_H
#define EI_VK_INTERNAL_H

/* The build defines VK_NO_PROTOTYPES: every Vulkan call goes through volk. */
#include <volk.h>

#include "entropyinfer.h"
#include "entropyinfer_vulkan.h"
#include "vk_compat.h"

#define EI_MAX_SPEC 16
#define EI_MAX_BINDINGS 8

/* A compute pipeline, cached per (shader, bindings, push size, constants). */
typedef struct ei_pipeline {
    const char *shader;
    uint32_t bindings;
    uint32_t push_size;
    uint32_t spec_count;
    uint32_t spec[EI_MAX_SPEC];
    VkDescriptorSetLayout set_layout;
    VkPipelineLayout layout;
    VkPipeline pipeline;
} ei_pipeline;

struct ei_context {
    /* Host memory: the app's hooks (has_host_allocator) or malloc. */
    ei_allocator host;
    int has_host_allocator;
    int host_failed;               /* a host allocation failed while the context was created (ei_probe too) */
    VkAllocationCallbacks vk_host; /* the hooks, as Vulkan takes them */
    VkInstance instance;
    VkPhysicalDevice physical_device;
    VkDevice device;
    VkQueue queue;
    uint32_t queue_family;
    int owns_instance;
    int owns_device;
    struct VolkDeviceTable vk;
    PFN_vkSetDebugUtilsObjectNameEXT set_object_name;
    PFN_vkDestroyDebugUtilsMessengerEXT destroy_messenger;
    VkDebugUtilsMessengerEXT messenger;
    uint32_t validation_messages;
    void (*on_validation)(void *user, int error, const char *message);
    void *validation_user;

    ei_device_facts facts;
    VkPhysicalDeviceMemoryProperties memory;
    uint32_t timestamp_valid_bits;
    uint64_t max_allocation;             /* maxMemoryAllocationSize */
    uint64_t memory_budget;              /* device memory the context may hold; 0: no limit */
    uint64_t memory_held;                /* device memory its buffers hold now */
    VkSubgroupFeatureFlags subgroup_ops; /* in compute shaders */
    uint64_t max_binding;                /* bytes one binding may span: the device's limit or a smaller cap */

    VkCommandPool command_pool;
    VkPipelineCache pipeline_cache;
    ei_pipeline **pipelines;
    size_t pipeline_count;
    size_t pipeline_capacity;

    char error[1024];
};

struct ei_buffer {
    ei_context *ctx;
    VkBuffer buffer;
    VkDeviceMemory memory;
    uint64_t size;
    uint64_t held; /* bytes of device memory allocated for it (counted in ctx->memory_held) */
    void *mapped;  /* non-NULL on the unified-memory path */
};

struct ei_cmd {
    ei_context *ctx;
    VkCommandBuffer cb;
    VkFence fence;
    VkQueryPool timestamps;
    uint32_t timestamp_count;
    VkDescriptorPool *pools;
    uint32_t pool_count;
    int submitted;
    int finished;
    /* A dispatch or copy wrote since the last barrier: the next dispatch
     * must wait for it (we do not track which buffers, so any write counts). */
    int pending_write;
};

/* One storage-buffer binding: a byte range of a buffer. */
typedef struct ei_binding {
    VkBuffer buffer;
    VkDeviceSize offset;
    VkDeviceSize range;
} ei_binding;

/* What an operation asks for when it needs a pipeline. */
typedef struct ei_kernel {
    const char *shader; /* name of an embedded shader (file stem) */
    uint32_t bindings;  /* storage buffers at set 0, bindings 0..n-1 */
    uint32_t push_size; /* bytes of push constants */
    uint32_t spec_count;
    uint32_t spec[EI_MAX_SPEC]; /* specialization constants 0..n-1 */
} ei_kernel;

/* errors.c */
ei_status ei_fail(ei_context *ctx, ei_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
ei_status ei_vk_fail(ei_context *ctx, VkResult result, const char *what);
ei_status ei_status_of(VkResult result);
void ei_write_error(char *dst, size_t size, const char *msg);

/* device.c: facts of ctx->physical_device, keeping only the ei_feature bits
 * in enabled_mask. */
void ei_device_query_facts(ei_context *ctx, uint32_t enabled_mask);
int ei_device_has_extension(ei_context *ctx, VkPhysicalDevice pd, const char *name);
/* Whether `shader` (a *_coopmat one) can run here: the context has
 * cooperative matrices with a 16x16x16 f16 -> f32 shape, a fixed subgroup
 * size of at least 16 (workgroups of `subgroups` of them within the
 * limit), and the build holds the shader. */
int ei_coopmat_ready(const ei_context *ctx, const char *shader, uint32_t subgroups);
/* The compute queue family to use (preferring one with timestamps). */
int ei_device_compute_family(ei_context *ctx, VkPhysicalDevice pd, uint32_t *family, uint32_t *timestamp_bits);

/* context.c */
void ei_vk_name(ei_context *ctx, VkObjectType type, uint64_t handle, const char *name);

/* Host memory for the context and what is made from it (host_memory.c):
 * zeroed blocks, a realloc, a free taking NULL; through the app's
 * ei_allocator when it gave one. ei_vk_alloc: the callbacks for Vulkan
 * calls, NULL without hooks. ei_host_hooks sets them up from `a` (NULL:
 * none) before anything is allocated. */
void ei_host_hooks(ei_context *ctx, const ei_allocator *a);
void *ei_host_alloc(ei_context *ctx, size_t bytes);
void *ei_host_realloc(ei_context *ctx, void *p, size_t bytes);
void ei_host_free(const ei_context *ctx, void *p);
const VkAllocationCallbacks *ei_vk_alloc(const ei_context *ctx);
/* Whether a probe's Vulkan call (an enumeration of layers, extensions,
 * shapes) succeeded. Running out of host memory there answers nothing: it
 * fails the creation as out of host memory (host_failed), where taking the
 * thing for absent would give a context without it. */
int ei_probe(ei_context *ctx, VkResult r);

/* shaders (generated by the build) */
typedef struct ei_shader_blob {
    const char *name;
    const uint32_t *code;
    size_t size; /* bytes */
} ei_shader_blob;
const ei_shader_blob *ei_shader_find(const char *name);

/* pipeline.c */
ei_status ei_pipeline_get(ei_context *ctx, const ei_kernel *kernel, ei_pipeline **out);
void ei_pipelines_destroy(ei_context *ctx);

/* cmd.c: each waits for earlier writes of the recording when needed. */
void ei_cmd_copy(ei_cmd *cmd, VkBuffer src, VkBuffer dst, const VkBufferCopy *region);
void ei_cmd_fill(ei_cmd *cmd, VkBuffer dst, VkDeviceSize offset, VkDeviceSize size, uint32_t word);
/* The kernel's pipeline (created on first use), then ei_cmd_dispatch. */
ei_status ei_cmd_dispatch_kernel(ei_cmd *cmd, const ei_kernel *k, const ei_binding *bindings, const void *push,
                                 uint32_t gx, uint32_t gy, uint32_t gz);
ei_status ei_cmd_dispatch(ei_cmd *cmd, const ei_pipeline *p, const ei_binding *bindings, const void *push, uint32_t gx,
                          uint32_t gy, uint32_t gz);

/* buffer.c: the binding of a tensor's elements [first, first + count). The
 * binding starts at an aligned offset at or below the first element; *skip
 * receives how many elements lie between the binding's start and `first`.
 * Fails with EI_ERROR_LIMIT_EXCEEDED when the range exceeds the device's
 * storage binding range, and EI_ERROR_INVALID_ARGUMENT when it exceeds the
 * buffer. */
ei_status ei_tensor_binding(ei_context *ctx, ei_tensor t, uint64_t first, uint64_t count, ei_binding *out,
                            uint32_t *skip);
static inline int ei_is_float(ei_dtype t) { return t == EI_F32 || t == EI_F16 || t == EI_BF16; }

/* Checks that `count` elements of t lie inside its buffer, with a valid
 * dtype and a 4-byte aligned offset; `what` names the tensor in the error. */
ei_status ei_tensor_check(ei_context *ctx, ei_tensor t, uint64_t count, const char *what);
/* The next piece of a weight matrix (`rows` rows of `row_bytes` bytes at
 * byte `offset` of w) that one binding holds: rows [row0, row0 + *n), at most
 * max_rows of them, bound in *b, row row0 starting at byte *byte0 of the
 * binding. Matrices larger than the binding range (a 262144-token
 * vocabulary) go through in pieces. */
ei_status ei_weight_piece(ei_context *ctx, ei_buffer *w, uint64_t offset, uint64_t row_bytes, uint32_t rows,
                          uint32_t row0, uint32_t max_rows, ei_binding *b, uint32_t *byte0, uint32_t *n);
/* Largest element count whose binding is sure to fit the range limit. */
uint64_t ei_tensor_max_elements(const ei_context *ctx, ei_dtype dtype);

/* Places `bytes` at *at in a scratch buffer and moves *at past them, to the
 * next multiple of 256 (no device's binding offset alignment is larger);
 * returns where they start. */
static inline uint64_t ei_scratch_place(uint64_t *at, uint64_t bytes) {
    uint64_t here = *at;
    *at += (bytes + 255) / 256 * 256;
    return here;
}

/* ops/entropy.c: the top-k selection shared by block selection and KV
 * compression (shaders/topk_select.comp). Bindings: scores, keep, selected,
 * lens. */
#define TOPK_WORKGROUP 256 /* at least the 256 histogram bins */
typedef struct ei_topk_push {
    uint32_t rows, first_row, stride, nrep, window, max_keep;
    uint32_t scores_skip, keep_skip, selected_skip, lens_skip;
} ei_topk_push;
ei_status ei_topk_select(ei_cmd *cmd, const ei_binding b[4], const ei_topk_push *p, uint32_t rows, uint32_t heads);

#endif
