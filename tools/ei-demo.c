/* ei-demo: what the library sees of this machine's GPU; segment and block
 * pooling of a random prompt's Q and K (algorithm.md section 1, steps 1-3);
 * then one layer of EntropyInfer prefill on its first tokens, with small
 * segments so a short prompt has many, and KV head 0 given an attention
 * sink so that it turns rigid: entropies, budgets and times against dense
 * attention, all timed on the GPU. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <entropyinfer.h>

static void print_facts(const ei_device_facts *f) {
    static const char *types[] = {"other", "integrated GPU", "discrete GPU", "virtual GPU", "CPU"};
    static const char *names[] = {"timestamps", "coopmat",        "coopmat2",      "fp16",          "bf16",
                                  "int8",       "16-bit storage", "8-bit storage", "unified memory"};
    printf("device        %s (%s)\n", f->name, f->device_type < 5 ? types[f->device_type] : "?");
    printf("driver        %s\n", f->driver);
    printf("vulkan        %u.%u.%u\n", f->api_version >> 22, (f->api_version >> 12) & 0x3ff, f->api_version & 0xfff);
    printf("subgroup      %u (min %u, max %u)\n", f->subgroup_size, f->min_subgroup_size, f->max_subgroup_size);
    printf("shared memory %u bytes per workgroup\n", f->max_shared_memory);
    printf("binding range %llu bytes\n", (unsigned long long)f->max_storage_buffer_range);
    printf("device memory %.1f GiB\n", (double)f->device_local_bytes / (1 << 30));
    printf("features     ");
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
        if (f->features & (1u << i)) printf(" %s", names[i]);
    printf("\n");
    for (uint32_t i = 0; i < f->coopmat_shape_count; i++) {
        const ei_coopmat_shape *s = &f->coopmat_shapes[i];
        printf("coopmat       %ux%ux%u %s -> %s\n", s->m, s->n, s->k, s->a_type == EI_BF16 ? "bf16" : "f16",
               s->acc_type == EI_F32 ? "f32" : "f16");
    }
}

/* One layer of EntropyInfer prefill over the first `len` rows of q and k
 * (v = k), against dense attention. */
static ei_status demo_prefill(ei_context *ctx, ei_buffer *q, ei_buffer *k, unsigned len, unsigned heads,
                              unsigned kv_heads, unsigned dim) {
    ei_entropy_config cfg = ei_entropy_config_default();
    cfg.segment_size = 128;
    cfg.base_budget = 256;
    cfg.threshold_len = 512;
    ei_attention_desc d = {len, len, heads, kv_heads, dim, 0, 1, 0, 0};
    ei_prefill_layout l;
    ei_buffer *scratch = NULL, *out = NULL;
    ei_cmd *cmd = NULL;
    uint32_t t[4];
    double profile_ms = 0, sparse_ms = 0, dense_ms = 0;
    ei_tensor tq = {q, 0, EI_F16}, tk = {k, 0, EI_F16}, to;
    ei_status st;
    if ((st = ei_prefill_layout_of(ctx, &d, &cfg, 1, &l)) || (st = ei_buffer_create(ctx, l.bytes, &scratch)) ||
        (st = ei_buffer_create(ctx, (uint64_t)len * heads * dim * 2, &out)))
        goto done;
    to = (ei_tensor){out, 0, EI_F16};
    if ((st = ei_cmd_begin(ctx, &cmd)) || (st = ei_cmd_timestamp(cmd, &t[0])) ||
        (st = ei_prefill_profile(cmd, &d, &cfg, 1, tq, tk, scratch)) || (st = ei_cmd_timestamp(cmd, &t[1])) ||
        (st = ei_prefill_attend(cmd, &d, &cfg, 1, tq, tk, tk, to, scratch)) || (st = ei_cmd_timestamp(cmd, &t[2])) ||
        (st = ei_attention_prefill(cmd, &d, tq, tk, tk, to)) || (st = ei_cmd_timestamp(cmd, &t[3])) ||
        (st = ei_cmd_run(cmd)) || (st = ei_cmd_elapsed_ms(cmd, t[0], t[1], &profile_ms)) ||
        (st = ei_cmd_elapsed_ms(cmd, t[1], t[2], &sparse_ms)) || (st = ei_cmd_elapsed_ms(cmd, t[2], t[3], &dense_ms)))
        goto done;
    unsigned nseg = l.shape.nseg;
    float entropy[64 * 64];
    uint32_t keep[64 * 64], rigid[64];
    if (kv_heads > 64 || nseg > 64) goto done; /* the table below is for small demos */
    if ((st = ei_buffer_download(scratch, l.entropy, entropy, (uint64_t)kv_heads * nseg * 4)) ||
        (st = ei_buffer_download(scratch, l.keep, keep, (uint64_t)kv_heads * nseg * 4)) ||
        (st = ei_buffer_download(scratch, l.rigid, rigid, (uint64_t)kv_heads * 4)))
        goto done;
    printf("\nEntropyInfer prefill of one layer over the first %u tokens (%u segments of %u, blocks of %u,\n"
           "B0 %u, dense before token %u; KV head 0 has an attention sink):\n",
           len, nseg, cfg.segment_size, cfg.block_size, cfg.base_budget, cfg.threshold_len);
    for (unsigned h = 0; h < kv_heads; h++) {
        double kept = 0;
        for (unsigned s = 1; s < nseg; s++)
            kept += keep[h * nseg + s];
        printf("  KV head %u: %-7s entropy seg 1 %.4f, seg %u %.4f; mean keep %.1f blocks\n", h,
               rigid[h] ? "rigid" : "dynamic", entropy[h * nseg + 1], nseg - 1, entropy[h * nseg + nseg - 1],
               kept / (nseg - 1));
    }
    printf("  profile %.3f ms + block-sparse attention %.3f ms, against dense attention %.3f ms\n", profile_ms,
           sparse_ms, dense_ms);
done:
    ei_cmd_destroy(cmd);
    ei_buffer_destroy(scratch);
    ei_buffer_destroy(out);
    return st;
}

static int fail(ei_context *ctx, ei_status st) {
    fprintf(stderr, "ei-demo: %s: %s\n", ei_status_name(st), ei_context_error(ctx));
    return 1;
}

int main(int argc, char **argv) {
    unsigned len = 16384, heads = 8, kv_heads = 2, dim = 128, segment = 512, block = 8;
    static const struct option opts[] = {{"len", required_argument, 0, 'l'},      {"heads", required_argument, 0, 'H'},
                                         {"kv-heads", required_argument, 0, 'K'}, {"dim", required_argument, 0, 'd'},
                                         {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l': len = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'H': heads = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'K': kv_heads = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'd': dim = (unsigned)strtoul(optarg, NULL, 10); break;
        default: printf("usage: ei-demo [--len N] [--heads H] [--kv-heads Hkv] [--dim D]\n"); return c == 'h' ? 0 : 2;
        }
    }
    if (len < 1 || heads < 1 || kv_heads < 1 || dim < 2 || dim % 2) {
        fprintf(stderr, "ei-demo: --len, --heads, --kv-heads must be positive and --dim even\n");
        return 2;
    }
    char error[512] = "";
    ei_context_desc desc = ei_context_desc_default();
    desc.error = error;
    desc.error_size = sizeof error;
    ei_context *ctx = NULL;
    ei_status st = ei_context_create(&desc, &ctx);
    if (st != EI_OK) {
        fprintf(stderr, "ei-demo: %s: %s\n", ei_status_name(st), error);
        return 1;
    }
    print_facts(ei_context_facts(ctx));

    /* Random f16 Q and K of a prompt, as after RoPE. */
    uint64_t q_n = (uint64_t)len * heads * dim, k_n = (uint64_t)len * kv_heads * dim;
    uint16_t *host = malloc((q_n + k_n) * 2);
    if (!host) return fail(ctx, EI_ERROR_OUT_OF_HOST_MEMORY);
    uint32_t state = 12345;
    for (uint64_t i = 0; i < q_n + k_n; i++) {
        state = state * 1664525u + 1013904223u;
        host[i] = (uint16_t)(0x3000u + (state >> 22)); /* f16 values in [0.125, 0.25) */
    }
    /* An attention sink: block 0 of KV head 0 points far along every query. */
    for (unsigned r = 0; r < block && r < len; r++)
        for (unsigned x = 0; x < dim; x++)
            host[q_n + ((uint64_t)r * kv_heads) * dim + x] = 0x4c00; /* 16.0 */
    unsigned nseg = (len + segment - 1) / segment;
    unsigned pool_len = (nseg - 1) * segment, nblk = pool_len / block;
    uint64_t seg_bytes = (uint64_t)nseg * heads * dim * 4, blk_bytes = (uint64_t)(nblk ? nblk : 1) * kv_heads * dim * 4;
    ei_buffer *q = NULL, *k = NULL, *out = NULL;
    ei_cmd *cmd = NULL;
    uint32_t t[3];
    double seg_ms = 0, blk_ms = 0;
    ei_pool_desc qd = {len, heads, dim, segment}, kd = {pool_len, kv_heads, dim, block};
    if ((st = ei_buffer_create(ctx, q_n * 2, &q)) || (st = ei_buffer_create(ctx, k_n * 2, &k)) ||
        (st = ei_buffer_create(ctx, 2 * (seg_bytes + blk_bytes), &out)) ||
        (st = ei_buffer_upload(q, 0, host, q_n * 2)) || (st = ei_buffer_upload(k, 0, host + q_n, k_n * 2)) ||
        (st = ei_cmd_begin(ctx, &cmd)) || (st = ei_cmd_timestamp(cmd, &t[0])) ||
        (st = ei_pool_minmax(cmd, &qd, (ei_tensor){q, 0, EI_F16}, (ei_tensor){out, 0, EI_F32},
                             (ei_tensor){out, seg_bytes, EI_F32})) ||
        (st = ei_cmd_timestamp(cmd, &t[1])) ||
        (nblk && (st = ei_pool_minmax(cmd, &kd, (ei_tensor){k, 0, EI_F16}, (ei_tensor){out, 2 * seg_bytes, EI_F32},
                                      (ei_tensor){out, 2 * seg_bytes + blk_bytes, EI_F32}))) ||
        (st = ei_cmd_timestamp(cmd, &t[2])) || (st = ei_cmd_run(cmd)) ||
        (st = ei_cmd_elapsed_ms(cmd, t[0], t[1], &seg_ms)) || (st = ei_cmd_elapsed_ms(cmd, t[1], t[2], &blk_ms))) {
        free(host);
        return fail(ctx, st);
    }
    printf("\nprompt        %u tokens, %u query heads, %u KV heads, dim %u, f16\n", len, heads, kv_heads, dim);
    printf("segments      %u of %u rows: Qmax/Qmin in %.3f ms (%.1f GB/s)\n", nseg, segment, seg_ms,
           q_n * 2 / seg_ms * 1e-6);
    printf("blocks        %u of %u rows over %u pooled keys: Kmax/Kmin in %.3f ms\n", nblk, block, pool_len, blk_ms);
    st = demo_prefill(ctx, q, k, len < 2048 ? len : 2048, heads, kv_heads, dim);
    if (st != EI_OK) {
        free(host);
        return fail(ctx, st);
    }
    ei_cmd_destroy(cmd);
    ei_buffer_destroy(q);
    ei_buffer_destroy(k);
    ei_buffer_destroy(out);
    ei_context_destroy(ctx);
    free(host);
    return 0;
}
