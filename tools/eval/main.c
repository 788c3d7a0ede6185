/* ei-eval: a retrieval task at several lengths and depths across the
 * method configurations on one loaded model (accuracy tables on stdout,
 * everything as JSON), or heatmaps of the prefill profile. Errors are one
 * line on stderr and a non-zero exit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#ifdef EE_HAVE_PNG
#include "heatmap.h"
#endif

static int evaluate(const ee_args *a) {
    ee_eval e = {.args = a};
    int rc = vk_load("ei-eval", a->model, a->device, a->validation, &e.ctx, &e.model, &e.tok);
    if (rc == 0) rc = ee_evaluate(&e);
    if (rc == 0) ee_print_tables(&e);
    if (rc == 0 && a->json) rc = ee_write_json(&e, a->json);
    free(e.runs);
    ei_tokenizer_destroy(e.tok);
    ei_model_destroy(e.model);
    ei_context_destroy(e.ctx);
    return rc;
}

#ifdef EE_HAVE_PNG
/* The prefill profile of a prompt file under the heatmap's mode, as a stats
 * JSON (also written to DIR/stats.json); NULL after printing an error. */
static cJSON *profile(const ee_args *a) {
    ei_context *ctx = NULL;
    ei_model *model = NULL;
    ei_tokenizer *tok = NULL;
    ei_session *s = NULL;
    uint32_t *ids = NULL;
    size_t n = 0;
    cJSON *stats = NULL;
    char *text = vk_read_file(a->prompt_file);
    if (!text) fprintf(stderr, "ei-eval: error: cannot read the prompt file %s\n", a->prompt_file);
    int rc = !text || vk_load("ei-eval", a->model, a->device, a->validation, &ctx, &model, &tok);
    if (rc == 0) {
        ei_tokenize(tok, text, strlen(text), EI_TOKENIZE_ADD_BOS, NULL, 0, &n);
        ids = malloc((n ? n : 1) * sizeof *ids);
        rc = !ids || ei_tokenize(tok, text, strlen(text), EI_TOKENIZE_ADD_BOS, ids, n, &n) != EI_OK || !n;
        if (rc) fprintf(stderr, "ei-eval: error: cannot tokenize the prompt, or it is empty\n");
    }
    ei_entropy_config method = a->method;
    method.mode = a->heat_attn;
    ei_session_desc d = {.n_ctx = (uint32_t)n, .method = &method, .prefill_stats = 1};
    if (rc == 0 && (ei_session_create(model, &d, &s) != EI_OK || ei_session_forward(s, ids, (uint32_t)n, NULL)))
        fprintf(stderr, "ei-eval: error: %s\n", ei_context_error(ctx));
    else if (rc == 0 && !(stats = vk_stats_json(s, model, &method, ee_attn_name(method.mode), (uint32_t)n)))
        fprintf(stderr, "ei-eval: error: %s\n", ei_context_error(ctx));
    if (stats) {
        char path[4096];
        snprintf(path, sizeof path, "%s/stats.json", a->out_dir);
        if (vk_write_json("ei-eval", path, cJSON_Duplicate(stats, 1))) cJSON_Delete(stats), stats = NULL;
    }
    free(text), free(ids);
    ei_session_destroy(s);
    ei_tokenizer_destroy(tok);
    ei_model_destroy(model);
    ei_context_destroy(ctx);
    return stats;
}

static int heatmap(const ee_args *a) {
    cJSON *stats = NULL;
    if (a->stats) {
        char *text = vk_read_file(a->stats);
        stats = text ? cJSON_Parse(text) : NULL;
        if (!stats) fprintf(stderr, "ei-eval: error: cannot read %s as JSON\n", a->stats);
        free(text);
    } else {
        stats = profile(a);
    }
    int rc = !stats || ee_heatmaps(stats, a->out_dir);
    cJSON_Delete(stats);
    return rc;
}
#else
static int heatmap(const ee_args *a) {
    (void)a;
    fprintf(stderr, "ei-eval: error: built without libpng: no heatmaps\n");
    return 1;
}
#endif

int main(int argc, char **argv) {
    ee_args a;
    int parsed = ee_parse_args(argc, argv, &a);
    if (parsed) return parsed < 0 ? 2 : 0;
    return a.heatmap ? heatmap(&a) : evaluate(&a);
}
