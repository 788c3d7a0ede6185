/* The EntropyInfer prefill profile against the CPU reference: observation
 * scores and entropies (within tolerance), budgets and keep counts (equal),
 * block selections (equal on the same scores; end to end, different only at
 * real ties), every mode, rigid heads, ragged and edge lengths, GQA 1/4/8,
 * f16 and f32 inputs; and the config's bad values. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref.h"
#include "util/test_util.h"

typedef struct profile_case {
    ei_profile_desc d;
    ei_entropy_config cfg;
    ei_dtype dtype;
    int sink_head; /* -1, or a KV head given one overwhelming block: a rigid head */
    const char *name;
} profile_case;

/* GPU results of one case. */
typedef struct gpu_out {
    float *qmax, *qmin, *kmax, *kmin, *scores, *entropy;
    uint32_t *keep, *rigid, *selected;
} gpu_out;

/* Random Q and K (with the sink planted), pooled, profiled and selected on
 * the GPU in one recording. */
static gpu_out run_gpu(ei_context *ctx, const profile_case *c, ei_profile_shape sh) {
    const ei_profile_desc *d = &c->d;
    uint64_t q_n = (uint64_t)d->len * d->heads * d->dim, k_n = (uint64_t)d->len * d->kv_heads * d->dim;
    size_t es = ei_dtype_size(c->dtype);
    void *sq = tu_alloc(q_n, es), *sk = tu_alloc(k_n, es);
    float *fq = tu_alloc(q_n, 4), *fk = tu_alloc(k_n, 4);
    tu_random_tensor(c->dtype, q_n, 1.0f, sq, fq);
    tu_random_tensor(c->dtype, k_n, 1.0f, sk, fk);
    if (c->sink_head >= 0) {
        /* Block 0 of that head: keys far along every query's direction. */
        for (uint32_t i = 0; i < q_n; i++)
            fq[i] = fabsf(fq[i]);
        for (uint32_t r = 0; r < c->cfg.block_size; r++)
            for (uint32_t x = 0; x < d->dim; x++)
                fk[((uint64_t)r * d->kv_heads + c->sink_head) * d->dim + x] = 64.0f;
        for (uint64_t i = 0; i < q_n; i++) {
            if (c->dtype == EI_F32)
                ((float *)sq)[i] = fq[i];
            else
                ((uint16_t *)sq)[i] = c->dtype == EI_F16 ? tu_f32_to_f16(fq[i]) : tu_f32_to_bf16(fq[i]);
        }
        for (uint64_t i = 0; i < k_n; i++) {
            if (c->dtype == EI_F32)
                ((float *)sk)[i] = fk[i];
            else
                ((uint16_t *)sk)[i] = c->dtype == EI_F16 ? tu_f32_to_f16(fk[i]) : tu_f32_to_bf16(fk[i]);
        }
    }
    uint64_t qp_n = (uint64_t)sh.nseg * d->heads * d->dim, kp_n = (uint64_t)sh.nblk * d->kv_heads * d->dim;
    uint64_t a_n = (uint64_t)d->kv_heads * sh.nseg * sh.nblk, e_n = (uint64_t)d->kv_heads * sh.nseg;
    uint64_t sel_n = e_n * sh.max_keep;
    /* One buffer, tensors one after another (4-byte aligned). */
    uint64_t off[12], at = 0;
    const uint64_t bytes[11] = {q_n * es, k_n * es, qp_n * 4, qp_n * 4,        kp_n * 4, kp_n * 4,
                                a_n * 4,  e_n * 4,  e_n * 4,  d->kv_heads * 4, sel_n * 4};
    for (int i = 0; i < 11; i++) {
        off[i] = at;
        at += (bytes[i] + 15) / 16 * 16 + 4;
    }
    ei_buffer *b = tu_buffer(ctx, at);
    CHECK_STATUS(ei_buffer_upload(b, off[0], sq, bytes[0]), EI_OK, ctx);
    CHECK_STATUS(ei_buffer_upload(b, off[1], sk, bytes[1]), EI_OK, ctx);
    ei_tensor t[11];
    for (int i = 0; i < 11; i++)
        t[i] = (ei_tensor){b, off[i], i < 2 ? c->dtype : (i >= 8 ? EI_U32 : EI_F32)};
    ei_cmd *cmd = NULL;
    ei_pool_desc qd = {d->len, d->heads, d->dim, c->cfg.segment_size},
                 kd = {sh.pool_len, d->kv_heads, d->dim, c->cfg.block_size};
    CHECK_STATUS(ei_cmd_begin(ctx, &cmd), EI_OK, ctx);
    CHECK_STATUS(ei_pool_minmax(cmd, &qd, t[0], t[2], t[3]), EI_OK, ctx);
    CHECK_STATUS(ei_pool_minmax(cmd, &kd, t[1], t[4], t[5]), EI_OK, ctx);
    CHECK_STATUS(ei_observe(cmd, d, &c->cfg, t[2], t[3], t[4], t[5], t[6], t[7], NULL), EI_OK, ctx);
    CHECK_STATUS(ei_budgets(cmd, d, &c->cfg, t[7], t[8], t[9]), EI_OK, ctx);
    CHECK_STATUS(ei_select_blocks(cmd, d, &c->cfg, t[6], t[8], t[10]), EI_OK, ctx);
    CHECK_STATUS(ei_cmd_run(cmd), EI_OK, ctx);
    ei_cmd_destroy(cmd);
    gpu_out o = {tu_alloc(qp_n, 4), tu_alloc(qp_n, 4), tu_alloc(kp_n, 4),        tu_alloc(kp_n, 4), tu_alloc(a_n, 4),
                 tu_alloc(e_n, 4),  tu_alloc(e_n, 4),  tu_alloc(d->kv_heads, 4), tu_alloc(sel_n, 4)};
    void *dst[9] = {o.qmax, o.qmin, o.kmax, o.kmin, o.scores, o.entropy, o.keep, o.rigid, o.selected};
    for (int i = 0; i < 9; i++)
        CHECK_STATUS(ei_buffer_download(b, off[i + 2], dst[i], bytes[i + 2]), EI_OK, ctx);
    ei_buffer_destroy(b);
    free(sq), free(sk), free(fq), free(fk);
    return o;
}

/* One ulp of the rounding dtype, relative (0 without rounding). */
static double rounding_ulp(const profile_case *c) {
    if (c->cfg.mode != EI_PREFILL_REFERENCE || c->dtype == EI_F32) return 0;
    return c->dtype == EI_BF16 ? 1.0 / 128 : 1.0 / 1024;
}

static void run_case(ei_context *ctx, const profile_case *c_in) {
    profile_case copy = *c_in, *c = &copy;
    c->d.dtype = c->dtype;
    const ei_profile_desc *d = &c->d;
    double ulp = rounding_ulp(c);
    ei_profile_shape sh = ei_profile_shape_of(d, &c->cfg);
    uint32_t nrep = c->cfg.segment_size / c->cfg.block_size;
    gpu_out g = run_gpu(ctx, c, sh);
    uint64_t a_n = (uint64_t)d->kv_heads * sh.nseg * sh.nblk, e_n = (uint64_t)d->kv_heads * sh.nseg;

    /* Scores and entropies from the GPU's pooled summaries. */
    double *ra = tu_alloc(a_n, 8), *re = tu_alloc(e_n, 8);
    ref_observe(d, &c->cfg, g.qmax, g.qmin, g.kmax, g.kmin, ra, re, NULL);
    double amax = 0, aerr = 0, eerr = 0;
    for (uint32_t hk = 0; hk < d->kv_heads; hk++)
        for (uint32_t s = 0; s < sh.nseg; s++)
            for (uint32_t j = 0; j < s * nrep && j < sh.nblk; j++) {
                uint64_t i = ((uint64_t)hk * sh.nseg + s) * sh.nblk + j;
                amax = fmax(amax, fabs(ra[i]));
                double e = fabs(g.scores[i] - ra[i]);
                aerr = isnan(e) ? INFINITY : fmax(aerr, e);
            }
    for (uint64_t i = 0; i < e_n; i++) {
        /* Relative, with a floor: f32 cannot tell a rigid head's 1e-9 from 0. */
        double e = fabs(g.entropy[i] - re[i]) / fmax(fabs(re[i]), 1e-4);
        eerr = isnan(e) ? INFINITY : fmax(eerr, e);
    }
    /* Rounded to a 16-bit dtype (reference mode), f32 and double may land
     * one ulp apart. */
    CHECK(aerr <= fmax(1e-5, ulp) * amax, "%s: scores error %.3g of max %.3g", c->name, aerr, amax);
    CHECK(eerr <= fmax(1e-4, 2 * ulp), "%s: entropy relative error %.3g", c->name, eerr);

    /* Budgets: equal to the reference's on the same entropies. */
    uint32_t *rk = tu_alloc(e_n, 4), *rr = tu_alloc(d->kv_heads, 4);
    ref_budgets(d, &c->cfg, g.entropy, rk, rr);
    CHECK(memcmp(rk, g.keep, e_n * 4) == 0, "%s: keep counts differ", c->name);
    CHECK(memcmp(rr, g.rigid, d->kv_heads * 4) == 0, "%s: rigid flags differ", c->name);
    if (c->sink_head >= 0)
        CHECK(g.rigid[c->sink_head] == 1, "%s: the head with one overwhelming block is not rigid (E[1] = %g)", c->name,
              g.entropy[c->sink_head * sh.nseg + 1]);

    /* Selection: equal to the reference's on the GPU's own scores. */
    uint64_t sel_n = e_n * sh.max_keep;
    double *ga = tu_alloc(a_n, 8);
    for (uint64_t i = 0; i < a_n; i++)
        ga[i] = g.scores[i];
    uint32_t *rs = tu_alloc(sel_n, 4), *rs_end = tu_alloc(sel_n, 4);
    ref_select(d, &c->cfg, ga, g.keep, rs);
    uint64_t differ = 0, ties = 0;
    for (uint32_t hk = 0; hk < d->kv_heads; hk++)
        for (uint32_t s = 1; s < sh.nseg; s++) {
            uint64_t at = ((uint64_t)hk * sh.nseg + s) * sh.max_keep;
            uint32_t k = g.keep[hk * sh.nseg + s];
            if (memcmp(rs + at, g.selected + at, k * 4)) differ++;
        }
    CHECK(differ == 0, "%s: %llu selections differ from the reference on the same scores", c->name,
          (unsigned long long)differ);
    /* End to end (reference scores): a block may differ only where its score
     * ties the selection's threshold within the scores' measured error. */
    ref_select(d, &c->cfg, ra, g.keep, rs_end);
    uint64_t false_diff = 0;
    for (uint32_t hk = 0; hk < d->kv_heads; hk++)
        for (uint32_t s = 1; s < sh.nseg; s++) {
            uint64_t at = ((uint64_t)hk * sh.nseg + s) * sh.max_keep;
            uint32_t k = g.keep[hk * sh.nseg + s];
            if (!k || !memcmp(rs_end + at, g.selected + at, k * 4)) continue;
            const double *row = ra + ((uint64_t)hk * sh.nseg + s) * sh.nblk;
            double threshold = INFINITY; /* the smallest selected reference score */
            for (uint32_t i = 0; i < k; i++)
                threshold = fmin(threshold, row[rs_end[at + i]]);
            for (uint32_t i = 0; i < k; i++) {
                int in_ref = 0;
                for (uint32_t m = 0; m < k; m++)
                    in_ref |= rs_end[at + m] == g.selected[at + i];
                if (in_ref) continue;
                if (fabs(row[g.selected[at + i]] - threshold) <= 2 * aerr + 1e-6 * fabs(threshold))
                    ties++;
                else
                    false_diff++;
            }
        }
    CHECK(false_diff == 0, "%s: %llu selected blocks differ beyond ties", c->name, (unsigned long long)false_diff);

    uint32_t rigid = 0;
    uint64_t kept = 0;
    for (uint32_t hk = 0; hk < d->kv_heads; hk++)
        rigid += g.rigid[hk];
    for (uint64_t i = 0; i < e_n; i++)
        kept += g.keep[i];
    printf("%-24s L %5u nseg %3u nblk %4u: scores err %.1e, entropy err %.1e, rigid %u/%u, keep sum %llu, "
           "ties %llu\n",
           c->name, d->len, sh.nseg, sh.nblk, aerr / fmax(amax, 1e-30), eerr, rigid, d->kv_heads,
           (unsigned long long)kept, (unsigned long long)ties);
    free(ra), free(re), free(rk), free(rr), free(ga), free(rs), free(rs_end);
    free(g.qmax), free(g.qmin), free(g.kmax), free(g.kmin), free(g.scores), free(g.entropy), free(g.keep),
        free(g.rigid), free(g.selected);
}

/* Reference mode gives every head the segment's largest entropy-mode keep. */
static void check_modes(ei_context *ctx) {
    ei_profile_desc d = {1500, 8, 2, 64};
    ei_entropy_config cfg = ei_entropy_config_default();
    cfg.segment_size = 64;
    cfg.base_budget = 64;
    ei_profile_shape sh = ei_profile_shape_of(&d, &cfg);
    uint64_t e_n = (uint64_t)d.kv_heads * sh.nseg;
    float *entropy = tu_alloc(e_n, 4);
    for (uint64_t i = 0; i < e_n; i++)
        entropy[i] = tu_uniform(0.0f, 6.0f);
    ei_buffer *b = tu_buffer(ctx, e_n * 4 * 2 + 64);
    CHECK_STATUS(ei_buffer_upload(b, 0, entropy, e_n * 4), EI_OK, ctx);
    uint32_t *keep[4];
    for (int mode = 0; mode < 4; mode++) {
        cfg.mode = (ei_prefill_mode)mode;
        keep[mode] = tu_alloc(e_n, 4);
        ei_cmd *cmd = NULL;
        CHECK_STATUS(ei_cmd_begin(ctx, &cmd), EI_OK, ctx);
        CHECK_STATUS(ei_budgets(cmd, &d, &cfg, (ei_tensor){b, 0, EI_F32}, (ei_tensor){b, e_n * 4, EI_U32},
                                (ei_tensor){b, e_n * 8, EI_U32}),
                     EI_OK, ctx);
        CHECK_STATUS(ei_cmd_run(cmd), EI_OK, ctx);
        ei_cmd_destroy(cmd);
        CHECK_STATUS(ei_buffer_download(b, e_n * 4, keep[mode], e_n * 4), EI_OK, ctx);
    }
    uint32_t nrep = cfg.segment_size / cfg.block_size, maxeff = sh.nblk - ((d.len % 64) / 8 + 1);
    int ok_ref = 1, ok_criti = 1, ok_full = 1, varies = 0;
    for (uint32_t s = 0; s < sh.nseg; s++) {
        uint32_t most = 0;
        for (uint32_t hk = 0; hk < d.kv_heads; hk++)
            most = keep[0][hk * sh.nseg + s] > most ? keep[0][hk * sh.nseg + s] : most;
        uint32_t cap = s * nrep < maxeff ? s * nrep : maxeff, criti = 64 / 8 < cap ? 64 / 8 : cap;
        for (uint32_t hk = 0; hk < d.kv_heads; hk++) {
            ok_ref &= keep[1][hk * sh.nseg + s] == most;
            ok_criti &= keep[2][hk * sh.nseg + s] == (s ? criti : 0);
            ok_full &= keep[3][hk * sh.nseg + s] == 0;
            varies |= keep[0][hk * sh.nseg + s] != keep[0][s];
        }
    }
    CHECK(ok_ref, "reference mode is not the per-segment maximum over heads");
    CHECK(ok_criti, "critiprefill keeps are not min(B0 / b, caps)");
    CHECK(ok_full, "full mode keeps blocks");
    CHECK(varies, "entropy mode gave every head the same keeps: the mode test proves nothing");
    for (int mode = 0; mode < 4; mode++)
        free(keep[mode]);
    free(entropy);
    ei_buffer_destroy(b);
}

static void check_config(ei_context *ctx) {
    char why[200];
    ei_entropy_config c = ei_entropy_config_default();
    CHECK(ei_entropy_config_check(&c, why, sizeof why) == EI_OK, "the defaults are invalid");
    c.block_size = 6;
    CHECK(ei_entropy_config_check(&c, why, sizeof why) == EI_ERROR_INVALID_ARGUMENT && strstr(why, "power of two"),
          "b = 6: %s", why);
    c = ei_entropy_config_default();
    c.segment_size = 500;
    CHECK(ei_entropy_config_check(&c, why, sizeof why) == EI_ERROR_INVALID_ARGUMENT && strstr(why, "multiple"),
          "S = 500: %s", why);
    c = ei_entropy_config_default();
    c.alpha = -1;
    CHECK(ei_entropy_config_check(&c, why, sizeof why) == EI_ERROR_INVALID_ARGUMENT && strstr(why, "alpha"),
          "alpha = -1: %s", why);
    c = ei_entropy_config_default();
    c.delta_t = NAN;
    CHECK(ei_entropy_config_check(&c, why, sizeof why) == EI_ERROR_INVALID_ARGUMENT, "delta_t = NaN accepted");
    c = ei_entropy_config_default();
    c.decode_budget = 32;
    CHECK(ei_entropy_config_check(&c, why, sizeof why) == EI_ERROR_INVALID_ARGUMENT && strstr(why, "decode_budget"),
          "Bd = W: %s", why);
    c = ei_entropy_config_default();
    c.mode = (ei_prefill_mode)9;
    CHECK(ei_entropy_config_check(&c, why, sizeof why) == EI_ERROR_INVALID_ARGUMENT, "mode 9 accepted");
    /* An op refuses a bad config and a one-segment prompt, recording nothing. */
    ei_buffer *b = tu_buffer(ctx, 4096);
    ei_tensor t = {b, 0, EI_F32};
    ei_profile_desc d = {300, 4, 2, 64};
    ei_cmd *cmd = NULL;
    CHECK_STATUS(ei_cmd_begin(ctx, &cmd), EI_OK, ctx);
    c.mode = (ei_prefill_mode)9;
    CHECK_STATUS(ei_observe(cmd, &d, &c, t, t, t, t, t, t, NULL), EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK(strstr(ei_context_error(ctx), "mode") != NULL, "%s", ei_context_error(ctx));
    c = ei_entropy_config_default();
    CHECK_STATUS(ei_observe(cmd, &d, &c, t, t, t, t, t, t, NULL), EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK(strstr(ei_context_error(ctx), "one segment") != NULL, "%s", ei_context_error(ctx));
    d.len = 2000;
    CHECK_STATUS(ei_select_blocks(cmd, &d, &c, t, t, t), EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK_STATUS(ei_budgets(cmd, &d, &c, t, t, (ei_tensor){b, 0, EI_U32}), EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK(strstr(ei_context_error(ctx), "keep must be EI_U32") != NULL, "%s", ei_context_error(ctx));
    CHECK_STATUS(ei_cmd_run(cmd), EI_OK, ctx);
    ei_cmd_destroy(cmd);
    ei_buffer_destroy(b);
}

/* Layer fusion over layers 1, 2, 3: P blends with the previous layer's from
 * layer 2 on; entropies and the blended P follow the reference. Random
 * pooled summaries stand in for each layer's. */
static void check_fusion(ei_context *ctx) {
    ei_entropy_config cfg = ei_entropy_config_default();
    cfg.segment_size = 64;
    cfg.layer_fusion = 1;
    ei_profile_desc d = {700, 8, 2, 64, EI_F32, 0};
    ei_profile_shape sh = ei_profile_shape_of(&d, &cfg);
    uint64_t qn = (uint64_t)sh.nseg * d.heads * d.dim, kn = (uint64_t)sh.nblk * d.kv_heads * d.dim;
    uint64_t an = (uint64_t)d.kv_heads * sh.nseg * sh.nblk, en = (uint64_t)d.kv_heads * sh.nseg;
    float *pooled = tu_alloc(2 * qn + 2 * kn, 4), *gs = tu_alloc(an, 4), *ge = tu_alloc(en, 4);
    double *ra = tu_alloc(an, 8), *re = tu_alloc(en, 8), *rf = tu_alloc(an, 8);
    const uint64_t off[5] = {0, qn * 4, 2 * qn * 4, (2 * qn + kn) * 4, (2 * qn + 2 * kn) * 4};
    uint64_t oa = off[4], oe = oa + an * 4, of = oe + en * 4;
    ei_buffer *b = tu_buffer(ctx, of + an * 4);
    ei_tensor fused = {b, of, EI_F32};
    for (uint32_t layer = 1; layer <= 3; layer++) {
        d.layer = layer;
        tu_random_tensor(EI_F32, 2 * qn + 2 * kn, 1.0f, pooled, pooled);
        CHECK_STATUS(ei_buffer_upload(b, 0, pooled, off[4]), EI_OK, ctx);
        ei_cmd *cmd = NULL;
        CHECK_STATUS(ei_cmd_begin(ctx, &cmd), EI_OK, ctx);
        CHECK_STATUS(ei_observe(cmd, &d, &cfg, (ei_tensor){b, off[0], EI_F32}, (ei_tensor){b, off[1], EI_F32},
                                (ei_tensor){b, off[2], EI_F32}, (ei_tensor){b, off[3], EI_F32},
                                (ei_tensor){b, oa, EI_F32}, (ei_tensor){b, oe, EI_F32}, &fused),
                     EI_OK, ctx);
        CHECK_STATUS(ei_cmd_run(cmd), EI_OK, ctx);
        ei_cmd_destroy(cmd);
        CHECK_STATUS(ei_buffer_download(b, oa, gs, an * 4), EI_OK, ctx);
        CHECK_STATUS(ei_buffer_download(b, oe, ge, en * 4), EI_OK, ctx);
        ref_observe(&d, &cfg, pooled, pooled + qn, pooled + 2 * qn, pooled + 2 * qn + kn, ra, re, rf);
        double perr = 0, eerr = 0;
        for (uint32_t hk = 0; hk < d.kv_heads; hk++)
            for (uint32_t s = 1; s < sh.nseg; s++)
                for (uint32_t j = 0; j < s * 8 && j < sh.nblk; j++) {
                    uint64_t i = ((uint64_t)hk * sh.nseg + s) * sh.nblk + j;
                    double e = fabs(gs[i] - ra[i]);
                    perr = isnan(e) ? INFINITY : fmax(perr, e);
                }
        for (uint64_t i = 0; i < en; i++) {
            double e = fabs(ge[i] - re[i]) / fmax(fabs(re[i]), 1e-4);
            eerr = isnan(e) ? INFINITY : fmax(eerr, e);
        }
        CHECK(perr <= 1e-6, "fusion layer %u: P error %.3g", layer, perr);
        CHECK(eerr <= 1e-4, "fusion layer %u: entropy relative error %.3g", layer, eerr);
        printf("fusion layer %u: P err %.1e, entropy err %.1e\n", layer, perr, eerr);
    }
    ei_cmd *cmd = NULL;
    CHECK_STATUS(ei_cmd_begin(ctx, &cmd), EI_OK, ctx);
    ei_tensor t = {b, 0, EI_F32};
    CHECK_STATUS(ei_observe(cmd, &d, &cfg, t, t, t, t, t, t, NULL), EI_ERROR_INVALID_ARGUMENT, ctx);
    CHECK(strstr(ei_context_error(ctx), "fused") != NULL, "%s", ei_context_error(ctx));
    CHECK_STATUS(ei_cmd_run(cmd), EI_OK, ctx);
    ei_cmd_destroy(cmd);
    ei_buffer_destroy(b);
    free(pooled), free(gs), free(ge), free(ra), free(re), free(rf);
}

/* The layer API end to end: its output is the sparse attention over the
 * blocks its own profile chose; unprofiled layers are dense. */
static void check_layer(ei_context *ctx, ei_entropy_config cfg, uint32_t len, uint32_t layer, int want_profiled,
                        const char *what) {
    ei_attention_desc d = {len, len, 8, 2, 64, 0, 1, 0, 0};
    uint64_t q_n = (uint64_t)d.q_len * d.heads * d.dim, kv_n = (uint64_t)d.kv_len * d.kv_heads * d.dim;
    uint16_t *sq = tu_alloc(q_n, 2), *sk = tu_alloc(kv_n, 2), *sv = tu_alloc(kv_n, 2), *so = tu_alloc(q_n, 2);
    float *fq = tu_alloc(q_n, 4), *fk = tu_alloc(kv_n, 4), *fv = tu_alloc(kv_n, 4), *ref = tu_alloc(q_n, 4),
          *got = tu_alloc(q_n, 4);
    tu_random_tensor(EI_F16, q_n, 1.0f, sq, fq);
    tu_random_tensor(EI_F16, kv_n, 1.0f, sk, fk);
    tu_random_tensor(EI_F16, kv_n, 1.0f, sv, fv);
    ei_prefill_layout l;
    CHECK_STATUS(ei_prefill_layout_of(ctx, &d, &cfg, layer, &l), EI_OK, ctx);
    CHECK(l.profiled == want_profiled, "%s: profiled %d, want %d", what, l.profiled, want_profiled);
    ei_buffer *io = tu_buffer(ctx, 2 * (q_n * 2 + kv_n * 2)), *scratch = tu_buffer(ctx, l.bytes);
    uint64_t ok = q_n * 2, ov = ok + kv_n * 2, oo = ov + kv_n * 2;
    CHECK_STATUS(ei_buffer_upload(io, 0, sq, q_n * 2), EI_OK, ctx);
    CHECK_STATUS(ei_buffer_upload(io, ok, sk, kv_n * 2), EI_OK, ctx);
    CHECK_STATUS(ei_buffer_upload(io, ov, sv, kv_n * 2), EI_OK, ctx);
    ei_cmd *cmd = NULL;
    CHECK_STATUS(ei_cmd_begin(ctx, &cmd), EI_OK, ctx);
    CHECK_STATUS(ei_prefill_layer(cmd, &d, &cfg, layer, (ei_tensor){io, 0, EI_F16}, (ei_tensor){io, ok, EI_F16},
                                  (ei_tensor){io, ov, EI_F16}, (ei_tensor){io, oo, EI_F16}, scratch),
                 EI_OK, ctx);
    CHECK_STATUS(ei_cmd_run(cmd), EI_OK, ctx);
    ei_cmd_destroy(cmd);
    CHECK_STATUS(ei_buffer_download(io, oo, so, q_n * 2), EI_OK, ctx);
    tu_to_float(EI_F16, so, q_n, got);
    uint64_t hs = (uint64_t)d.kv_heads * l.shape.nseg, sparse = 0;
    if (l.profiled) {
        uint32_t *keep = tu_alloc(hs, 4), *sel = tu_alloc(hs * l.shape.max_keep, 4);
        CHECK_STATUS(ei_buffer_download(scratch, l.keep, keep, hs * 4), EI_OK, ctx);
        CHECK_STATUS(ei_buffer_download(scratch, l.selected, sel, hs * l.shape.max_keep * 4), EI_OK, ctx);
        for (uint64_t i = 0; i < hs; i++)
            sparse += keep[i] > 0;
        ref_attention_sparse(&d, &cfg, layer, fq, fk, fv, keep, sel, ref);
        free(keep), free(sel);
    } else {
        ref_attention(&d, fq, fk, fv, NULL, ref);
    }
    double err = tu_rel_error(got, ref, q_n);
    CHECK(err <= 2e-3, "%s: relative error %.3g", what, err);
    printf("layer %-30s profiled %d, %llu (head, segment)s keep blocks, rel err %.2e\n", what, l.profiled,
           (unsigned long long)sparse, err);
    ei_buffer_destroy(io), ei_buffer_destroy(scratch);
    free(sq), free(sk), free(sv), free(so), free(fq), free(fk), free(fv), free(ref), free(got);
}

int main(void) {
    tu_seed();
    ei_context *ctx = tu_context();
    ei_entropy_config small = ei_entropy_config_default();
    /* Small segments and budgets keep the reference fast and give many
     * segments, with the same code paths as the defaults. */
    small.segment_size = 64;
    small.base_budget = 64;
    small.threshold_len = 128;
    profile_case cases[] = {
        {{1500, 8, 2, 64}, small, EI_F32, -1, "gqa 4 ragged"},
        {{1500, 8, 2, 64}, small, EI_F16, 1, "gqa 4 f16 + sink head"},
        {{1024, 4, 4, 128}, small, EI_F32, 0, "gqa 1 exact segments"},
        {{777, 16, 2, 96}, small, EI_F16, -1, "gqa 8 ragged"},
        {{65, 8, 2, 64}, small, EI_F32, -1, "two segments"},
        {{129, 8, 1, 128}, small, EI_BF16, -1, "just above threshold"},
        {{4609, 32, 8, 128}, ei_entropy_config_default(), EI_F16, 3, "defaults, 10 segments"},
        {{3000, 16, 4, 128}, small, EI_BF16, 2, "reference bf16 rounding"},
    };
    cases[7].cfg.mode = EI_PREFILL_REFERENCE;
    cases[5].cfg.mode = EI_PREFILL_REFERENCE;
    cases[3].cfg.mode = EI_PREFILL_CRITIPREFILL;
    cases[1].cfg.mode = EI_PREFILL_REFERENCE; /* f16: rounds as the paper's code */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(ctx, &cases[i]);
    profile_case r = {{65 + tu_below(2000), 0, 1 + tu_below(4), 64 * (1 + tu_below(2))}, small, EI_F16, -1, "random"};
    r.d.heads = r.d.kv_heads * (1u << tu_below(4));
    run_case(ctx, &r);
    check_modes(ctx);
    check_fusion(ctx);
    check_layer(ctx, small, 1500, 1, 1, "entropy, layer 1");
    check_layer(ctx, small, 40, 1, 0, "L < S: dense");
    check_layer(ctx, small, 191, 1, 0, "3 segments, below threshold: dense");
    small.mode = EI_PREFILL_CRITIPREFILL;
    check_layer(ctx, small, 1500, 5, 1, "critiprefill, layer 5");
    small.mode = EI_PREFILL_ENTROPY;
    check_layer(ctx, small, 1500, 0, 0, "layer 0 < layer_skip: dense");
    small.mode = EI_PREFILL_FULL;
    check_layer(ctx, small, 1500, 3, 0, "full: dense");
    check_config(ctx);
    return tu_finish(ctx);
}
