/* ei-eval's tasks and scoring (tools/eval): the same seed gives the same
 * prompt bytes and another seed others; every depth shares the answer and
 * the haystack; the needle sits at its depth within one unit, counted in
 * the text; a prompt has at most the tokens asked for and is within one
 * unit of them; a length too short for the task is refused; exact match
 * judges answers as its header says. Host only (a small SentencePiece
 * vocabulary of tests/util). */
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "util/test_util.h"
#include "util/tokenizer_vocab.h"

static const uint32_t depths[] = {0, 25, 50, 75, 100};
#define N_DEPTHS 5

static size_t tokens(const ei_tokenizer *tok, const char *text, size_t len) {
    size_t n = 0;
    ei_tokenize(tok, text, len, 0, NULL, 0, &n);
    return n;
}

/* Units before the needle and in all, and the longest unit's tokens, read
 * from the text: sentences (one period each) or key-value pairs (four
 * quotes each) between the haystack's start and the blank line after it. */
typedef struct layout {
    uint32_t before, units;
    size_t longest;
} layout;

static layout read_layout(ee_task task, const ei_tokenizer *tok, const ee_prompt *p) {
    const char *hay = p->text + p->haystack, *end = strstr(hay, task == EE_KV ? "}\n\n" : "\n\n"), *needle;
    char what[64];
    if (task == EE_KV) {
        snprintf(what, sizeof what, ": \"%s\"", p->answer);
        needle = strstr(hay, what) - 10; /* back over the "xxxxxxxx" key */
    } else {
        snprintf(what, sizeof what, task == EE_PASSKEY ? "The pass key is %s." : "is: %s.", p->answer);
        needle = strstr(hay, task == EE_PASSKEY ? what : "The special magic number for");
    }
    layout l = {0};
    char mark = task == EE_KV ? '"' : '.';
    uint32_t per = task == EE_KV ? 4 : 1, needle_marks = task == EE_PASSKEY ? 3 : per;
    uint32_t marks = 0;
    const char *unit = hay;
    for (const char *c = hay; c < end; c++) {
        if (*c != mark) continue;
        marks++;
        if (c < needle) l.before = marks / per;
        if (marks % per == 0) { /* a unit ends here */
            size_t n = tokens(tok, unit, (size_t)(c + 1 - unit));
            l.longest = n > l.longest ? n : l.longest;
            unit = c + 1;
        }
    }
    l.units = (marks - needle_marks) / per;
    return l;
}

static void check_task(ee_task task, const ei_tokenizer *tok, uint32_t n) {
    const char *name = ee_task_name(task);
    ee_prompt a[N_DEPTHS], b[N_DEPTHS], other[N_DEPTHS];
    char error[256];
    int ok = ee_task_prompts(task, tok, n, 7, depths, N_DEPTHS, a, error, sizeof error) == 0 &&
             ee_task_prompts(task, tok, n, 7, depths, N_DEPTHS, b, error, sizeof error) == 0 &&
             ee_task_prompts(task, tok, n, 8, depths, N_DEPTHS, other, error, sizeof error) == 0;
    CHECK(ok, "%s at %u tokens: %s", name, n, error);
    if (!ok) return;
    for (int i = 0; i < N_DEPTHS; i++) {
        const ee_prompt *p = &a[i];
        CHECK(!strcmp(p->text, b[i].text) && p->n_ids == b[i].n_ids &&
                  !memcmp(p->ids, b[i].ids, p->n_ids * sizeof *p->ids),
              "%s depth %u: the same seed gave other bytes", name, depths[i]);
        CHECK(strcmp(p->text, other[i].text) != 0, "%s depth %u: another seed gave the same prompt", name, depths[i]);
        CHECK(!strcmp(p->answer, a[0].answer) && p->units == a[0].units, "%s depth %u: another answer or haystack",
              name, depths[i]);
        uint32_t *ids = tu_alloc(p->n_ids + 1, sizeof *ids);
        size_t got = 0;
        CHECK(ei_tokenize(tok, p->text, strlen(p->text), EI_TOKENIZE_ADD_BOS, ids, p->n_ids + 1, &got) == EI_OK &&
                  got == p->n_ids && !memcmp(ids, p->ids, got * sizeof *ids),
              "%s: ids are not the text's tokens", name);
        free(ids);
        layout l = read_layout(task, tok, p);
        int64_t want = ((int64_t)depths[i] * l.units + 50) / 100, off = (int64_t)l.before - want;
        CHECK(l.units == p->units && l.units > 0 && off >= -1 && off <= 1,
              "%s depth %u: needle after %u of %u units (want %lld; the prompt says %u of %u)", name, depths[i],
              l.before, l.units, (long long)want, p->needle_at, p->units);
        CHECK(p->n_ids <= n && n - p->n_ids <= l.longest + 2, "%s depth %u: %zu tokens for %u (longest unit %zu)", name,
              depths[i], p->n_ids, n, l.longest);
    }
    printf("%s, %u tokens: %u units, %zu..%zu tokens, answer %s\n", name, n, a[0].units, a[0].n_ids, a[4].n_ids,
           a[0].answer);
    for (int i = 0; i < N_DEPTHS; i++)
        ee_prompt_free(&a[i]), ee_prompt_free(&b[i]), ee_prompt_free(&other[i]);
}

static void check_too_short(const ei_tokenizer *tok) {
    ee_prompt p[1];
    char error[256] = "";
    CHECK(ee_task_prompts(EE_NEEDLE, tok, 40, 1, depths, 1, p, error, sizeof error) == -1 &&
              strstr(error, "do not hold"),
          "40 tokens for the needle task: '%s'", error);
}

static void check_judge(void) {
    static const struct {
        const char *text, *answer;
        int final;
        ee_verdict want;
    } cases[] = {
        {" 48213.", "48213", 0, EE_MATCH},   {"48213\n", "48213", 0, EE_MATCH}, {": \"ab12\"", "ab12", 0, EE_MATCH},
        {"48213", "48213", 1, EE_MATCH},     {"48213", "48213", 0, EE_PENDING}, {" 482", "48213", 0, EE_PENDING},
        {"   ", "48213", 0, EE_PENDING},     {" 482", "48213", 1, EE_MISS},     {"482130", "48213", 0, EE_MISS},
        {"48213abc", "48213", 0, EE_MISS},   {"x48213", "48213", 0, EE_MISS},   {"48214", "48213", 0, EE_MISS},
        {"\n48213", "48213", 0, EE_MISS},    {"", "48213", 1, EE_MISS},         {" is 48213", "48213", 0, EE_MISS},
        {"ab12\" and", "ab12", 1, EE_MATCH},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ee_verdict v = ee_judge(cases[i].text, cases[i].answer, cases[i].final);
        CHECK(v == cases[i].want, "judge('%s', '%s', final %d) = %d, want %d", cases[i].text, cases[i].answer,
              cases[i].final, v, cases[i].want);
    }
}

int main(void) {
    gw file = tv_spm(1, TV_GOOD);
    ei_gguf *g = NULL;
    ei_tokenizer *tok = NULL;
    char error[256];
    CHECK(ei_gguf_parse(file.data, file.size, &g, error, sizeof error) == EI_OK &&
              ei_tokenizer_create(g, &tok, error, sizeof error) == EI_OK,
          "the test vocabulary: %s", error);
    for (int task = 0; tok && task < EE_TASK_COUNT; task++)
        for (uint32_t n = 700; n <= 7000; n *= 3)
            check_task((ee_task)task, tok, n);
    if (tok) check_too_short(tok);
    check_judge();
    ei_tokenizer_destroy(tok);
    ei_gguf_close(g);
    gw_free(&file);
    return tu_tally();
}
