/* A task's results: accuracy tables on stdout (by length, by depth, and
 * the prefill's wall time), and every run as JSON. */
#include <stdio.h>

#include "app.h"

/* Correct and done runs of config ci, at length li and depth di, or over
 * all of one of them (UINT32_MAX). */
typedef struct tally {
    uint32_t correct, runs;
    double prefill_ms;
} tally;

static tally count(const ee_eval *e, uint32_t ci, uint32_t li, uint32_t di) {
    const ee_args *a = e->args;
    tally t = {0};
    for (uint32_t s = 0; s < a->samples; s++)
        for (uint32_t l = 0; l < a->n_lengths; l++)
            for (uint32_t d = 0; d < a->n_depths; d++) {
                const ee_run *r = &e->runs[ee_run_index(a, s, l, ci, d)];
                if (!r->done || (li != UINT32_MAX && l != li) || (di != UINT32_MAX && d != di)) continue;
                t.correct += r->correct != 0, t.runs++, t.prefill_ms += r->prefill_ms;
            }
    return t;
}

static void config_name(const ee_args *a, uint32_t ci, char *buf, size_t size) {
    snprintf(buf, size, "%s/%s", ee_attn_name(a->configs[ci].attn), ee_kv_name(a->configs[ci].kv));
}

/* One table: a row per config, a column per length (by_length) or depth. */
static void table(const ee_eval *e, int by_length, int times) {
    const ee_args *a = e->args;
    uint32_t columns = by_length ? a->n_lengths : a->n_depths;
    printf("%-20s", "attn/kv");
    for (uint32_t i = 0; i < columns; i++) {
        char head[16];
        snprintf(head, sizeof head, by_length ? "%u" : "%u%%", by_length ? a->lengths[i] : a->depths[i]);
        printf(" %9s", head);
    }
    printf("\n");
    for (uint32_t ci = 0; ci < a->n_configs; ci++) {
        char name[32];
        config_name(a, ci, name, sizeof name);
        printf("%-20s", name);
        for (uint32_t i = 0; i < columns; i++) {
            tally t = count(e, ci, by_length ? i : UINT32_MAX, by_length ? UINT32_MAX : i);
            char cell[24];
            if (times)
                snprintf(cell, sizeof cell, "%.0f", t.runs ? t.prefill_ms / t.runs : 0);
            else
                snprintf(cell, sizeof cell, "%u/%u", t.correct, t.runs);
            printf(" %9s", t.runs ? cell : "-");
        }
        printf("\n");
    }
}

void ee_print_tables(const ee_eval *e) {
    const ee_args *a = e->args;
    const char *task = ee_task_name(a->task);
    printf("%s: correct/runs by prompt length (tokens), over depths and samples%s\n", task,
           e->complete ? "" : " (time limit: not every run done)");
    table(e, 1, 0);
    printf("\n%s: correct/runs by needle depth, over lengths and samples\n", task);
    table(e, 0, 0);
    printf("\n%s: mean prefill wall ms by prompt length\n", task);
    table(e, 1, 1);
}

static cJSON *numbers(const uint32_t *v, uint32_t n) {
    cJSON *array = cJSON_CreateArray();
    for (uint32_t i = 0; i < n; i++)
        cJSON_AddItemToArray(array, cJSON_CreateNumber(v[i]));
    return array;
}

/* The generated text with each byte outside printable ASCII as '?' (a
 * token may end inside a UTF-8 sequence; JSON wants whole ones). */
static cJSON *printable(const char *text) {
    char out[sizeof((ee_run *)0)->output];
    size_t i = 0;
    for (; text[i] && i + 1 < sizeof out; i++)
        out[i] = text[i] >= 0x20 && text[i] < 0x7f ? text[i] : '?';
    out[i] = '\0';
    return cJSON_CreateString(out);
}

static cJSON *runs_json(const ee_eval *e) {
    const ee_args *a = e->args;
    cJSON *runs = cJSON_CreateArray();
    for (uint32_t s = 0; s < a->samples; s++)
        for (uint32_t l = 0; l < a->n_lengths; l++)
            for (uint32_t c = 0; c < a->n_configs; c++)
                for (uint32_t d = 0; d < a->n_depths; d++) {
                    const ee_run *r = &e->runs[ee_run_index(a, s, l, c, d)];
                    if (!r->done) continue;
                    cJSON *o = cJSON_CreateObject();
                    cJSON_AddStringToObject(o, "attn", ee_attn_name(a->configs[c].attn));
                    cJSON_AddStringToObject(o, "kv", ee_kv_name(a->configs[c].kv));
                    cJSON_AddNumberToObject(o, "length", a->lengths[l]);
                    cJSON_AddNumberToObject(o, "depth", a->depths[d]);
                    cJSON_AddNumberToObject(o, "sample", s);
                    cJSON_AddNumberToObject(o, "prompt_tokens", r->prompt_tokens);
                    cJSON_AddStringToObject(o, "answer", r->answer);
                    cJSON_AddItemToObject(o, "output", printable(r->output));
                    cJSON_AddBoolToObject(o, "correct", r->correct);
                    cJSON_AddNumberToObject(o, "generated", r->generated);
                    cJSON_AddNumberToObject(o, "prefill_ms", r->prefill_ms);
                    cJSON_AddNumberToObject(o, "prefill_gpu_ms", r->prefill_gpu_ms);
                    cJSON_AddItemToArray(runs, o);
                }
    return runs;
}

/* Per (config, length, depth): correct and runs over the samples. */
static cJSON *accuracy_json(const ee_eval *e) {
    const ee_args *a = e->args;
    cJSON *cells = cJSON_CreateArray();
    for (uint32_t c = 0; c < a->n_configs; c++)
        for (uint32_t l = 0; l < a->n_lengths; l++)
            for (uint32_t d = 0; d < a->n_depths; d++) {
                tally t = count(e, c, l, d);
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "attn", ee_attn_name(a->configs[c].attn));
                cJSON_AddStringToObject(o, "kv", ee_kv_name(a->configs[c].kv));
                cJSON_AddNumberToObject(o, "length", a->lengths[l]);
                cJSON_AddNumberToObject(o, "depth", a->depths[d]);
                cJSON_AddNumberToObject(o, "correct", t.correct);
                cJSON_AddNumberToObject(o, "runs", t.runs);
                cJSON_AddItemToArray(cells, o);
            }
    return cells;
}

int ee_write_json(const ee_eval *e, const char *path) {
    const ee_args *a = e->args;
    cJSON *o = cJSON_CreateObject(), *configs = cJSON_CreateArray();
    cJSON_AddStringToObject(o, "task", ee_task_name(a->task));
    cJSON_AddStringToObject(o, "device", ei_context_facts(e->ctx)->name);
    cJSON_AddNumberToObject(o, "seed", (double)a->seed);
    cJSON_AddNumberToObject(o, "samples", a->samples);
    cJSON_AddNumberToObject(o, "gen", a->gen);
    cJSON_AddItemToObject(o, "lengths", numbers(a->lengths, a->n_lengths));
    cJSON_AddItemToObject(o, "depths", numbers(a->depths, a->n_depths));
    for (uint32_t c = 0; c < a->n_configs; c++) {
        cJSON *pair = cJSON_CreateObject();
        cJSON_AddStringToObject(pair, "attn", ee_attn_name(a->configs[c].attn));
        cJSON_AddStringToObject(pair, "kv", ee_kv_name(a->configs[c].kv));
        cJSON_AddItemToArray(configs, pair);
    }
    cJSON_AddItemToObject(o, "configs", configs);
    cJSON_AddItemToObject(o, "method", vk_method_json(&a->method));
    cJSON_AddBoolToObject(o, "complete", e->complete);
    cJSON_AddItemToObject(o, "accuracy", accuracy_json(e));
    cJSON_AddItemToObject(o, "runs", runs_json(e));
    return vk_write_json("ei-eval", path, o);
}
