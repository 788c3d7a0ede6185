/* vkinfer: text generation with a GGUF model on any Vulkan GPU. */
#ifndef VKINFER_H
#define VKINFER_H

#include <stdint.h>

#include "tool.h"

typedef struct vk_args {
    const char *model;       /* -m; NULL: $EI_MODEL, then the default model's cache path */
    const char *prompt;      /* -p */
    const char *prompt_file; /* -f */
    const char *ids;         /* --ids: comma-separated prompt token ids (no tokenizer, no BOS) */
    int n_predict;           /* -n; -1: until end of generation or a full context */
    uint32_t n_ctx, n_batch; /* -c, -b; 0: the library's default */
    ei_sampler_params sampling;
    int seed_given;
    int chat;                 /* --chat: the family's template for one user turn */
    int ignore_eos;           /* --ignore-eos: generate n tokens even past an end-of-generation token */
    const char *attn;         /* --attn */
    const char *kv;           /* --kv */
    ei_dtype cache_type;      /* --cache-type */
    ei_entropy_config method; /* the method's constants (--segment, --block, ...) */
    const char *device;       /* --device: index or name substring */
    int validation;           /* --validation */
    int json;                 /* --json: one JSON object on stdout instead of streamed text */
    const char *dump_logits;  /* --dump-logits FILE: f32 logits [n generated][n_vocab] */
    const char *stats;        /* --stats FILE: the prompt's prefill profile as JSON (vk_stats_json) */
} vk_args;

/* Parses argv; returns 0 to run, 1 after --help (printed), -1 after an
 * error (printed as one line). */
int vk_parse_args(int argc, char **argv, vk_args *out);

/* Wraps `prompt` in the family's chat template for a single user turn;
 * malloc'd, NULL when out of memory. */
char *vk_chat_prompt(const ei_model_config *c, const char *prompt, int llama3);

#endif
