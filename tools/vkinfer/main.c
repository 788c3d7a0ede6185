/* vkinfer: loads a GGUF model, prefills the prompt (in chunks of -b
 * tokens, or in one call with a method; a progress bar on stderr), streams
 * the generated text to stdout, and sums up speed and memory. Every failure
 * is one line on stderr and exit status 1. */
#define _POSIX_C_SOURCE 200809L /* isatty */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "entropyinfer_tokenizer.h"
#include "vkinfer.h"

typedef struct run {
    vk_args args;
    ei_context *ctx;
    ei_model *model;
    ei_tokenizer *tok;
    ei_session *session;
    ei_sampler *sampler;
    uint32_t *prompt; /* prompt ids */
    size_t n_prompt;
    size_t prompt_call; /* the most prompt tokens per forward call */
    uint32_t *generated;
    size_t n_generated;
    char *text; /* the generated text (for --json) */
    size_t text_len, text_cap;
    float *logits;
    FILE *dump;
    double load_ms, prefill_ms, decode_ms;
    double prefill_gpu_ms, decode_gpu_ms; /* GPU time of the same calls (timestamps; 0 without them) */
} run;

static int fail(const char *fmt, const char *detail) {
    fprintf(stderr, "vkinfer: error: ");
    fprintf(stderr, fmt, detail);
    fputc('\n', stderr);
    return 1;
}

static int parse_ids(run *r) {
    const char *s = r->args.ids;
    size_t cap = 1;
    for (const char *c = s; *c; c++)
        cap += *c == ',';
    r->prompt = malloc(cap * sizeof *r->prompt);
    if (!r->prompt) return fail("%s", "out of host memory");
    for (;;) {
        char *end;
        unsigned long v = strtoul(s, &end, 10);
        if (end == s || (*end != ',' && *end) || v > UINT32_MAX)
            return fail("--ids: '%s' is not a list of ids", r->args.ids);
        r->prompt[r->n_prompt++] = (uint32_t)v;
        if (!*end) return 0;
        s = end + 1;
    }
}

static int tokenize_prompt(run *r) {
    char *owned = NULL;
    const char *text = r->args.prompt;
    if (r->args.prompt_file) {
        text = owned = vk_read_file(r->args.prompt_file);
        if (!text) return fail("cannot read the prompt file %s", r->args.prompt_file);
    }
    if (r->args.chat) {
        int llama3 = 0;
        uint32_t probe[4];
        size_t n = 0;
        /* Llama 3 has a header token; Llama 2 does not. */
        if (ei_tokenize(r->tok, "<|start_header_id|>", 19, EI_TOKENIZE_SPECIAL, probe, 4, &n) == EI_OK && n == 1)
            llama3 = 1;
        char *wrapped = vk_chat_prompt(ei_model_config_of(r->model), text, llama3);
        free(owned);
        if (!wrapped) return fail("%s", "out of host memory");
        text = owned = wrapped;
    }
    size_t len = strlen(text), n = 0;
    int flags = EI_TOKENIZE_ADD_BOS | EI_TOKENIZE_SPECIAL;
    ei_status st = ei_tokenize(r->tok, text, len, flags, NULL, 0, &n);
    if (st == EI_OK || st == EI_ERROR_LIMIT_EXCEEDED) {
        r->prompt = malloc((n ? n : 1) * sizeof *r->prompt);
        st =
            r->prompt ? ei_tokenize(r->tok, text, len, flags, r->prompt, n, &r->n_prompt) : EI_ERROR_OUT_OF_HOST_MEMORY;
    }
    free(owned);
    if (st != EI_OK) return fail("cannot tokenize the prompt (%s)", ei_status_name(st));
    if (r->n_prompt == 0) return fail("%s", "the prompt is empty");
    return 0;
}

/* Appends a generated token's text: streamed to stdout, or kept for --json. */
static int emit(run *r, uint32_t id) {
    char piece[256];
    size_t n = 0;
    if (ei_token_to_piece(r->tok, id, piece, sizeof piece, &n) != EI_OK) return 0;
    if (!r->args.json) {
        fwrite(piece, 1, n, stdout);
        fflush(stdout);
        return 0;
    }
    if (r->text_len + n + 1 > r->text_cap) {
        size_t cap = (r->text_cap + n + 1) * 2;
        char *grown = realloc(r->text, cap);
        if (!grown) return fail("%s", "out of host memory");
        r->text = grown, r->text_cap = cap;
    }
    memcpy(r->text + r->text_len, piece, n);
    r->text_len += n;
    r->text[r->text_len] = '\0';
    return 0;
}

static void progress(size_t done, size_t total) {
    if (!isatty(STDERR_FILENO)) return;
    int width = 40, filled = (int)(width * done / total);
    fprintf(stderr, "\rprefill [%.*s%*s] %zu/%zu tokens", filled,
            "========================================", width - filled, "", done, total);
    if (done == total) fputs("\r\033[K", stderr);
}

static int generate(run *r) {
    const ei_model_config *c = ei_model_config_of(r->model);
    uint32_t n_ctx = ei_session_n_ctx(r->session);
    size_t want = r->args.n_predict < 0 ? n_ctx - r->n_prompt : (size_t)r->args.n_predict;
    if (r->n_prompt + want > n_ctx) {
        char msg[160];
        snprintf(msg, sizeof msg, "%zu prompt tokens + %zu to generate exceed the context of %u tokens (-c)",
                 r->n_prompt, want, n_ctx);
        return fail("%s", msg);
    }
    r->generated = malloc((want ? want : 1) * sizeof *r->generated);
    r->logits = malloc((size_t)c->n_vocab * sizeof *r->logits);
    if (!r->generated || !r->logits) return fail("%s", "out of host memory");
    if (r->args.dump_logits && !(r->dump = fopen(r->args.dump_logits, "wb")))
        return fail("cannot write %s", r->args.dump_logits);
    for (size_t i = 0; i < r->n_prompt; i++)
        ei_sampler_accept(r->sampler, r->prompt[i]);

    double t0 = vk_now_ms();
    ei_status st = EI_OK;
    for (size_t done = 0; st == EI_OK && done < r->n_prompt;) {
        uint32_t n = (uint32_t)(r->n_prompt - done < r->prompt_call ? r->n_prompt - done : r->prompt_call);
        int last = done + n == r->n_prompt;
        st = ei_session_forward(r->session, r->prompt + done, n, last ? r->logits : NULL);
        r->prefill_gpu_ms += ei_session_gpu_ms(r->session) > 0 ? ei_session_gpu_ms(r->session) : 0;
        done += n;
        progress(done, r->n_prompt);
    }
    r->prefill_ms = vk_now_ms() - t0;
    t0 = vk_now_ms();
    while (st == EI_OK && r->n_generated < want) {
        if (r->dump && fwrite(r->logits, sizeof *r->logits, c->n_vocab, r->dump) != c->n_vocab)
            return fail("cannot write %s", r->args.dump_logits);
        uint32_t id = ei_sampler_sample(r->sampler, r->logits);
        r->generated[r->n_generated++] = id;
        ei_sampler_accept(r->sampler, id);
        if (!r->args.ignore_eos && ei_token_is_eog(r->tok, id)) break;
        if (emit(r, id)) return 1;
        if (r->n_generated < want) {
            st = ei_session_forward(r->session, &id, 1, r->logits);
            r->decode_gpu_ms += ei_session_gpu_ms(r->session) > 0 ? ei_session_gpu_ms(r->session) : 0;
        }
    }
    r->decode_ms = vk_now_ms() - t0;
    if (st != EI_OK) return fail("%s", ei_context_error(r->ctx));
    if (!r->args.json) fputc('\n', stdout);
    return 0;
}

static void summary(const run *r) {
    const ei_device_facts *f = ei_context_facts(r->ctx);
    double mib = 1024.0 * 1024.0;
    /* The first generated token comes from the prefill's logits. */
    size_t decoded = r->n_generated > 1 ? r->n_generated - 1 : 0;
    double pp = r->prefill_ms > 0 ? r->n_prompt * 1e3 / r->prefill_ms : 0;
    double tg = r->decode_ms > 0 && decoded ? decoded * 1e3 / r->decode_ms : 0;
    if (!r->args.json) {
        fprintf(stderr,
                "\nprompt: %zu tokens in %.1f ms (%.1f tokens/s); time to first token %.1f ms\n"
                "generation: %zu tokens in %.1f ms (%.2f tokens/s)\n"
                "GPU time (timestamps; 0 without them): prompt %.1f ms, generation %.1f ms\n"
                "memory: weights %.1f MiB, KV cache %.1f MiB, scratch %.1f MiB; load %.0f ms\n"
                "device: %s\n",
                r->n_prompt, r->prefill_ms, pp, r->prefill_ms, decoded, r->decode_ms, tg, r->prefill_gpu_ms,
                r->decode_gpu_ms, ei_model_weight_bytes(r->model) / mib, ei_session_kv_bytes(r->session) / mib,
                ei_session_scratch_bytes(r->session) / mib, r->load_ms, f->name);
        return;
    }
    cJSON *o = cJSON_CreateObject(), *ids = cJSON_CreateArray();
    for (size_t i = 0; i < r->n_generated; i++)
        cJSON_AddItemToArray(ids, cJSON_CreateNumber(r->generated[i]));
    cJSON_AddStringToObject(o, "text", r->text ? r->text : "");
    cJSON_AddItemToObject(o, "tokens", ids);
    cJSON_AddNumberToObject(o, "prompt_tokens", (double)r->n_prompt);
    cJSON_AddNumberToObject(o, "generated_tokens", (double)r->n_generated);
    cJSON_AddNumberToObject(o, "load_ms", r->load_ms);
    cJSON_AddNumberToObject(o, "prefill_ms", r->prefill_ms);
    cJSON_AddNumberToObject(o, "time_to_first_token_ms", r->prefill_ms);
    cJSON_AddNumberToObject(o, "decode_ms", r->decode_ms);
    cJSON_AddNumberToObject(o, "prefill_gpu_ms", r->prefill_gpu_ms);
    cJSON_AddNumberToObject(o, "decode_gpu_ms", r->decode_gpu_ms);
    cJSON_AddNumberToObject(o, "prompt_tokens_per_s", pp);
    cJSON_AddNumberToObject(o, "generation_tokens_per_s", tg);
    cJSON_AddNumberToObject(o, "weight_bytes", (double)ei_model_weight_bytes(r->model));
    cJSON_AddNumberToObject(o, "kv_bytes", (double)ei_session_kv_bytes(r->session));
    cJSON_AddNumberToObject(o, "scratch_bytes", (double)ei_session_scratch_bytes(r->session));
    cJSON_AddNumberToObject(o, "n_ctx", ei_session_n_ctx(r->session));
    cJSON_AddStringToObject(o, "attn", r->args.attn);
    cJSON_AddStringToObject(o, "kv", r->args.kv);
    cJSON_AddStringToObject(o, "device", f->name);
    char *s = cJSON_PrintUnformatted(o);
    if (s) puts(s);
    free(s);
    cJSON_Delete(o);
}

static int start(run *r) {
    char error[512];
    double t0 = vk_now_ms();
    if (vk_load("vkinfer", r->args.model, r->args.device, r->args.validation, &r->ctx, &r->model, &r->tok)) return 1;
    if (!r->args.seed_given) r->args.sampling.seed = (uint64_t)time(NULL);
    if (ei_sampler_create(&r->args.sampling, ei_model_config_of(r->model)->n_vocab, &r->sampler, error, sizeof error) !=
        EI_OK)
        return fail("%s", error);
    if (r->args.ids ? parse_ids(r) : tokenize_prompt(r)) return 1;
    static const char *const attn_modes[] = {"entropy", "reference", "critiprefill", "full"};
    static const char *const kv_modes[] = {"full", "latent", "snapkv", "adakv"};
    ei_session_desc sd = {r->args.n_ctx, r->args.n_batch, .kv_dtype = r->args.cache_type,
                          .prefill_stats = r->args.stats != NULL};
    for (int i = 0; i < 4; i++) {
        if (!strcmp(r->args.attn, attn_modes[i])) r->args.method.mode = (ei_prefill_mode)i;
        if (!strcmp(r->args.kv, kv_modes[i])) sd.kv = (ei_kv_method)i;
    }
    if (r->args.method.mode != EI_PREFILL_FULL || sd.kv != EI_KV_FULL) sd.method = &r->args.method;
    if (ei_session_create(r->model, &sd, &r->session) != EI_OK) return fail("%s", ei_context_error(r->ctx));
    /* The methods take the whole prompt in one call, which the library
     * runs layer by layer, -b tokens at a time inside each layer. */
    r->prompt_call = sd.method ? r->n_prompt : ei_session_n_batch(r->session);
    r->load_ms = vk_now_ms() - t0;
    return 0;
}

/* --stats: the prompt's prefill profile, one JSON object. */
static int write_stats(const run *r) {
    cJSON *o = vk_stats_json(r->session, r->model, &r->args.method, r->args.attn, (uint32_t)r->n_prompt);
    return o ? vk_write_json("vkinfer", r->args.stats, o) : fail("%s", ei_context_error(r->ctx));
}

int main(int argc, char **argv) {
    run r = {0};
    int parsed = vk_parse_args(argc, argv, &r.args);
    if (parsed) return parsed < 0 ? 2 : 0;
    int rc = start(&r);
    if (rc == 0) rc = generate(&r);
    if (rc == 0 && r.args.stats) rc = write_stats(&r);
    if (rc == 0) summary(&r);
    if (r.dump && fclose(r.dump) != 0 && rc == 0) rc = fail("cannot write %s", r.args.dump_logits);
    ei_sampler_destroy(r.sampler);
    ei_session_destroy(r.session);
    ei_tokenizer_destroy(r.tok);
    ei_model_destroy(r.model);
    ei_context_destroy(r.ctx);
    free(r.prompt), free(r.generated), free(r.logits), free(r.text);
    return rc;
}
