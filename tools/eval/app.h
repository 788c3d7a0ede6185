/* ei-eval's command: its arguments, the runs of a task across the method
 * configurations, and their report. */
#ifndef EE_APP_H
#define EE_APP_H

#include "eval.h"
#include "tool.h"

#define EE_MAX_LIST 16

/* One method configuration: the prompt's attention and the KV cache. */
typedef struct ee_config {
    ei_prefill_mode attn;
    ei_kv_method kv;
} ee_config;

const char *ee_attn_name(ei_prefill_mode m);
const char *ee_kv_name(ei_kv_method k);

typedef struct ee_args {
    int heatmap; /* the heatmap command; else a task */
    ee_task task;
    const char *model, *device;
    int validation;
    uint32_t lengths[EE_MAX_LIST], n_lengths; /* prompt tokens */
    uint32_t depths[EE_MAX_LIST], n_depths;   /* percent */
    ee_config configs[EE_MAX_LIST];
    uint32_t n_configs;
    uint32_t samples, gen; /* prompts per (length, depth); most tokens generated */
    uint64_t seed;
    double time_limit; /* seconds after which no (sample, length) starts; 0: none */
    const char *json;
    ei_entropy_config method; /* the constants; each config sets the mode */
    /* heatmap: from a stats file, or a prompt run with heat_attn */
    const char *stats, *prompt_file, *out_dir;
    ei_prefill_mode heat_attn;
} ee_args;

/* Parses argv; 0 to run, 1 after --help, -1 after an error (printed). */
int ee_parse_args(int argc, char **argv, ee_args *a);

/* One prompt through one configuration. */
typedef struct ee_run {
    int done, correct;
    uint32_t prompt_tokens, generated;
    char answer[16], output[48];
    double prefill_ms, prefill_gpu_ms; /* wall; GPU (-1 without timestamps) */
} ee_run;

/* A task's evaluation: the loaded model and every run, indexed by
 * ee_run_index. */
typedef struct ee_eval {
    const ee_args *args;
    ei_context *ctx;
    ei_model *model;
    ei_tokenizer *tok;
    ee_run *runs;
    int complete; /* every run done (no time limit reached) */
} ee_eval;

size_t ee_run_index(const ee_args *a, uint32_t sample, uint32_t length, uint32_t config, uint32_t depth);

/* Runs every (sample, length, config, depth) in that order, a session per
 * (sample, length, config) reset between depths, until done or the time
 * limit (checked before each (sample, length)); 0, or 1 after printing an
 * error. */
int ee_evaluate(ee_eval *e);

/* report.c: accuracy tables on stdout, and everything as JSON. */
void ee_print_tables(const ee_eval *e);
int ee_write_json(const ee_eval *e, const char *path);

#endif
