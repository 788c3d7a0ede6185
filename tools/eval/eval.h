/* ei-eval: synthetic long-context retrieval tasks, generated
 * deterministically and scored by exact match, across the methods. */
#ifndef EE_EVAL_H
#define EE_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "entropyinfer_tokenizer.h"

/* ---- filler.c: the haystacks' raw material ----------------------------- */

/* splitmix64: the same numbers from the same seed on every machine. */
typedef struct ee_rng {
    uint64_t state;
} ee_rng;
uint64_t ee_next(ee_rng *r);
/* A number in [0, n). */
uint32_t ee_below(ee_rng *r, uint32_t n);

/* Filler sentence i of the list (each one sentence with one period, no
 * digits or quotes), and how many there are (at most EE_FILLER_MAX). */
#define EE_FILLER_MAX 64
const char *ee_filler(uint32_t i);
uint32_t ee_filler_count(void);

/* ---- task.c: prompts -------------------------------------------------- */

typedef enum ee_task {
    EE_PASSKEY = 0, /* a pass key among repeated noise sentences */
    EE_KV = 1,      /* a key's value among JSON-like key-value pairs */
    EE_NEEDLE = 2,  /* a magic number among shuffled filler sentences */
    EE_TASK_COUNT
} ee_task;

const char *ee_task_name(ee_task t);

typedef struct ee_prompt {
    char *text;    /* malloc'd */
    uint32_t *ids; /* the text tokenized, BOS first where the vocabulary has one; malloc'd */
    size_t n_ids;  /* at most the tokens asked for */
    char answer[16];
    uint32_t units;     /* haystack units besides the needle: sentences or key-value pairs */
    uint32_t needle_at; /* units before the needle: round(depth * units / 100) */
    size_t haystack;    /* byte where the haystack's first unit starts */
} ee_prompt;

/* The prompts of `task` for `seed`, one per depth (percent of the
 * haystack before the needle), into out[n_depths]: at most `tokens` tokens
 * each, and within one unit of that. The same arguments give the same
 * bytes; every depth has the same answer and haystack (a prefix of one
 * stream of units the seed gives). 0, or -1 with the reason in error (the
 * task's fixed text does not fit, the tokenizer failed, out of memory)
 * and nothing to free. */
int ee_task_prompts(ee_task task, const ei_tokenizer *tok, uint32_t tokens, uint64_t seed, const uint32_t *depths,
                    uint32_t n_depths, ee_prompt *out, char *error, size_t error_size);
void ee_prompt_free(ee_prompt *p);

/* ---- score.c: exact match --------------------------------------------- */

typedef enum ee_verdict { EE_PENDING = 0, EE_MATCH = 1, EE_MISS = 2 } ee_verdict;

/* Generated text against the answer: spaces, quotes and colons in front
 * are skipped, then the answer must follow whole, and after it anything
 * but a letter or a digit ("48213." matches 48213; "482130" does not).
 * EE_PENDING while the text can still go either way; with `final` (no more
 * text comes) that is a match only when the text ends with the answer. */
ee_verdict ee_judge(const char *text, const char *answer, int final);

#endif
