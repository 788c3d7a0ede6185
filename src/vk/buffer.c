/* Storage buffers: device-local memory, mapped directly on unified-memory
 * devices, reached through a staging buffer elsewhere. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Staging copies go in pieces of this size so a huge upload does not need a
 * second huge allocation. */
#define EI_STAGING_CHUNK (64ull << 20)

static int find_memory_type(const ei_context *ctx, uint32_t bits, VkMemoryPropertyFlags want) {
    for (uint32_t i = 0; i < ctx->memory.memoryTypeCount; i++)
        if ((bits & (1u << i)) && (ctx->memory.memoryTypes[i].propertyFlags & want) == want) return (int)i;
    return -1;
}

static ei_status buffer_alloc(ei_context *ctx, uint64_t bytes, VkMemoryPropertyFlags want, ei_buffer **out) {
    /* Sizes no allocation can have are refused before Vulkan is asked. */
    if (bytes > ctx->max_allocation)
        return ei_fail(ctx, EI_ERROR_OUT_OF_DEVICE_MEMORY,
                       "a buffer of %llu bytes exceeds the device's largest allocation (%llu bytes)",
                       (unsigned long long)bytes, (unsigned long long)ctx->max_allocation);
    ei_buffer *b = ei_host_alloc(ctx, sizeof *b);
    if (!b) return ei_fail(ctx, EI_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    b->ctx = ctx;
    b->size = bytes;
    VkBufferCreateInfo info = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
                               .size = bytes,
                               .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                                        VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                               .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    VkResult r = ctx->vk.vkCreateBuffer(ctx->device, &info, ei_vk_alloc(ctx), &b->buffer);
    ei_status st = EI_OK;
    if (r != VK_SUCCESS) st = ei_vk_fail(ctx, r, "vkCreateBuffer");
    VkMemoryRequirements req;
    int type = -1;
    if (st == EI_OK) {
        ctx->vk.vkGetBufferMemoryRequirements(ctx->device, b->buffer, &req);
        type = find_memory_type(ctx, req.memoryTypeBits, want);
        if (type < 0)
            st = ei_fail(ctx, EI_ERROR_FEATURE_NOT_PRESENT, "no memory type with properties 0x%x for a buffer",
                         (unsigned)want);
    }
    if (st == EI_OK && req.size > ctx->memory.memoryHeaps[ctx->memory.memoryTypes[type].heapIndex].size)
        st = ei_fail(ctx, EI_ERROR_OUT_OF_DEVICE_MEMORY, "a buffer of %llu bytes exceeds its memory heap",
                     (unsigned long long)bytes);
    if (st == EI_OK && ctx->memory_budget && req.size > ctx->memory_budget - ctx->memory_held)
        st = ei_fail(ctx, EI_ERROR_OUT_OF_DEVICE_MEMORY,
                     "a buffer of %llu bytes would pass the context's device memory budget (%llu of %llu bytes held)",
                     (unsigned long long)req.size, (unsigned long long)ctx->memory_held,
                     (unsigned long long)ctx->memory_budget);
    if (st == EI_OK) {
        VkMemoryAllocateInfo alloc = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                                      .allocationSize = req.size,
                                      .memoryTypeIndex = (uint32_t)type};
        r = ctx->vk.vkAllocateMemory(ctx->device, &alloc, ei_vk_alloc(ctx), &b->memory);
        if (r != VK_SUCCESS)
            st = ei_fail(ctx, ei_status_of(r), "allocating %llu bytes of device memory failed (VkResult %d)",
                         (unsigned long long)bytes, (int)r);
        else
            b->held = req.size, ctx->memory_held += req.size;
    }
    if (st == EI_OK) {
        r = ctx->vk.vkBindBufferMemory(ctx->device, b->buffer, b->memory, 0);
        if (r != VK_SUCCESS) st = ei_vk_fail(ctx, r, "vkBindBufferMemory");
    }
    if (st == EI_OK && (want & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT)) {
        r = ctx->vk.vkMapMemory(ctx->device, b->memory, 0, VK_WHOLE_SIZE, 0, &b->mapped);
        if (r != VK_SUCCESS) st = ei_vk_fail(ctx, r, "vkMapMemory");
    }
    if (st != EI_OK) {
        ei_buffer_destroy(b);
        return st;
    }
    *out = b;
    return EI_OK;
}

ei_status ei_buffer_create(ei_context *ctx, uint64_t bytes, ei_buffer **out) {
    if (!ctx) return EI_ERROR_INVALID_ARGUMENT;
    if (!out || bytes == 0) return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_buffer_create: zero size or NULL out");
    *out = NULL;
    VkMemoryPropertyFlags want = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
    if (ctx->facts.features & EI_FEATURE_UNIFIED_MEMORY)
        want |= VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    ei_status st = buffer_alloc(ctx, bytes, want, out);
    if (st == EI_OK) ei_vk_name(ctx, VK_OBJECT_TYPE_BUFFER, (uint64_t)(*out)->buffer, "ei_buffer");
    return st;
}

ei_status ei_buffer_create_mapped(ei_context *ctx, uint64_t bytes, ei_buffer **out) {
    if (!ctx) return EI_ERROR_INVALID_ARGUMENT;
    if (!out || bytes == 0)
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_buffer_create_mapped: zero size or NULL out");
    *out = NULL;
    ei_status st =
        buffer_alloc(ctx, bytes, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT, out);
    if (st == EI_OK) ei_vk_name(ctx, VK_OBJECT_TYPE_BUFFER, (uint64_t)(*out)->buffer, "ei_buffer (mapped)");
    return st;
}

void ei_buffer_destroy(ei_buffer *b) {
    if (!b) return;
    ei_context *ctx = b->ctx;
    if (b->buffer) ctx->vk.vkDestroyBuffer(ctx->device, b->buffer, ei_vk_alloc(ctx));
    if (b->memory) ctx->vk.vkFreeMemory(ctx->device, b->memory, ei_vk_alloc(ctx));
    ctx->memory_held -= b->held;
    ei_host_free(ctx, b);
}

uint64_t ei_buffer_size(const ei_buffer *b) { return b ? b->size : 0; }

VkBuffer ei_buffer_vk_buffer(const ei_buffer *b) { return b ? b->buffer : VK_NULL_HANDLE; }

static ei_status check_range(const ei_buffer *b, uint64_t offset, uint64_t bytes, const char *what) {
    if (offset > b->size || bytes > b->size - offset)
        return ei_fail(b->ctx, EI_ERROR_INVALID_ARGUMENT, "%s: range [%llu, +%llu) exceeds the buffer's %llu bytes",
                       what, (unsigned long long)offset, (unsigned long long)bytes, (unsigned long long)b->size);
    return EI_OK;
}

/* A one-shot copy between a buffer and a host-visible staging buffer. */
static ei_status staged_copy(ei_buffer *b, uint64_t offset, void *host, uint64_t bytes, int upload) {
    ei_context *ctx = b->ctx;
    uint64_t chunk = bytes < EI_STAGING_CHUNK ? bytes : EI_STAGING_CHUNK;
    ei_buffer *staging = NULL;
    ei_status st =
        buffer_alloc(ctx, chunk, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT, &staging);
    for (uint64_t done = 0; st == EI_OK && done < bytes; done += chunk) {
        uint64_t n = bytes - done < chunk ? bytes - done : chunk;
        if (upload) memcpy(staging->mapped, (char *)host + done, n);
        ei_cmd *cmd = NULL;
        st = ei_cmd_begin(ctx, &cmd);
        if (st == EI_OK) {
            VkBufferCopy region = {
                .srcOffset = upload ? 0 : offset + done, .dstOffset = upload ? offset + done : 0, .size = n};
            cmd->pending_write = 1; /* earlier work's writes must land before we copy */
            ei_cmd_copy(cmd, upload ? staging->buffer : b->buffer, upload ? b->buffer : staging->buffer, &region);
            st = ei_cmd_run(cmd);
        }
        ei_cmd_destroy(cmd);
        if (st == EI_OK && !upload) memcpy((char *)host + done, staging->mapped, n);
    }
    ei_buffer_destroy(staging);
    return st;
}

ei_status ei_buffer_upload(ei_buffer *b, uint64_t offset, const void *src, uint64_t bytes) {
    if (!b) return EI_ERROR_INVALID_ARGUMENT;
    if (!src) return ei_fail(b->ctx, EI_ERROR_INVALID_ARGUMENT, "ei_buffer_upload: src is NULL");
    ei_status st = check_range(b, offset, bytes, "ei_buffer_upload");
    if (st != EI_OK || bytes == 0) return st;
    if (b->mapped) {
        memcpy((char *)b->mapped + offset, src, bytes);
        return EI_OK;
    }
    return staged_copy(b, offset, (void *)src, bytes, 1);
}

ei_status ei_buffer_download(ei_buffer *b, uint64_t offset, void *dst, uint64_t bytes) {
    if (!b) return EI_ERROR_INVALID_ARGUMENT;
    if (!dst) return ei_fail(b->ctx, EI_ERROR_INVALID_ARGUMENT, "ei_buffer_download: dst is NULL");
    ei_status st = check_range(b, offset, bytes, "ei_buffer_download");
    if (st != EI_OK || bytes == 0) return st;
    if (b->mapped) {
        memcpy(dst, (char *)b->mapped + offset, bytes);
        return EI_OK;
    }
    return staged_copy(b, offset, dst, bytes, 0);
}

ei_status ei_buffer_fill(ei_buffer *b, uint64_t offset, uint64_t bytes, uint32_t word) {
    if (!b) return EI_ERROR_INVALID_ARGUMENT;
    ei_status st = check_range(b, offset, bytes, "ei_buffer_fill");
    if (st != EI_OK) return st;
    if (offset % 4 || bytes % 4)
        return ei_fail(b->ctx, EI_ERROR_INVALID_ARGUMENT, "ei_buffer_fill: offset and size must be multiples of 4");
    if (bytes == 0) return EI_OK;
    ei_cmd *cmd = NULL;
    st = ei_cmd_begin(b->ctx, &cmd);
    if (st == EI_OK) {
        ei_cmd_fill(cmd, b->buffer, offset, bytes, word);
        st = ei_cmd_run(cmd);
    }
    ei_cmd_destroy(cmd);
    return st;
}

uint64_t ei_tensor_max_elements(const ei_context *ctx, ei_dtype dtype) {
    /* Leave room for the alignment slack in front of the first element. */
    uint64_t range = ctx->max_binding;
    uint64_t align = ctx->facts.min_storage_buffer_alignment;
    return range > align ? (range - align) / ei_dtype_size(dtype) : 0;
}

ei_status ei_weight_piece(ei_context *ctx, ei_buffer *w, uint64_t offset, uint64_t row_bytes, uint32_t rows,
                          uint32_t row0, uint32_t max_rows, ei_binding *b, uint32_t *byte0, uint32_t *n) {
    uint64_t fit = ei_tensor_max_elements(ctx, EI_U32) * 4;
    fit = fit > 8 ? (fit - 8) / row_bytes : 0; /* room for a word of slack on each side */
    if (fit == 0)
        return ei_fail(ctx, EI_ERROR_LIMIT_EXCEEDED, "a %llu-byte weight row exceeds the binding range",
                       (unsigned long long)row_bytes);
    uint64_t count = rows - row0;
    if (count > fit) count = fit;
    if (count > max_rows) count = max_rows;
    uint64_t start = offset + row0 * row_bytes, word = start / 4 * 4;
    uint32_t skip;
    ei_status st =
        ei_tensor_binding(ctx, (ei_tensor){w, word, EI_U32}, 0, (start - word + count * row_bytes + 3) / 4, b, &skip);
    if (st != EI_OK) return st;
    *byte0 = skip * 4 + (uint32_t)(start - word);
    *n = (uint32_t)count;
    return EI_OK;
}

ei_status ei_tensor_check(ei_context *ctx, ei_tensor t, uint64_t count, const char *what) {
    size_t es = ei_dtype_size(t.dtype);
    if (!t.buffer) return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "%s: no buffer", what);
    if (t.dtype != EI_F32 && t.dtype != EI_F16 && t.dtype != EI_BF16 && t.dtype != EI_U32)
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "%s: unknown dtype %d", what, (int)t.dtype);
    if (t.offset % 4) return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "%s: offset is not a multiple of 4 bytes", what);
    if (count > UINT64_MAX / es || t.offset > t.buffer->size || count * es > t.buffer->size - t.offset)
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT,
                       "%s: %llu elements at byte %llu do not fit its buffer of %llu bytes", what,
                       (unsigned long long)count, (unsigned long long)t.offset, (unsigned long long)t.buffer->size);
    return EI_OK;
}

ei_status ei_tensor_binding(ei_context *ctx, ei_tensor t, uint64_t first, uint64_t count, ei_binding *out,
                            uint32_t *skip) {
    size_t es = ei_dtype_size(t.dtype);
    ei_status st = ei_tensor_check(ctx, t, first + count, "a tensor");
    if (st != EI_OK) return st;
    uint64_t bytes = count * es, start = t.offset + first * es;
    uint64_t align = ctx->facts.min_storage_buffer_alignment ? ctx->facts.min_storage_buffer_alignment : 1;
    uint64_t base = start / align * align;
    uint64_t range = start + bytes - base;
    /* Bind whole 4-byte words: shaders read 16-bit data as 32-bit words. */
    range = (range + 3) / 4 * 4;
    if (base + range > t.buffer->size) range = t.buffer->size - base;
    if (range > ctx->max_binding)
        return ei_fail(ctx, EI_ERROR_LIMIT_EXCEEDED,
                       "a tensor range of %llu bytes exceeds the storage binding limit of %llu bytes",
                       (unsigned long long)range, (unsigned long long)ctx->max_binding);
    out->buffer = t.buffer->buffer;
    out->offset = base;
    out->range = range;
    *skip = (uint32_t)((start - base) / es);
    return EI_OK;
}
