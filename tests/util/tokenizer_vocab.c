#include "tokenizer_vocab.h"

#include <stdio.h>
#include <string.h>

#define MAX_TOKENS 512

/* A vocabulary being written: token texts, types, scores, merges. */
typedef struct vocab {
    char text[MAX_TOKENS][24];
    int type[MAX_TOKENS];
    int n;
    const char *merges[32];
    int n_merges;
} vocab;

static int add(vocab *v, const char *text, int type) {
    snprintf(v->text[v->n], sizeof v->text[0], "%s", text);
    v->type[v->n] = type;
    return v->n++;
}

/* Metadata pairs go to `body`, counted, so the header can be written last. */
typedef struct kvs {
    gw body;
    uint64_t count;
} kvs;

static void key(kvs *k, const char *name, uint32_t type) {
    gw_str(&k->body, name);
    gw_u32(&k->body, type);
    k->count++;
}

static void kv_str(kvs *k, const char *name, const char *value) { key(k, name, 8), gw_str(&k->body, value); }
static void kv_u32(kvs *k, const char *name, uint32_t value) { key(k, name, 4), gw_u32(&k->body, value); }
static void kv_bool(kvs *k, const char *name, int value) { key(k, name, 7), gw_u8(&k->body, (uint8_t)value); }

static void kv_array(kvs *k, const char *name, uint32_t type, uint64_t n) {
    key(k, name, 9);
    gw_u32(&k->body, type);
    gw_u64(&k->body, n);
}

static void kv_tokens(kvs *k, const vocab *v, tv_flaw flaw) {
    if (flaw == TV_NO_TOKENS) return;
    if (flaw == TV_NUMBER_TOKENS) {
        kv_array(k, "tokenizer.ggml.tokens", 4, (uint64_t)v->n);
        for (int i = 0; i < v->n; i++)
            gw_u32(&k->body, (uint32_t)i);
        return;
    }
    kv_array(k, "tokenizer.ggml.tokens", 8, (uint64_t)v->n);
    for (int i = 0; i < v->n; i++)
        gw_str(&k->body, v->text[i]);
}

static void kv_types(kvs *k, const vocab *v, tv_flaw flaw) {
    int n = v->n - (flaw == TV_SHORT_TYPES);
    kv_array(k, "tokenizer.ggml.token_type", 5, (uint64_t)n);
    for (int i = 0; i < n; i++)
        gw_u32(&k->body, flaw == TV_BAD_TYPE && i == n / 2 ? 9u : (uint32_t)v->type[i]);
}

static void kv_bos(kvs *k, const vocab *v, uint32_t bos, tv_flaw flaw) {
    if (flaw == TV_STRING_BOS)
        kv_str(k, "tokenizer.ggml.bos_token_id", "1");
    else
        kv_u32(k, "tokenizer.ggml.bos_token_id", flaw == TV_BAD_BOS ? (uint32_t)v->n : bos);
}

static gw finish(kvs *k) {
    gw w = {0};
    gw_bytes(&w, "GGUF", 4);
    gw_u32(&w, 3);
    gw_u64(&w, 0);
    gw_u64(&w, k->count);
    gw_bytes(&w, k->body.data, k->body.size);
    gw_free(&k->body);
    return w;
}

gw tv_spm(int add_space_prefix, tv_flaw flaw) {
    vocab v = {0};
    int no_bytes = flaw == TV_NO_BYTES;
    add(&v, "<unk>", no_bytes ? 1 : 2);
    add(&v, "<s>", 3);
    add(&v, "</s>", 3);
    add(&v, "<start_of_turn>", 3);
    add(&v, "<end_of_turn>", 3);
    add(&v, "<b>", 4);
    add(&v, "  ", 4);
    for (int b = 0; b < 256; b++) {
        char text[8];
        snprintf(text, sizeof text, "<0x%02X>", b);
        add(&v, text, no_bytes ? 1 : 6);
    }
    /* Pieces from the most to the least wanted merge (score -index). */
    static const char *const pieces[] = {"\xe2\x96\x81t",
                                         "he",
                                         "\xe2\x96\x81the",
                                         "in",
                                         "ing",
                                         "ll",
                                         "\xe2\x96\x81h",
                                         "el",
                                         "\xe2\x96\x81he",
                                         "ell",
                                         "\xe2\x96\x81hell",
                                         "lo",
                                         "o",
                                         "\xe2\x96\x81hello",
                                         "\xe2\x96\x81w",
                                         "or",
                                         "\xe2\x96\x81wor",
                                         "ld",
                                         "\xe2\x96\x81world",
                                         "\xe2\x96\x81\xe2\x96\x81",
                                         "\xe2\x96\x81",
                                         "e",
                                         "h",
                                         "l",
                                         "t",
                                         "w",
                                         "r",
                                         "d",
                                         "i",
                                         "n",
                                         "g",
                                         "a",
                                         "s",
                                         ".",
                                         ",",
                                         "\xc3\xa9",
                                         "\xe6\x97\xa5"};
    int first = v.n;
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++)
        add(&v, pieces[i], strcmp(pieces[i], "\xe2\x96\x81wor") ? 1 : 5);
    /* A control token that merges could make, but must not. */
    add(&v, "wo", 3);
    kvs k = {0};
    kv_str(&k, "general.architecture", "llama");
    if (flaw != TV_NO_MODEL) kv_str(&k, "tokenizer.ggml.model", flaw == TV_UNKNOWN_MODEL ? "bert" : "llama");
    kv_tokens(&k, &v, flaw);
    int n = v.n - (flaw == TV_SHORT_SCORES);
    kv_array(&k, "tokenizer.ggml.scores", 6, (uint64_t)n);
    for (int i = 0; i < n; i++) {
        float score = i < first ? 0.0f : (float)(first - i);
        uint32_t bits;
        memcpy(&bits, &score, 4);
        gw_u32(&k.body, bits);
    }
    kv_types(&k, &v, flaw);
    kv_bos(&k, &v, 1, flaw);
    kv_u32(&k, "tokenizer.ggml.eos_token_id", 2);
    if (!no_bytes) kv_u32(&k, "tokenizer.ggml.unknown_token_id", 0);
    kv_bool(&k, "tokenizer.ggml.add_space_prefix", add_space_prefix);
    return finish(&k);
}

/* GPT-2's byte-level alphabet: printable Latin-1 bytes stand for
 * themselves, the others take U+0100 on, in byte order. */
static void byte_char(int b, char *out) {
    int printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
    int cp = b, k = 0;
    if (!printable) {
        for (int c = 0; c < b; c++)
            k += !((c >= 0x21 && c <= 0x7e) || (c >= 0xa1 && c <= 0xac) || c >= 0xae);
        cp = 0x100 + k;
    }
    if (cp < 0x80) {
        out[0] = (char)cp, out[1] = 0;
    } else {
        out[0] = (char)(0xc0 | (cp >> 6)), out[1] = (char)(0x80 | (cp & 0x3f)), out[2] = 0;
    }
}

gw tv_bpe(const char *pre, tv_flaw flaw) {
    vocab v = {0};
    for (int b = 0; b < 256; b++) {
        char c[3];
        byte_char(b, c);
        add(&v, flaw == TV_MISSING_BYTE && b == 'A' ? "<not A>" : c, 1);
    }
    /* "\xc4\xa0" is U+0120, the byte-level character of a space. "h e"
     * comes twice, as in some files: the first rank counts. */
    static const char *const merges[] = {
        "\xc4\xa0 t", "h e", "\xc4\xa0t he", "i n", "in g",           "l l",           "h e", "he ll", "hell o",
        "\xc4\xa0 w", "o r", "\xc4\xa0w or", "l d", "\xc4\xa0wor ld", "\xc4\xa0 hello"};
    for (size_t i = 0; i < sizeof merges / sizeof merges[0]; i++) {
        char joined[24];
        const char *space = strchr(merges[i] + 1, ' ');
        snprintf(joined, sizeof joined, "%.*s%s", (int)(space - merges[i]), merges[i], space + 1);
        int known = 0;
        for (int t = 0; t < v.n; t++)
            known |= !strcmp(v.text[t], joined);
        if (!known) add(&v, joined, 1);
        v.merges[v.n_merges++] = merges[i];
    }
    if (flaw == TV_UNKNOWN_MERGE) v.merges[v.n_merges++] = "\xc4\xa0 zz";
    if (flaw == TV_MERGE_NO_SPACE) v.merges[v.n_merges++] = "hello";
    int bos = add(&v, "<|begin_of_text|>", 3), eos = add(&v, "<|end_of_text|>", 3);
    add(&v, "<|im_start|>", 3);
    add(&v, "<|im_end|>", 3);
    add(&v, "<tool_call>", 4);
    /* A token no merge makes, whole only where merges are skipped for a
     * piece that is a token (llama-bpe). */
    add(&v, "xyz", 1);
    kvs k = {0};
    kv_str(&k, "general.architecture", "llama");
    if (flaw != TV_NO_MODEL) kv_str(&k, "tokenizer.ggml.model", flaw == TV_UNKNOWN_MODEL ? "bert" : "gpt2");
    kv_str(&k, "tokenizer.ggml.pre", flaw == TV_BAD_PRE ? "bogus" : pre);
    kv_tokens(&k, &v, flaw);
    kv_types(&k, &v, flaw);
    if (flaw != TV_NO_MERGES) {
        kv_array(&k, "tokenizer.ggml.merges", 8, (uint64_t)v.n_merges);
        for (int i = 0; i < v.n_merges; i++)
            gw_str(&k.body, v.merges[i]);
    }
    kv_bos(&k, &v, (uint32_t)bos, flaw);
    kv_u32(&k, "tokenizer.ggml.eos_token_id", (uint32_t)eos);
    kv_bool(&k, "tokenizer.ggml.add_bos_token", !strcmp(pre, "llama-bpe"));
    return finish(&k);
}
