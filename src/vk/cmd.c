/* Recordings: a command buffer, its fence and its timestamps. Operations
 * record dispatches here; barriers go in only where an earlier write must
 * land before the next command. */
#include <stdlib.h>

#include "internal.h"

#define WRITE_STAGES (VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT)
#define WRITE_ACCESS (VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT)

ei_status ei_cmd_begin(ei_context *ctx, ei_cmd **out) {
    if (!ctx) return EI_ERROR_INVALID_ARGUMENT;
    if (!out) return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_cmd_begin: out is NULL");
    *out = NULL;
    ei_cmd *cmd = ei_host_alloc(ctx, sizeof *cmd);
    if (!cmd) return ei_fail(ctx, EI_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    cmd->ctx = ctx;
    /* Work submitted before this recording may still have writes to land. */
    cmd->pending_write = 1;
    VkCommandBufferAllocateInfo alloc = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                         .commandPool = ctx->command_pool,
                                         .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                         .commandBufferCount = 1};
    VkResult r = ctx->vk.vkAllocateCommandBuffers(ctx->device, &alloc, &cmd->cb);
    const char *what = "vkAllocateCommandBuffers";
    if (r == VK_SUCCESS) {
        VkFenceCreateInfo fence = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
        r = ctx->vk.vkCreateFence(ctx->device, &fence, ei_vk_alloc(ctx), &cmd->fence);
        what = "vkCreateFence";
    }
    if (r == VK_SUCCESS && (ctx->facts.features & EI_FEATURE_TIMESTAMPS)) {
        VkQueryPoolCreateInfo q = {.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                                   .queryType = VK_QUERY_TYPE_TIMESTAMP,
                                   .queryCount = EI_MAX_TIMESTAMPS};
        r = ctx->vk.vkCreateQueryPool(ctx->device, &q, ei_vk_alloc(ctx), &cmd->timestamps);
        what = "vkCreateQueryPool";
    }
    if (r == VK_SUCCESS) {
        VkCommandBufferBeginInfo begin = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                          .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
        r = ctx->vk.vkBeginCommandBuffer(cmd->cb, &begin);
        what = "vkBeginCommandBuffer";
    }
    if (r != VK_SUCCESS) {
        ei_cmd_destroy(cmd);
        return ei_vk_fail(ctx, r, what);
    }
    if (cmd->timestamps) ctx->vk.vkCmdResetQueryPool(cmd->cb, cmd->timestamps, 0, EI_MAX_TIMESTAMPS);
    *out = cmd;
    return EI_OK;
}

VkCommandBuffer ei_cmd_vk_command_buffer(const ei_cmd *cmd) { return cmd ? cmd->cb : VK_NULL_HANDLE; }

static void barrier(ei_cmd *cmd, VkPipelineStageFlags dst_stage, VkAccessFlags dst_access) {
    VkMemoryBarrier b = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = WRITE_ACCESS, .dstAccessMask = dst_access};
    cmd->ctx->vk.vkCmdPipelineBarrier(cmd->cb, WRITE_STAGES, dst_stage, 0, 1, &b, 0, NULL, 0, NULL);
    cmd->pending_write = 0;
}

static void wait_writes(ei_cmd *cmd, VkPipelineStageFlags dst_stage, VkAccessFlags dst_access) {
    if (cmd->pending_write) barrier(cmd, dst_stage, dst_access);
}

void ei_cmd_copy(ei_cmd *cmd, VkBuffer src, VkBuffer dst, const VkBufferCopy *region) {
    wait_writes(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT);
    cmd->ctx->vk.vkCmdCopyBuffer(cmd->cb, src, dst, 1, region);
    cmd->pending_write = 1;
}

void ei_cmd_fill(ei_cmd *cmd, VkBuffer dst, VkDeviceSize offset, VkDeviceSize size, uint32_t word) {
    wait_writes(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT);
    cmd->ctx->vk.vkCmdFillBuffer(cmd->cb, dst, offset, size, word);
    cmd->pending_write = 1;
}

/* Descriptor sets come from pools owned by the recording, freed with it;
 * another pool is added when one runs out. */
#define SETS_PER_POOL 64

static ei_status add_pool(ei_cmd *cmd) {
    ei_context *ctx = cmd->ctx;
    VkDescriptorPool *grown = ei_host_realloc(ctx, cmd->pools, (cmd->pool_count + 1) * sizeof *grown);
    if (!grown) return ei_fail(ctx, EI_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    cmd->pools = grown;
    VkDescriptorPoolSize size = {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, SETS_PER_POOL * EI_MAX_BINDINGS};
    VkDescriptorPoolCreateInfo info = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                       .maxSets = SETS_PER_POOL,
                                       .poolSizeCount = 1,
                                       .pPoolSizes = &size};
    VkResult r = ctx->vk.vkCreateDescriptorPool(ctx->device, &info, ei_vk_alloc(ctx), &cmd->pools[cmd->pool_count]);
    if (r != VK_SUCCESS) return ei_vk_fail(ctx, r, "vkCreateDescriptorPool");
    cmd->pool_count++;
    return EI_OK;
}

static ei_status allocate_set(ei_cmd *cmd, const ei_pipeline *p, VkDescriptorSet *set) {
    ei_context *ctx = cmd->ctx;
    VkDescriptorSetAllocateInfo info = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                        .descriptorSetCount = 1,
                                        .pSetLayouts = &p->set_layout};
    VkResult r = VK_ERROR_OUT_OF_POOL_MEMORY;
    if (cmd->pool_count) {
        info.descriptorPool = cmd->pools[cmd->pool_count - 1];
        r = ctx->vk.vkAllocateDescriptorSets(ctx->device, &info, set);
    }
    if (r == VK_ERROR_OUT_OF_POOL_MEMORY || r == VK_ERROR_FRAGMENTED_POOL) {
        ei_status st = add_pool(cmd);
        if (st != EI_OK) return st;
        info.descriptorPool = cmd->pools[cmd->pool_count - 1];
        r = ctx->vk.vkAllocateDescriptorSets(ctx->device, &info, set);
    }
    return r == VK_SUCCESS ? EI_OK : ei_vk_fail(ctx, r, "vkAllocateDescriptorSets");
}

ei_status ei_cmd_dispatch(ei_cmd *cmd, const ei_pipeline *p, const ei_binding *bindings, const void *push, uint32_t gx,
                          uint32_t gy, uint32_t gz) {
    ei_context *ctx = cmd->ctx;
    const uint32_t *max = ctx->facts.max_workgroup_count;
    if (gx > max[0] || gy > max[1] || gz > max[2])
        return ei_fail(ctx, EI_ERROR_LIMIT_EXCEEDED, "%s: %u x %u x %u workgroups exceed the device's %u x %u x %u",
                       p->shader, gx, gy, gz, max[0], max[1], max[2]);
    if (gx == 0 || gy == 0 || gz == 0) return EI_OK;
    VkDescriptorSet set;
    ei_status st = allocate_set(cmd, p, &set);
    if (st != EI_OK) return st;
    VkDescriptorBufferInfo info[EI_MAX_BINDINGS];
    VkWriteDescriptorSet writes[EI_MAX_BINDINGS];
    for (uint32_t i = 0; i < p->bindings; i++) {
        info[i] = (VkDescriptorBufferInfo){bindings[i].buffer, bindings[i].offset, bindings[i].range};
        writes[i] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                                           .dstSet = set,
                                           .dstBinding = i,
                                           .descriptorCount = 1,
                                           .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                           .pBufferInfo = &info[i]};
    }
    wait_writes(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
    ctx->vk.vkUpdateDescriptorSets(ctx->device, p->bindings, writes, 0, NULL);
    ctx->vk.vkCmdBindPipeline(cmd->cb, VK_PIPELINE_BIND_POINT_COMPUTE, p->pipeline);
    ctx->vk.vkCmdBindDescriptorSets(cmd->cb, VK_PIPELINE_BIND_POINT_COMPUTE, p->layout, 0, 1, &set, 0, NULL);
    if (p->push_size)
        ctx->vk.vkCmdPushConstants(cmd->cb, p->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, p->push_size, push);
    ctx->vk.vkCmdDispatch(cmd->cb, gx, gy, gz);
    cmd->pending_write = 1;
    return EI_OK;
}

ei_status ei_cmd_dispatch_kernel(ei_cmd *cmd, const ei_kernel *k, const ei_binding *bindings, const void *push,
                                 uint32_t gx, uint32_t gy, uint32_t gz) {
    ei_pipeline *p;
    ei_status st = ei_pipeline_get(cmd->ctx, k, &p);
    return st == EI_OK ? ei_cmd_dispatch(cmd, p, bindings, push, gx, gy, gz) : st;
}

ei_status ei_cmd_timestamp(ei_cmd *cmd, uint32_t *id) {
    if (!cmd || !id) return EI_ERROR_INVALID_ARGUMENT;
    if (!cmd->timestamps)
        return ei_fail(cmd->ctx, EI_ERROR_FEATURE_NOT_PRESENT, "the device's compute queue has no timestamps");
    if (cmd->submitted) return ei_fail(cmd->ctx, EI_ERROR_INVALID_ARGUMENT, "ei_cmd_timestamp: already submitted");
    if (cmd->timestamp_count == EI_MAX_TIMESTAMPS)
        return ei_fail(cmd->ctx, EI_ERROR_LIMIT_EXCEEDED, "at most %d timestamps per recording", EI_MAX_TIMESTAMPS);
    *id = cmd->timestamp_count++;
    cmd->ctx->vk.vkCmdWriteTimestamp(cmd->cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, cmd->timestamps, *id);
    return EI_OK;
}

ei_status ei_cmd_elapsed_ms(ei_cmd *cmd, uint32_t from, uint32_t to, double *ms) {
    if (!cmd || !ms) return EI_ERROR_INVALID_ARGUMENT;
    ei_context *ctx = cmd->ctx;
    if (!cmd->finished)
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_cmd_elapsed_ms: the recording has not finished");
    if (from >= cmd->timestamp_count || to >= cmd->timestamp_count)
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_cmd_elapsed_ms: no timestamp %u", from > to ? from : to);
    uint64_t t[2];
    VkResult r = ctx->vk.vkGetQueryPoolResults(ctx->device, cmd->timestamps, from, 1, sizeof t[0], &t[0], sizeof t[0],
                                               VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
    if (r == VK_SUCCESS)
        r = ctx->vk.vkGetQueryPoolResults(ctx->device, cmd->timestamps, to, 1, sizeof t[1], &t[1], sizeof t[1],
                                          VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
    if (r != VK_SUCCESS) return ei_vk_fail(ctx, r, "vkGetQueryPoolResults");
    uint32_t bits = ctx->timestamp_valid_bits;
    uint64_t mask = bits >= 64 ? ~0ull : ((1ull << bits) - 1);
    *ms = (double)((t[1] - t[0]) & mask) * ctx->facts.timestamp_period_ns * 1e-6;
    return EI_OK;
}

ei_status ei_cmd_submit(ei_cmd *cmd) {
    if (!cmd) return EI_ERROR_INVALID_ARGUMENT;
    ei_context *ctx = cmd->ctx;
    if (cmd->submitted) return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_cmd_submit: already submitted");
    /* Make every write visible to the host, which may read mapped memory. */
    barrier(cmd, VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
    VkResult r = ctx->vk.vkEndCommandBuffer(cmd->cb);
    if (r != VK_SUCCESS) return ei_vk_fail(ctx, r, "vkEndCommandBuffer");
    VkSubmitInfo submit = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &cmd->cb};
    r = ctx->vk.vkQueueSubmit(ctx->queue, 1, &submit, cmd->fence);
    if (r != VK_SUCCESS) return ei_vk_fail(ctx, r, "vkQueueSubmit");
    cmd->submitted = 1;
    return EI_OK;
}

ei_status ei_cmd_wait(ei_cmd *cmd) {
    if (!cmd) return EI_ERROR_INVALID_ARGUMENT;
    ei_context *ctx = cmd->ctx;
    if (!cmd->submitted) return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "ei_cmd_wait: not submitted");
    if (cmd->finished) return EI_OK;
    VkResult r = ctx->vk.vkWaitForFences(ctx->device, 1, &cmd->fence, VK_TRUE, UINT64_MAX);
    if (r != VK_SUCCESS) return ei_vk_fail(ctx, r, "vkWaitForFences");
    cmd->finished = 1;
    return EI_OK;
}

ei_status ei_cmd_run(ei_cmd *cmd) {
    ei_status st = ei_cmd_submit(cmd);
    return st == EI_OK ? ei_cmd_wait(cmd) : st;
}

void ei_cmd_destroy(ei_cmd *cmd) {
    if (!cmd) return;
    ei_context *ctx = cmd->ctx;
    if (cmd->submitted && !cmd->finished) ctx->vk.vkWaitForFences(ctx->device, 1, &cmd->fence, VK_TRUE, UINT64_MAX);
    if (cmd->timestamps) ctx->vk.vkDestroyQueryPool(ctx->device, cmd->timestamps, ei_vk_alloc(ctx));
    if (cmd->fence) ctx->vk.vkDestroyFence(ctx->device, cmd->fence, ei_vk_alloc(ctx));
    for (uint32_t i = 0; i < cmd->pool_count; i++)
        ctx->vk.vkDestroyDescriptorPool(ctx->device, cmd->pools[i], ei_vk_alloc(ctx));
    ei_host_free(ctx, cmd->pools);
    if (cmd->cb) ctx->vk.vkFreeCommandBuffers(ctx->device, ctx->command_pool, 1, &cmd->cb);
    ei_host_free(ctx, cmd);
}
