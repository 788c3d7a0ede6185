/* A session's prefill stats (ei_session_prefill_stats) as one JSON object,
 * for vkinfer --stats and ei-eval's heatmaps. The keep count of a segment
 * that runs dense anyway (one starting before threshold_len, the last) is
 * its budget's, unused. */
#include <stdio.h>
#include <stdlib.h>

#include "tool.h"

/* Why layer l ran dense without a profile. */
static const char *dense_reason(const ei_model_config *c, const ei_entropy_config *cfg, uint32_t l) {
    if (ei_model_layer_is_local(c, l)) return "sliding window";
    if (cfg->mode == EI_PREFILL_FULL) return "full attention";
    if (l < cfg->layer_skip) return "layer_skip";
    return "short prompt"; /* no segment but the last starts at threshold_len */
}

int vk_write_json(const char *tool, const char *path, cJSON *o) {
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    FILE *f = text ? fopen(path, "w") : NULL;
    int ok = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    if (f && fclose(f) != 0) ok = 0;
    free(text);
    if (!ok) fprintf(stderr, "%s: error: cannot write %s\n", tool, path);
    return !ok;
}

/* x with the digits of a float (1e-5f as 1e-05, not 9.99999974737875e-06). */
static double shortest(float x) {
    char text[32];
    snprintf(text, sizeof text, "%.7g", x);
    return strtod(text, NULL);
}

cJSON *vk_method_json(const ei_entropy_config *cfg) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "segment_size", cfg->segment_size);
    cJSON_AddNumberToObject(o, "block_size", cfg->block_size);
    cJSON_AddNumberToObject(o, "threshold_len", cfg->threshold_len);
    cJSON_AddNumberToObject(o, "base_budget", cfg->base_budget);
    cJSON_AddNumberToObject(o, "e_t", shortest(cfg->e_t));
    cJSON_AddNumberToObject(o, "delta_t", shortest(cfg->delta_t));
    cJSON_AddNumberToObject(o, "alpha", shortest(cfg->alpha));
    cJSON_AddNumberToObject(o, "layer_skip", cfg->layer_skip);
    cJSON_AddBoolToObject(o, "layer_fusion", cfg->layer_fusion);
    cJSON_AddNumberToObject(o, "decode_budget", cfg->decode_budget);
    cJSON_AddNumberToObject(o, "decode_gap", cfg->decode_gap);
    cJSON_AddNumberToObject(o, "window", cfg->window);
    return o;
}

/* Per KV head: its rigid flag, and per segment its entropy and keep. */
static cJSON *heads_json(const ei_prefill_stats *st) {
    cJSON *heads = cJSON_CreateArray();
    for (uint32_t hk = 0; hk < st->kv_heads; hk++) {
        cJSON *h = cJSON_CreateObject(), *keep = cJSON_CreateArray();
        cJSON_AddNumberToObject(h, "kv_head", hk);
        cJSON_AddBoolToObject(h, "rigid", st->rigid[hk] != 0);
        cJSON_AddItemToObject(h, "entropy", cJSON_CreateFloatArray(st->entropy + hk * st->nseg, (int)st->nseg));
        for (uint32_t s = 0; s < st->nseg; s++)
            cJSON_AddItemToArray(keep, cJSON_CreateNumber(st->keep[hk * st->nseg + s]));
        cJSON_AddItemToObject(h, "keep", keep);
        cJSON_AddItemToArray(heads, h);
    }
    return heads;
}

cJSON *vk_stats_json(ei_session *s, const ei_model *m, const ei_entropy_config *cfg, const char *attn,
                     uint32_t prompt_tokens) {
    const ei_model_config *c = ei_model_config_of(m);
    cJSON *o = cJSON_CreateObject(), *layers = cJSON_CreateArray();
    cJSON_AddNumberToObject(o, "prompt_tokens", prompt_tokens);
    cJSON_AddStringToObject(o, "attn", attn);
    cJSON_AddNumberToObject(o, "n_layer", c->n_layer);
    cJSON_AddNumberToObject(o, "kv_heads", c->n_head_kv);
    cJSON_AddItemToObject(o, "config", vk_method_json(cfg));
    cJSON_AddItemToObject(o, "layers", layers);
    ei_status st = EI_OK;
    for (uint32_t l = 0; st == EI_OK && l < c->n_layer; l++) {
        ei_prefill_stats ps = {0};
        st = ei_session_prefill_stats(s, l, &ps); /* the shape */
        cJSON *layer = cJSON_CreateObject();
        cJSON_AddNumberToObject(layer, "layer", l);
        cJSON_AddBoolToObject(layer, "dense", !ps.profiled);
        cJSON_AddItemToArray(layers, layer);
        if (st != EI_OK || !ps.profiled) {
            cJSON_AddStringToObject(layer, "reason", dense_reason(c, cfg, l));
            continue;
        }
        uint64_t n = (uint64_t)ps.kv_heads * ps.nseg;
        ps.entropy = malloc(n * sizeof *ps.entropy);
        ps.keep = malloc(n * sizeof *ps.keep);
        ps.rigid = malloc(ps.kv_heads * sizeof *ps.rigid);
        st = ps.entropy && ps.keep && ps.rigid ? ei_session_prefill_stats(s, l, &ps) : EI_ERROR_OUT_OF_HOST_MEMORY;
        if (st == EI_OK) cJSON_AddNumberToObject(layer, "segments", ps.nseg);
        if (st == EI_OK) cJSON_AddItemToObject(layer, "heads", heads_json(&ps));
        free(ps.entropy), free(ps.keep), free(ps.rigid);
    }
    if (st == EI_OK) return o;
    cJSON_Delete(o);
    return NULL;
}
