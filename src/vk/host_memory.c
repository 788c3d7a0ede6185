/* Host memory of a context: the app's ei_allocator, or the C library's. */
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define ALIGN alignof(max_align_t)

/* Vulkan's blocks go to the hooks with vulkan_user (or user). */
static void *vk_user(const ei_allocator *a) { return a->vulkan_user ? a->vulkan_user : a->user; }

static void *VKAPI_PTR vk_alloc(void *user, size_t size, size_t alignment, VkSystemAllocationScope scope) {
    (void)scope;
    const ei_allocator *a = user;
    return a->alloc(vk_user(a), size, alignment);
}

static void *VKAPI_PTR vk_realloc(void *user, void *p, size_t size, size_t alignment, VkSystemAllocationScope scope) {
    (void)scope;
    const ei_allocator *a = user;
    return a->realloc(vk_user(a), p, size, alignment);
}

static void VKAPI_PTR vk_free(void *user, void *p) {
    const ei_allocator *a = user;
    a->free(vk_user(a), p);
}

void ei_host_hooks(ei_context *ctx, const ei_allocator *a) {
    ctx->has_host_allocator = a != NULL;
    if (!a) return;
    ctx->host = *a;
    ctx->vk_host = (VkAllocationCallbacks){
        .pUserData = &ctx->host, .pfnAllocation = vk_alloc, .pfnReallocation = vk_realloc, .pfnFree = vk_free};
}

void *ei_host_alloc(ei_context *ctx, size_t bytes) {
    void *p = ctx->has_host_allocator ? ctx->host.alloc(ctx->host.user, bytes, ALIGN) : malloc(bytes);
    if (p)
        memset(p, 0, bytes);
    else
        ctx->host_failed = 1;
    return p;
}

void *ei_host_realloc(ei_context *ctx, void *p, size_t bytes) {
    void *q = ctx->has_host_allocator ? ctx->host.realloc(ctx->host.user, p, bytes, ALIGN) : realloc(p, bytes);
    if (!q) ctx->host_failed = 1;
    return q;
}

void ei_host_free(const ei_context *ctx, void *p) {
    if (!p) return;
    if (ctx->has_host_allocator)
        ctx->host.free(ctx->host.user, p);
    else
        free(p);
}

const VkAllocationCallbacks *ei_vk_alloc(const ei_context *ctx) {
    return ctx->has_host_allocator ? &ctx->vk_host : NULL;
}

int ei_probe(ei_context *ctx, VkResult r) {
    if (r == VK_ERROR_OUT_OF_HOST_MEMORY) ctx->host_failed = 1;
    return r == VK_SUCCESS;
}
