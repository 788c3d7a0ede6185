/* Token sampling from logits: penalties, truncations, temperature, draw. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entropyinfer_model.h"

typedef struct candidate {
    uint32_t id;
    float logit;
} candidate;

struct ei_sampler {
    ei_sampler_params p;
    uint32_t n_vocab;
    uint64_t rng;      /* splitmix64 state */
    uint32_t *recent;  /* ring of the last repeat_last_n tokens */
    uint32_t n_recent; /* how many of them are filled */
    uint64_t accepted; /* tokens ever accepted */
    candidate *cand;   /* [n_vocab] */
    float *penalized;  /* [n_vocab] */
};

ei_sampler_params ei_sampler_params_default(void) {
    return (ei_sampler_params){
        .temperature = 0.8f, .top_k = 40, .top_p = 0.95f, .min_p = 0.05f, .repeat_penalty = 1.0f, .repeat_last_n = 64};
}

ei_status ei_sampler_create(const ei_sampler_params *params, uint32_t n_vocab, ei_sampler **out, char *error,
                            size_t error_size) {
    char scratch[8];
    if (!error || !error_size) error = scratch, error_size = sizeof scratch;
    error[0] = '\0';
    if (!params || !out || !n_vocab) {
        snprintf(error, error_size, "sampler: NULL argument or an empty vocabulary");
        return EI_ERROR_INVALID_ARGUMENT;
    }
    *out = NULL;
    const ei_sampler_params *p = params;
    if (!isfinite(p->temperature) || p->temperature < 0 || !(p->top_p >= 0 && p->top_p <= 1) ||
        !(p->min_p >= 0 && p->min_p <= 1) || !isfinite(p->repeat_penalty) || p->repeat_penalty <= 0) {
        snprintf(error, error_size,
                 "sampler: temperature >= 0, top_p and min_p in [0, 1], repeat_penalty > 0 (finite values)");
        return EI_ERROR_INVALID_ARGUMENT;
    }
    ei_sampler *s = calloc(1, sizeof *s);
    if (s) {
        s->cand = malloc((size_t)n_vocab * sizeof *s->cand);
        s->penalized = malloc((size_t)n_vocab * sizeof *s->penalized);
        s->recent = malloc((p->repeat_last_n ? p->repeat_last_n : 1) * sizeof *s->recent);
    }
    if (!s || !s->cand || !s->penalized || !s->recent) {
        ei_sampler_destroy(s);
        snprintf(error, error_size, "sampler: out of host memory");
        return EI_ERROR_OUT_OF_HOST_MEMORY;
    }
    s->p = *p;
    s->n_vocab = n_vocab;
    s->rng = p->seed;
    *out = s;
    return EI_OK;
}

void ei_sampler_destroy(ei_sampler *s) {
    if (!s) return;
    free(s->cand), free(s->penalized), free(s->recent);
    free(s);
}

void ei_sampler_accept(ei_sampler *s, uint32_t id) {
    if (!s || !s->p.repeat_last_n) return;
    s->recent[s->accepted % s->p.repeat_last_n] = id;
    s->accepted++;
    if (s->n_recent < s->p.repeat_last_n) s->n_recent++;
}

/* A uniform double in [0, 1) from splitmix64. */
static double uniform(ei_sampler *s) {
    uint64_t z = (s->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

/* Larger logit first; ties: the lower id (a total order, so the result does
 * not depend on qsort's algorithm). */
static int by_logit(const void *a, const void *b) {
    const candidate *x = a, *y = b;
    if (x->logit != y->logit) return x->logit > y->logit ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* logit - top, 0 where they are equal: an infinite top logit (or all of
 * them -inf) then shares the probability among its ties rather than making
 * every probability NaN. */
static double gap(float logit, double top) { return logit == top ? 0.0 : logit - top; }

uint32_t ei_sampler_sample(ei_sampler *s, const float *logits) {
    if (!s || !logits) return 0;
    const ei_sampler_params *p = &s->p;
    float *l = s->penalized;
    memcpy(l, logits, (size_t)s->n_vocab * sizeof *l);
    for (uint32_t i = 0; p->repeat_penalty != 1.0f && i < s->n_recent; i++) {
        uint32_t id = s->recent[i];
        if (id >= s->n_vocab) continue;
        /* Each distinct token once: skip an id seen earlier in the ring. */
        int seen = 0;
        for (uint32_t j = 0; j < i && !seen; j++)
            seen = s->recent[j] == id;
        if (!seen) l[id] = l[id] > 0 ? l[id] / p->repeat_penalty : l[id] * p->repeat_penalty;
    }
    if (p->temperature <= 0) {
        uint32_t best = 0;
        for (uint32_t i = 1; i < s->n_vocab; i++) /* NaN never wins, as in the draw */
            if (l[i] > l[best] || (isnan(l[best]) && !isnan(l[i]))) best = i;
        return best;
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->n_vocab; i++)
        if (!isnan(l[i])) s->cand[n++] = (candidate){i, l[i]};
    if (n == 0) return 0;
    qsort(s->cand, n, sizeof *s->cand, by_logit);
    if (p->top_k && p->top_k < n) n = p->top_k;
    /* Probabilities at temperature 1 for top-p and min-p (llama.cpp applies
     * the temperature last), then the tempered ones for the draw. */
    double sum = 0, top = s->cand[0].logit;
    for (uint32_t i = 0; i < n; i++)
        sum += exp(gap(s->cand[i].logit, top));
    double cum = 0;
    uint32_t keep = n;
    for (uint32_t i = 0; i < n; i++) {
        double prob = exp(gap(s->cand[i].logit, top)) / sum;
        if (i > 0 && prob < p->min_p / sum) { /* min-p: below min_p times the top's probability, 1 / sum */
            keep = i;
            break;
        }
        cum += prob;
        if (cum >= p->top_p) {
            keep = i + 1;
            break;
        }
    }
    n = keep;
    double total = 0;
    for (uint32_t i = 0; i < n; i++)
        total += exp(gap(s->cand[i].logit, top) / p->temperature);
    double r = uniform(s) * total;
    for (uint32_t i = 0; i < n; i++) {
        r -= exp(gap(s->cand[i].logit, top) / p->temperature);
        if (r < 0) return s->cand[i].id;
    }
    return s->cand[n - 1].id;
}
