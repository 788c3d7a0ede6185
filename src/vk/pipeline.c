/* Compute pipelines from the embedded SPIR-V, one per (shader, bindings,
 * push size, specialization constants), created on first use and kept for
 * the context's life. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int same_kernel(const ei_pipeline *p, const ei_kernel *k) {
    return strcmp(p->shader, k->shader) == 0 && p->bindings == k->bindings && p->push_size == k->push_size &&
           p->spec_count == k->spec_count && memcmp(p->spec, k->spec, k->spec_count * sizeof k->spec[0]) == 0;
}

static void pipeline_free(ei_context *ctx, ei_pipeline *p) {
    if (p->pipeline) ctx->vk.vkDestroyPipeline(ctx->device, p->pipeline, ei_vk_alloc(ctx));
    if (p->layout) ctx->vk.vkDestroyPipelineLayout(ctx->device, p->layout, ei_vk_alloc(ctx));
    if (p->set_layout) ctx->vk.vkDestroyDescriptorSetLayout(ctx->device, p->set_layout, ei_vk_alloc(ctx));
    ei_host_free(ctx, p);
}

static ei_status create(ei_context *ctx, const ei_kernel *k, const ei_shader_blob *blob, ei_pipeline *p) {
    VkDescriptorSetLayoutBinding b[EI_MAX_BINDINGS];
    for (uint32_t i = 0; i < k->bindings; i++)
        b[i] = (VkDescriptorSetLayoutBinding){.binding = i,
                                              .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                              .descriptorCount = 1,
                                              .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT};
    VkDescriptorSetLayoutCreateInfo set = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO, .bindingCount = k->bindings, .pBindings = b};
    VkResult r = ctx->vk.vkCreateDescriptorSetLayout(ctx->device, &set, ei_vk_alloc(ctx), &p->set_layout);
    if (r != VK_SUCCESS) return ei_vk_fail(ctx, r, "vkCreateDescriptorSetLayout");

    VkPushConstantRange push = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .size = k->push_size};
    VkPipelineLayoutCreateInfo layout = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                         .setLayoutCount = 1,
                                         .pSetLayouts = &p->set_layout,
                                         .pushConstantRangeCount = k->push_size ? 1 : 0,
                                         .pPushConstantRanges = &push};
    r = ctx->vk.vkCreatePipelineLayout(ctx->device, &layout, ei_vk_alloc(ctx), &p->layout);
    if (r != VK_SUCCESS) return ei_vk_fail(ctx, r, "vkCreatePipelineLayout");

    VkShaderModuleCreateInfo module_info = {
        .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO, .codeSize = blob->size, .pCode = blob->code};
    VkShaderModule module;
    r = ctx->vk.vkCreateShaderModule(ctx->device, &module_info, ei_vk_alloc(ctx), &module);
    if (r != VK_SUCCESS) return ei_vk_fail(ctx, r, "vkCreateShaderModule");

    VkSpecializationMapEntry entries[EI_MAX_SPEC];
    for (uint32_t i = 0; i < k->spec_count; i++)
        entries[i] = (VkSpecializationMapEntry){.constantID = i, .offset = i * 4, .size = 4};
    VkSpecializationInfo spec = {
        .mapEntryCount = k->spec_count, .pMapEntries = entries, .dataSize = k->spec_count * 4, .pData = k->spec};
    VkComputePipelineCreateInfo info = {.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
                                        .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                                                  .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                                                  .module = module,
                                                  .pName = "main",
                                                  .pSpecializationInfo = k->spec_count ? &spec : NULL},
                                        .layout = p->layout};
    r = ctx->vk.vkCreateComputePipelines(ctx->device, ctx->pipeline_cache, 1, &info, ei_vk_alloc(ctx), &p->pipeline);
    ctx->vk.vkDestroyShaderModule(ctx->device, module, ei_vk_alloc(ctx));
    if (r != VK_SUCCESS) return ei_vk_fail(ctx, r, "vkCreateComputePipelines");
    ei_vk_name(ctx, VK_OBJECT_TYPE_PIPELINE, (uint64_t)p->pipeline, p->shader);
    return EI_OK;
}

ei_status ei_pipeline_get(ei_context *ctx, const ei_kernel *k, ei_pipeline **out) {
    for (size_t i = 0; i < ctx->pipeline_count; i++)
        if (same_kernel(ctx->pipelines[i], k)) {
            *out = ctx->pipelines[i];
            return EI_OK;
        }
    const ei_shader_blob *blob = ei_shader_find(k->shader);
    if (!blob) return ei_fail(ctx, EI_ERROR_FEATURE_NOT_PRESENT, "shader '%s' is not in this build", k->shader);
    if (k->bindings > EI_MAX_BINDINGS || k->spec_count > EI_MAX_SPEC)
        return ei_fail(ctx, EI_ERROR_INVALID_ARGUMENT, "shader '%s': too many bindings or constants", k->shader);
    if (ctx->pipeline_count == ctx->pipeline_capacity) {
        size_t cap = ctx->pipeline_capacity ? 2 * ctx->pipeline_capacity : 16;
        ei_pipeline **grown = ei_host_realloc(ctx, ctx->pipelines, cap * sizeof *grown);
        if (!grown) return ei_fail(ctx, EI_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
        ctx->pipelines = grown;
        ctx->pipeline_capacity = cap;
    }
    ei_pipeline *p = ei_host_alloc(ctx, sizeof *p);
    if (!p) return ei_fail(ctx, EI_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    p->shader = blob->name;
    p->bindings = k->bindings;
    p->push_size = k->push_size;
    p->spec_count = k->spec_count;
    memcpy(p->spec, k->spec, sizeof p->spec);
    ei_status st = create(ctx, k, blob, p);
    if (st != EI_OK) {
        pipeline_free(ctx, p);
        return st;
    }
    ctx->pipelines[ctx->pipeline_count++] = p;
    *out = p;
    return EI_OK;
}

void ei_pipelines_destroy(ei_context *ctx) {
    for (size_t i = 0; i < ctx->pipeline_count; i++)
        pipeline_free(ctx, ctx->pipelines[i]);
    ctx->pipeline_count = 0;
}
