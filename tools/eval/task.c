/* The three tasks' prompts: an instruction, a haystack of units (noise
 * sentences, key-value pairs, shuffled filler sentences) with the needle
 * after depth% of them, and a question the model completes. Plain
 * completion prompts, no chat template: a small base or instruct model
 * continues "... The pass key is" with the number, which exact match then
 * scores. The number of units is searched for with the tokenizer so that
 * the prompt has at most the tokens asked for, within one unit. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"

/* Mohtashami & Jaggi's pass-key noise (Landmark Attention, 2023). */
static const char *const noise[] = {"The grass is green.", "The sky is blue.", "The sun is yellow.", "Here we go.",
                                    "There and back again."};
static const char *const adjectives[] = {"quiet",  "amber", "brave", "calm",   "dusty", "eager", "faint", "gentle",
                                         "hollow", "icy",   "jolly", "lively", "misty", "noble", "proud", "rusty"};
static const char *const nouns[] = {"harbor", "falcon", "meadow",  "lantern", "canyon",  "violin", "orchard", "glacier",
                                    "beacon", "willow", "compass", "pebble",  "thistle", "comet",  "anchor",  "ember"};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* What one task's prompt is made of, for one seed. */
typedef struct parts {
    const char *intro, *joiner, *outro;
    char needle[96], question[192], answer[16];
} parts;

/* The haystack's units, generated in order from the seed (a prefix of one
 * endless stream), kept in one buffer. */
typedef struct hay {
    ee_task task;
    ee_rng rng;
    uint32_t order[EE_FILLER_MAX]; /* the needle task: this pass's shuffle of the filler list */
    char key[16];                  /* the kv task: the needle's key, never repeated */
    char *text;
    size_t *at; /* unit i starts at text + at[i] */
    uint32_t n, cap;
    size_t len, text_cap;
} hay;

const char *ee_task_name(ee_task t) {
    static const char *const names[] = {"passkey", "kv", "needle"};
    return t < EE_TASK_COUNT ? names[t] : "?";
}

static void parts_of(ee_task task, ee_rng *r, parts *p, char *key) {
    if (task == EE_PASSKEY) {
        snprintf(p->answer, sizeof p->answer, "%u", 10000 + ee_below(r, 90000));
        p->intro = "There is an important piece of information hidden inside a lot of irrelevant text. Find it and "
                   "memorize it. I will quiz you about it afterwards.\n\n";
        p->joiner = " ", p->outro = "\n\n";
        snprintf(p->needle, sizeof p->needle, "The pass key is %s. Remember it. %s is the pass key.", p->answer,
                 p->answer);
        snprintf(p->question, sizeof p->question, "What is the pass key? The pass key is");
    } else if (task == EE_KV) {
        snprintf(key, 16, "%08" PRIx32, (uint32_t)ee_next(r));
        snprintf(p->answer, sizeof p->answer, "%08" PRIx32, (uint32_t)ee_next(r));
        p->intro = "Extract the value corresponding to the specified key in the JSON object below.\n\nJSON data:\n{";
        p->joiner = ", ", p->outro = "}\n\n";
        snprintf(p->needle, sizeof p->needle, "\"%s\": \"%s\"", key, p->answer);
        snprintf(p->question, sizeof p->question, "Key: \"%s\"\nThe value associated with the specified key is: \"",
                 key);
    } else {
        char name[24];
        const char *adj = adjectives[ee_below(r, COUNT(adjectives))], *noun = nouns[ee_below(r, COUNT(nouns))];
        snprintf(name, sizeof name, "%s-%s", adj, noun);
        snprintf(p->answer, sizeof p->answer, "%u", 1000000 + ee_below(r, 9000000));
        p->intro = "A special magic number is hidden within the following text. Make sure to memorize it. I will "
                   "quiz you about the number afterwards.\n\n";
        p->joiner = " ", p->outro = "\n\n";
        snprintf(p->needle, sizeof p->needle, "The special magic number for %s is: %s.", name, p->answer);
        snprintf(p->question, sizeof p->question,
                 "What is the special magic number for %s? The special magic number for %s is", name, name);
    }
}

/* Appends the next unit of the stream; -1 when out of memory. */
static int grow(hay *h) {
    char unit[128];
    if (h->task == EE_PASSKEY) {
        snprintf(unit, sizeof unit, "%s", noise[h->n % COUNT(noise)]);
    } else if (h->task == EE_KV) {
        char k[16];
        do
            snprintf(k, sizeof k, "%08" PRIx32, (uint32_t)ee_next(&h->rng));
        while (!strcmp(k, h->key));
        snprintf(unit, sizeof unit, "\"%s\": \"%08" PRIx32 "\"", k, (uint32_t)ee_next(&h->rng));
    } else {
        uint32_t m = ee_filler_count(), i = h->n % m;
        if (i == 0) /* a new pass through the list: Fisher-Yates */
            for (uint32_t j = 0; j < m; j++) {
                uint32_t k = ee_below(&h->rng, j + 1);
                h->order[j] = h->order[k], h->order[k] = j;
            }
        snprintf(unit, sizeof unit, "%s", ee_filler(h->order[i]));
    }
    size_t n = strlen(unit);
    if (h->n == h->cap) {
        size_t *at = realloc(h->at, (h->cap = h->cap * 2 + 64) * sizeof *at);
        if (!at) return -1;
        h->at = at;
    }
    if (h->len + n + 1 > h->text_cap) {
        char *text = realloc(h->text, h->text_cap = (h->len + n + 1) * 2);
        if (!text) return -1;
        h->text = text;
    }
    h->at[h->n++] = h->len;
    memcpy(h->text + h->len, unit, n + 1);
    h->len += n + 1;
    return 0;
}

/* The prompt with the first k units and the needle after `at` of them. */
static char *build(const parts *p, const hay *h, uint32_t k, uint32_t at, size_t *haystack) {
    size_t n = strlen(p->intro) + strlen(p->needle) + strlen(p->outro) + strlen(p->question) + 1;
    for (uint32_t i = 0; i < k; i++)
        n += strlen(h->text + h->at[i]) + strlen(p->joiner);
    char *text = malloc(n), *w = text;
    if (!text) return NULL;
    w += sprintf(w, "%s", p->intro);
    *haystack = (size_t)(w - text);
    for (uint32_t i = 0; i <= k; i++) {
        if (i == at) w += sprintf(w, "%s%s", i ? p->joiner : "", p->needle);
        if (i < k) w += sprintf(w, "%s%s", i || at == 0 ? p->joiner : "", h->text + h->at[i]);
    }
    sprintf(w, "%s%s", p->outro, p->question);
    return text;
}

/* Tokens of text (BOS first where the vocabulary asks); into ids when given. */
static int tokens_of(const ei_tokenizer *tok, const char *text, uint32_t **ids, size_t *n) {
    size_t len = strlen(text);
    ei_status st = ei_tokenize(tok, text, len, EI_TOKENIZE_ADD_BOS, NULL, 0, n);
    if (st != EI_OK && st != EI_ERROR_LIMIT_EXCEEDED) return -1;
    if (!ids) return 0;
    *ids = malloc((*n ? *n : 1) * sizeof **ids);
    return *ids && ei_tokenize(tok, text, len, EI_TOKENIZE_ADD_BOS, *ids, *n, n) == EI_OK ? 0 : -1;
}

/* The most units whose prompt (the needle first) fits `tokens`: a secant
 * search on the measured length until k fits and k + 1 does not. -1 when
 * not even k = 0 fits; -2 on a failure. */
static int64_t fit(const ei_tokenizer *tok, const parts *p, hay *h, uint32_t tokens) {
    int64_t lo = -1, hi = INT64_MAX, k = 0;
    size_t base = 0;
    for (int step = 0; step < 64 && hi > lo + 1; step++) {
        while (h->n < (uint64_t)k)
            if (grow(h)) return -2;
        size_t skip, n;
        char *text = build(p, h, (uint32_t)k, 0, &skip);
        int failed = !text || tokens_of(tok, text, NULL, &n);
        free(text);
        if (failed) return -2;
        if (k == 0) base = n;
        if (n <= tokens)
            lo = k;
        else
            hi = k;
        /* Step by the tokens a unit has taken so far (16 before any). */
        double per = k > 0 && n > base ? (double)(n - base) / (double)k : 16;
        int64_t next = k + (int64_t)(((double)tokens - (double)n) / per);
        k = next <= lo ? lo + 1 : next >= hi ? hi - 1 : next;
    }
    return lo;
}

/* The prompt with k units and the needle at depth_pct (fewer units where
 * the needle's place makes it longer than `tokens`). */
static int place(const ei_tokenizer *tok, const parts *p, const hay *h, int64_t k, uint32_t tokens, uint32_t depth_pct,
                 ee_prompt *out) {
    for (; k >= 0; k--) {
        uint32_t at = (uint32_t)(((uint64_t)depth_pct * (uint64_t)k + 50) / 100);
        *out = (ee_prompt){.units = (uint32_t)k, .needle_at = at};
        snprintf(out->answer, sizeof out->answer, "%s", p->answer);
        out->text = build(p, h, (uint32_t)k, at, &out->haystack);
        if (!out->text || tokens_of(tok, out->text, &out->ids, &out->n_ids)) {
            ee_prompt_free(out);
            return -1;
        }
        if (out->n_ids <= tokens) return 0;
        ee_prompt_free(out);
    }
    return -1;
}

int ee_task_prompts(ee_task task, const ei_tokenizer *tok, uint32_t tokens, uint64_t seed, const uint32_t *depths,
                    uint32_t n_depths, ee_prompt *out, char *error, size_t error_size) {
    parts p;
    hay h = {.task = task, .rng = {seed ^ 0x6a09e667f3bcc908ull}};
    ee_rng r = {seed * 3 + task};
    parts_of(task, &r, &p, h.key);
    int64_t k = fit(tok, &p, &h, tokens);
    int rc = k >= 0 ? 0 : -1;
    if (k == -1)
        snprintf(error, error_size, "%s: %u tokens do not hold the task's instruction and question", ee_task_name(task),
                 tokens);
    for (uint32_t i = 0; rc == 0 && i < n_depths; i++)
        if ((rc = place(tok, &p, &h, k, tokens, depths[i], &out[i])) != 0) {
            while (i > 0)
                ee_prompt_free(&out[--i]);
        }
    if (rc && k != -1) snprintf(error, error_size, "%s: out of memory or the tokenizer failed", ee_task_name(task));
    free(h.text);
    free(h.at);
    return rc;
}

void ee_prompt_free(ee_prompt *p) {
    free(p->text);
    free(p->ids);
    *p = (ee_prompt){0};
}
