/* A task's runs: prompts made once per (sample, length), then through each
 * configuration's session (the whole prompt in one call, as the methods
 * need; past n_batch tokens the library runs it layer by layer), greedy
 * decoding until the answer is settled. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"

size_t ee_run_index(const ee_args *a, uint32_t sample, uint32_t length, uint32_t config, uint32_t depth) {
    return (((size_t)sample * a->n_lengths + length) * a->n_configs + config) * a->n_depths + depth;
}

/* Greedy tokens after the prompt's logits until exact match can judge the
 * text or `gen` tokens; r gets the output and the verdict. */
static ei_status answer(ee_eval *e, ei_session *s, ei_sampler *greedy, float *logits, ee_run *r) {
    size_t len = 0;
    ee_verdict v = EE_PENDING;
    ei_status st = EI_OK;
    while (st == EI_OK && v == EE_PENDING && r->generated < e->args->gen) {
        uint32_t id = ei_sampler_sample(greedy, logits);
        if (ei_token_is_eog(e->tok, id)) break;
        r->generated++;
        char piece[64];
        size_t n = 0;
        if (ei_token_to_piece(e->tok, id, piece, sizeof piece, &n) != EI_OK || len + n >= sizeof r->output) break;
        memcpy(r->output + len, piece, n);
        r->output[len += n] = '\0';
        v = ee_judge(r->output, r->answer, 0);
        if (v == EE_PENDING && r->generated < e->args->gen) st = ei_session_forward(s, &id, 1, logits);
    }
    r->correct = (v == EE_PENDING ? ee_judge(r->output, r->answer, 1) : v) == EE_MATCH;
    return st;
}

static ei_status run_prompt(ee_eval *e, ei_session *s, ei_sampler *greedy, float *logits, const ee_prompt *p,
                            ee_run *r) {
    *r = (ee_run){.prompt_tokens = (uint32_t)p->n_ids};
    snprintf(r->answer, sizeof r->answer, "%s", p->answer);
    double t0 = vk_now_ms();
    ei_status st = ei_session_reset(s);
    if (st == EI_OK) st = ei_session_forward(s, p->ids, (uint32_t)p->n_ids, logits);
    r->prefill_ms = vk_now_ms() - t0;
    r->prefill_gpu_ms = ei_session_gpu_ms(s);
    if (st == EI_OK) st = answer(e, s, greedy, logits, r);
    r->done = st == EI_OK;
    return st;
}

/* The session of one configuration for prompts of up to `tokens`. */
static ei_status open_session(ee_eval *e, ee_config c, uint32_t tokens, ei_session **out) {
    ei_entropy_config method = e->args->method;
    method.mode = c.attn;
    ei_session_desc d = {.n_ctx = tokens + e->args->gen, .kv = c.kv, .kv_dtype = EI_F16};
    if (c.attn != EI_PREFILL_FULL || c.kv != EI_KV_FULL) d.method = &method;
    return ei_session_create(e->model, &d, out);
}

static int fail(const char *what, const char *detail) {
    fprintf(stderr, "ei-eval: error: %s%s\n", what, detail);
    return 1;
}

/* Every configuration on the prompts of one (sample, length). */
static int run_length(ee_eval *e, ei_sampler *greedy, float *logits, uint32_t sample, uint32_t li) {
    const ee_args *a = e->args;
    ee_prompt prompts[EE_MAX_LIST];
    char error[256];
    uint64_t seed = a->seed + 7919ull * sample + 104729ull * a->lengths[li];
    if (ee_task_prompts(a->task, e->tok, a->lengths[li], seed, a->depths, a->n_depths, prompts, error, sizeof error))
        return fail(error, "");
    int rc = 0;
    for (uint32_t ci = 0; rc == 0 && ci < a->n_configs; ci++) {
        ei_session *s = NULL;
        if (open_session(e, a->configs[ci], a->lengths[li], &s) != EI_OK) rc = fail(ei_context_error(e->ctx), "");
        for (uint32_t di = 0; rc == 0 && di < a->n_depths; di++) {
            ee_run *r = &e->runs[ee_run_index(a, sample, li, ci, di)];
            if (run_prompt(e, s, greedy, logits, &prompts[di], r) != EI_OK) rc = fail(ei_context_error(e->ctx), "");
        }
        ei_session_destroy(s);
    }
    for (uint32_t di = 0; di < a->n_depths; di++)
        ee_prompt_free(&prompts[di]);
    return rc;
}

int ee_evaluate(ee_eval *e) {
    const ee_args *a = e->args;
    const ei_model_config *c = ei_model_config_of(e->model);
    for (uint32_t li = 0; li < a->n_lengths; li++)
        if ((uint64_t)a->lengths[li] + a->gen > c->n_ctx_train) {
            char msg[160];
            snprintf(msg, sizeof msg, "--len %u and --gen %u exceed the model's context of %u tokens", a->lengths[li],
                     a->gen, c->n_ctx_train);
            return fail(msg, "");
        }
    ei_sampler_params sp = ei_sampler_params_default();
    sp.temperature = 0;
    ei_sampler *greedy = NULL;
    char error[256];
    if (ei_sampler_create(&sp, c->n_vocab, &greedy, error, sizeof error) != EI_OK) return fail(error, "");
    float *logits = malloc((size_t)c->n_vocab * sizeof *logits);
    e->runs = calloc(ee_run_index(a, a->samples, 0, 0, 0), sizeof *e->runs);
    int rc = logits && e->runs ? 0 : fail("out of host memory", "");
    e->complete = 1;
    double t0 = vk_now_ms();
    /* Samples outermost: under a time limit every cell gets its first
     * sample; every configuration runs the prompts of a (sample, length). */
    for (uint32_t sample = 0; rc == 0 && e->complete && sample < a->samples; sample++)
        for (uint32_t li = 0; rc == 0 && e->complete && li < a->n_lengths; li++) {
            if (a->time_limit > 0 && vk_now_ms() - t0 > a->time_limit * 1e3)
                e->complete = 0;
            else
                rc = run_length(e, greedy, logits, sample, li);
        }
    free(logits);
    ei_sampler_destroy(greedy);
    return rc;
}
