#define _POSIX_C_SOURCE 200809L /* getline, clock_gettime */
/* The tokenizers. With arguments, each a .vectors file of
 * tests/tokenizer_oracle.py: the ids SentencePiece and Hugging Face
 * tokenizers give for its cases, compared id by id, and the text their
 * pieces make.
 * Without: the small vocabularies of tests/util/tokenizer_vocab.c, worked
 * by hand (merges, byte fallback, UNUSED pieces, special tokens, BOS,
 * end-of-generation tokens), capacity and argument errors, malformed
 * metadata (each refused with its message), round trips of random bytes, and
 * the growth of the time with the text's length.
 * Usage: test_tokenizer [VECTORS...] */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "entropyinfer_tokenizer.h"
#include "util/test_util.h"
#include "util/tokenizer_vocab.h"

static ei_tokenizer *create(gw w, char *error, size_t error_size, ei_status *status) {
    ei_gguf *g = NULL;
    ei_tokenizer *t = NULL;
    ei_status st = ei_gguf_parse(w.data, w.size, &g, error, error_size);
    if (st == EI_OK) st = ei_tokenizer_create(g, &t, error, error_size);
    /* The tokenizer must not keep pointers into the file. */
    ei_gguf_close(g);
    gw_free(&w);
    if (status) *status = st;
    return t;
}

static ei_tokenizer *good(gw w) {
    char error[256] = "";
    ei_tokenizer *t = create(w, error, sizeof error, NULL);
    CHECK(t != NULL, "a good vocabulary is refused: %s", error);
    if (!t) exit(tu_tally());
    return t;
}

/* The ids of a text (asking for the count first); free the result. */
static uint32_t *tokenize(const ei_tokenizer *t, const void *text, size_t n, int flags, size_t *count) {
    size_t need = 0;
    ei_status st = ei_tokenize(t, text, n, flags, NULL, 0, &need);
    CHECK(st == (need ? EI_ERROR_LIMIT_EXCEEDED : EI_OK), "asking for the size: %s", ei_status_name(st));
    uint32_t *ids = tu_alloc(need + 1, sizeof *ids);
    st = ei_tokenize(t, text, n, flags, ids, need, count);
    CHECK(st == EI_OK && *count == need, "tokenize: %s, %zu ids after %zu asked for", ei_status_name(st), *count, need);
    return ids;
}

/* The pieces of ids back to back (NUL-terminated for printing); with `sep`,
 * pieces are separated by '|' and empty ones written as [id]. */
static char *detokenize(const ei_tokenizer *t, const uint32_t *ids, size_t count, int sep, size_t *length) {
    size_t capacity = 64, n = 0;
    char *out = tu_alloc(capacity, 1);
    for (size_t i = 0; i < count; i++) {
        size_t piece = 0;
        ei_token_to_piece(t, ids[i], NULL, 0, &piece);
        while (n + piece + 16 > capacity) {
            out = realloc(out, capacity *= 2);
            if (!out) exit(1);
        }
        if (sep && i) out[n++] = '|';
        CHECK(ei_token_to_piece(t, ids[i], out + n, piece, &piece) == EI_OK, "piece of %u", ids[i]);
        n += piece;
        if (sep && !piece) n += (size_t)snprintf(out + n, 16, "[%u]", ids[i]);
    }
    out[n] = '\0';
    if (length) *length = n;
    return out;
}

/* Tokenizes `text` and compares the pieces, '|'-separated, with `want`. */
static void expect(const ei_tokenizer *t, const char *text, int flags, const char *want) {
    size_t count;
    uint32_t *ids = tokenize(t, text, strlen(text), flags, &count);
    char *got = detokenize(t, ids, count, 1, NULL);
    CHECK(!strcmp(got, want), "'%s' (flags %d) gives '%s', want '%s'", text, flags, got, want);
    free(got), free(ids);
}

static void check_spm(void) {
    ei_tokenizer *t = good(tv_spm(1, TV_GOOD));
    CHECK(ei_tokenizer_vocab_size(t) == 301 && ei_tokenizer_bos(t) == 1 && ei_tokenizer_eos(t) == 2 &&
              ei_tokenizer_space_prefix(t),
          "SentencePiece vocabulary: size %u, BOS %u, EOS %u", ei_tokenizer_vocab_size(t), ei_tokenizer_bos(t),
          ei_tokenizer_eos(t));
    expect(t, "hello world", 0, " hello| world");
    expect(t, "hello world", EI_TOKENIZE_ADD_BOS, "[1]| hello| world");
    /* "▁t" merges first (leftmost of two), then "he", then "▁the"; the
     * second word has no "▁th", so "in" and "ing". */
    expect(t, "the thing", 0, " the| t|h|ing");
    /* "▁wor" is UNUSED: made by a merge, then split into what made it. */
    expect(t, "wor", 0, " w|or");
    expect(t, "world", 0, " world");
    /* The control token "wo" is no merge's result. */
    expect(t, "two", 0, " t|w|o");
    /* Byte fallback: 'x' and 本 have no pieces. */
    expect(t, "x", 0, " |x");
    expect(t, "\xe6\x97\xa5\xe6\x9c\xac", 0, " |\xe6\x97\xa5|\xe6|\x9c|\xac");
    expect(t, "a\xff", 0, " |a|\xff");
    expect(t, "", EI_TOKENIZE_ADD_BOS, "[1]");
    expect(t, "", 0, "");
    /* Control tokens only with EI_TOKENIZE_SPECIAL; user-defined always.
     * Each run of text gets the prefix. */
    expect(t, "<start_of_turn>hi", EI_TOKENIZE_SPECIAL, "[3]| h|i");
    expect(t, "<s><s>", EI_TOKENIZE_SPECIAL, "[1]|[1]");
    expect(t, "a<b>a  a", 0, " |a|<b>| |a|  | |a");
    size_t count;
    uint32_t *ids = tokenize(t, "<start_of_turn>hi", 17, 0, &count);
    int control = 0;
    for (size_t i = 0; i < count; i++)
        control |= ids[i] == 3;
    char *text = detokenize(t, ids, count, 0, NULL);
    CHECK(!control && !strcmp(text, " <start_of_turn>hi"), "control text without the flag: '%s'", text);
    free(text), free(ids);
    CHECK(ei_token_is_eog(t, 2) && ei_token_is_eog(t, 4) && !ei_token_is_eog(t, 3) && !ei_token_is_eog(t, 1),
          "end-of-generation tokens: </s> and <end_of_turn>");
    ei_tokenizer_destroy(t);

    /* Gemma 3 has no space prefix. */
    t = good(tv_spm(0, TV_GOOD));
    CHECK(!ei_tokenizer_space_prefix(t), "add_space_prefix false");
    expect(t, "hello world", 0, "he|ll|o| world");
    expect(t, "<start_of_turn>hi", EI_TOKENIZE_SPECIAL, "[3]|h|i");
    ei_tokenizer_destroy(t);
}

static void check_bpe(void) {
    ei_tokenizer *t = good(tv_bpe("llama-bpe", TV_GOOD));
    uint32_t bos = ei_tokenizer_bos(t), eos = ei_tokenizer_eos(t);
    CHECK(bos != EI_TOKEN_NONE && eos == bos + 1 && !ei_tokenizer_space_prefix(t), "GPT-2 vocabulary: BOS, EOS");
    expect(t, "hello world", 0, "hello| world");
    expect(t, "the thing", 0, "t|he| t|h|ing");
    expect(t,
           "a\xff"
           "b",
           0, "a|\xff|b");
    /* <|begin_of_text|>, <|end_of_text|>, <|im_start|>, <|im_end|> follow
     * each other. */
    char want[64];
    snprintf(want, sizeof want, "[%u]|h|i", bos + 2);
    expect(t, "<|im_start|>hi", EI_TOKENIZE_SPECIAL, want);
    expect(t, "x<tool_call>y", 0, "x|<tool_call>|y");
    expect(t, "xyz", 0, "xyz");
    snprintf(want, sizeof want, "[%u]|[%u]", bos, bos);
    expect(t, "<|begin_of_text|>", EI_TOKENIZE_SPECIAL | EI_TOKENIZE_ADD_BOS, want);
    snprintf(want, sizeof want, "[%u]", bos);
    expect(t, "", EI_TOKENIZE_ADD_BOS, want);
    CHECK(ei_token_is_eog(t, eos) && ei_token_is_eog(t, bos + 3) && !ei_token_is_eog(t, bos + 2),
          "end-of-generation tokens: <|end_of_text|> and <|im_end|>");
    ei_tokenizer_destroy(t);
    /* Qwen2 adds no BOS, and merges a piece that is a token as well. */
    t = good(tv_bpe("qwen2", TV_GOOD));
    expect(t, "hello world", EI_TOKENIZE_ADD_BOS, "hello| world");
    expect(t, "xyz", 0, "x|y|z");
    ei_tokenizer_destroy(t);
}

static void check_errors(void) {
    ei_tokenizer *t = good(tv_spm(1, TV_GOOD));
    uint32_t ids[8];
    size_t count = 99;
    CHECK(ei_tokenize(t, "hello world", 11, 0, ids, 1, &count) == EI_ERROR_LIMIT_EXCEEDED && count == 2,
          "capacity 1 for 2 ids: count %zu", count);
    CHECK(ei_tokenize(t, "hello world", 11, 0, ids, 2, &count) == EI_OK && count == 2, "capacity 2");
    CHECK(ei_tokenize(NULL, "a", 1, 0, ids, 8, &count) == EI_ERROR_INVALID_ARGUMENT, "NULL tokenizer");
    CHECK(ei_tokenize(t, "a", 1, 0, ids, 8, NULL) == EI_ERROR_INVALID_ARGUMENT, "NULL count");
    CHECK(ei_tokenize(t, NULL, 1, 0, ids, 8, &count) == EI_ERROR_INVALID_ARGUMENT, "NULL text");
    CHECK(ei_tokenize(t, NULL, 0, 0, NULL, 0, &count) == EI_OK && count == 0, "NULL empty text");
    CHECK(ei_tokenize(t, "a", 1, 0, NULL, 8, &count) == EI_ERROR_INVALID_ARGUMENT, "NULL ids with capacity");
    CHECK(ei_tokenize(t, "a", 1, 64, ids, 8, &count) == EI_ERROR_INVALID_ARGUMENT, "unknown flag");
    char piece[8];
    size_t length = 99;
    CHECK(ei_token_to_piece(t, 301, piece, 8, &length) == EI_ERROR_INVALID_ARGUMENT && length == 0, "id past the end");
    CHECK(ei_token_to_piece(t, 3, piece, 8, &length) == EI_OK && length == 0, "a control token has no piece");
    CHECK(ei_token_to_piece(t, 7 + 'A', piece, 8, &length) == EI_OK && length == 1 && piece[0] == 'A', "<0x41>");
    CHECK(ei_token_to_piece(t, 7 + 256 + 13, piece, 2, &length) == EI_ERROR_LIMIT_EXCEEDED && length == 6,
          "capacity 2 for ' hello': length %zu", length);
    CHECK(ei_tokenizer_vocab_size(NULL) == 0 && ei_tokenizer_bos(NULL) == EI_TOKEN_NONE && !ei_token_is_eog(NULL, 0),
          "accessors take NULL");
    ei_tokenizer_destroy(t);
    ei_tokenizer_destroy(NULL);
}

static void check_malformed(void) {
    static const struct {
        tv_flaw flaw;
        int bpe;
        const char *word;
    } cases[] = {{TV_NO_MODEL, 0, "tokenizer.ggml.model is missing"},
                 {TV_UNKNOWN_MODEL, 1, "'bert' is not supported"},
                 {TV_NO_TOKENS, 0, "tokenizer.ggml.tokens"},
                 {TV_NUMBER_TOKENS, 1, "tokenizer.ggml.tokens"},
                 {TV_SHORT_SCORES, 0, "scores has 300 entries for 301"},
                 {TV_SHORT_TYPES, 1, "token_type has"},
                 {TV_BAD_TYPE, 0, "not a token type"},
                 {TV_BAD_BOS, 1, "bos_token_id must be a token id"},
                 {TV_STRING_BOS, 0, "bos_token_id must be a token id"},
                 {TV_NO_BYTES, 0, "no <0x00> byte token"},
                 {TV_NO_MERGES, 1, "merges"},
                 {TV_UNKNOWN_MERGE, 1, "merge 15"},
                 {TV_MERGE_NO_SPACE, 1, "merge 15 ('hello')"},
                 {TV_BAD_PRE, 1, "pre-tokenizer 'bogus'"},
                 {TV_MISSING_BYTE, 1, "byte 0x41"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char error[256] = "";
        ei_status st;
        gw w = cases[i].bpe ? tv_bpe("llama-bpe", cases[i].flaw) : tv_spm(1, cases[i].flaw);
        ei_tokenizer *t = create(w, error, sizeof error, &st);
        CHECK(st == EI_ERROR_INVALID_ARGUMENT && !t && strstr(error, cases[i].word), "flaw %d: %s, '%s'",
              (int)cases[i].flaw, ei_status_name(st), error);
        printf("flaw %2d -> %s\n", (int)cases[i].flaw, error);
        ei_tokenizer_destroy(t);
    }
    ei_tokenizer *t = NULL;
    CHECK(ei_tokenizer_create(NULL, &t, NULL, 0) == EI_ERROR_INVALID_ARGUMENT && !t, "NULL file");
}

/* Random texts from pieces that stress merges, spaces, user-defined tokens
 * and invalid bytes; detokenizing gives each back. */
static void check_round_trips(void) {
    static const char *const parts[] = {"h",           "e",           "l",        "lo",  "o",
                                        " ",           "  ",          "w",        "or",  "ld",
                                        "the",         "ing",         "\n",       "\t",  "\xe6\x97\xa5",
                                        "\xc3\xa9",    "\xff",        "\xe2\x82", "<b>", "x",
                                        "<tool_call>", "'s",          "12",       "!",   "\xf0\x9f\x98\x80",
                                        "\0",          "\xe2\x96\x81"};
    ei_tokenizer *bpe = good(tv_bpe("llama-bpe", TV_GOOD)), *spm = good(tv_spm(0, TV_GOOD));
    int failures = 0;
    for (int round = 0; round < 3000; round++) {
        char text[256];
        size_t n = 0;
        for (uint32_t k = tu_below(24); k; k--) {
            const char *p = parts[tu_below(sizeof parts / sizeof parts[0])];
            size_t len = p[0] ? strlen(p) : 1;
            memcpy(text + n, p, len);
            n += len;
        }
        /* U+2581 decodes as a space in SentencePiece. */
        int mark = 0;
        for (size_t i = 0; i + 3 <= n; i++)
            mark |= !memcmp(text + i, "\xe2\x96\x81", 3);
        for (int kind = 0; kind < 2; kind++) {
            if (kind == 1 && mark) continue;
            const ei_tokenizer *t = kind ? spm : bpe;
            size_t count, length;
            uint32_t *ids = tokenize(t, text, n, 0, &count);
            char *back = detokenize(t, ids, count, 0, &length);
            if ((length != n || memcmp(back, text, n)) && failures++ < 5)
                CHECK(0, "%s round trip of %zu bytes gives %zu", kind ? "SentencePiece" : "GPT-2", n, length);
            free(back), free(ids);
        }
    }
    CHECK(failures == 0, "%d round trips failed", failures);
    ei_tokenizer_destroy(bpe), ei_tokenizer_destroy(spm);
}

static double seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* `n` bytes of a kind of text: prose, one letter, spaces, random bytes. */
static char *long_text(int kind, size_t n) {
    static const char *const words[] = {"the ", "world ", "hello ", "thing ",       "token ",
                                        "is ",  "of ",    "12 ",    "caf\xc3\xa9 ", "\xe6\x97\xa5\xe6\x9c\xac ",
                                        "\n",   ", ",     "<b> "};
    char *text = tu_alloc(n + 16, 1);
    size_t at = 0;
    while (at < n) {
        if (kind == 0) {
            const char *w = words[tu_below(sizeof words / sizeof words[0])];
            memcpy(text + at, w, strlen(w));
            at += strlen(w);
        } else {
            text[at++] = kind == 1 ? 'a' : kind == 2 ? ' ' : (char)tu_below(256);
        }
    }
    return text;
}

/* Tokenizing 4x the text must take about 4x the time (quadratic would be
 * 16x); prints the time of the longer one. */
static void check_time(const ei_tokenizer *t, const char *name) {
    static const char *const kinds[] = {"prose", "one letter", "spaces", "random bytes"};
    const size_t n = 100000;
    for (int kind = 0; kind < 4; kind++) {
        char *text = long_text(kind, 4 * n);
        double best[2] = {1e9, 1e9};
        size_t count = 0;
        for (int rep = 0; rep < 3; rep++) {
            for (int size = 0; size < 2; size++) {
                double start = seconds();
                free(tokenize(t, text, size ? 4 * n : n, 0, &count));
                double took = seconds() - start;
                best[size] = took < best[size] ? took : best[size];
            }
        }
        double ratio = best[1] / (best[0] > 1e-4 ? best[0] : 1e-4);
        printf("%s, %s: %zu bytes -> %zu tokens in %.1f ms (x%.1f for 4x the text)\n", name, kinds[kind], 4 * n, count,
               best[1] * 1e3, ratio);
        CHECK(ratio < 10, "%s, %s: 4x the text takes %.1fx the time", name, kinds[kind], ratio);
        free(text);
    }
}

/* Reads n bytes written as 2n hex digits. */
static void unhex(const char *hex, size_t n, char *out) {
    for (size_t i = 0; i < 2 * n; i++) {
        int digit = hex[i] <= '9' ? hex[i] - '0' : (hex[i] | 0x20) - 'a' + 10;
        out[i / 2] = (char)(i % 2 ? (out[i / 2] << 4) | digit : digit);
    }
}

/* One .vectors file: every case's ids and detokenized text. */
static void check_vectors(const char *path) {
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s", path);
    if (!f) return;
    char *line = NULL;
    size_t line_capacity = 0;
    ssize_t got = getline(&line, &line_capacity, f);
    CHECK(got > 5 && !strncmp(line, "gguf\t", 5), "%s: no gguf line", path);
    if (got <= 5) return;
    line[strcspn(line, "\n")] = '\0';
    char error[256];
    ei_gguf *g = NULL;
    ei_tokenizer *t = NULL;
    ei_status st = ei_gguf_open(line + 5, &g, error, sizeof error);
    if (st == EI_OK) st = ei_tokenizer_create(g, &t, error, sizeof error);
    ei_gguf_close(g);
    CHECK(st == EI_OK, "%s: %s", line + 5, error);
    if (st != EI_OK) return;
    int cases = 0, mismatches = 0, detokenized = 0;
    while (getline(&line, &line_capacity, f) > 0) {
        int flags = atoi(line);
        char *hex_text = strchr(line, '\t'), *id_list = hex_text ? strchr(hex_text + 1, '\t') : NULL;
        CHECK(id_list != NULL, "%s: a malformed line", path);
        if (!id_list) break;
        size_t n = (size_t)(id_list - hex_text - 1) / 2, count, want_n = 0;
        char *text = tu_alloc(n + 1, 1);
        unhex(hex_text + 1, n, text);
        uint32_t *want = tu_alloc(strlen(id_list) + 1, sizeof *want);
        for (char *p = id_list + 1; *p && *p != '\t';) {
            want[want_n++] = (uint32_t)strtoul(p, &p, 10);
            p += *p == ',';
        }
        uint32_t *ids = tokenize(t, text, n, flags, &count);
        size_t at = 0;
        while (at < count && at < want_n && ids[at] == want[at])
            at++;
        cases++;
        if ((at < count || at < want_n) && mismatches++ == 0) {
            /* The first mismatch, with a few ids of context as pieces. */
            size_t from = at > 3 ? at - 3 : 0;
            char *got_pieces = detokenize(t, ids + from, (count < at + 4 ? count : at + 4) - from, 1, NULL);
            char *want_pieces = detokenize(t, want + from, (want_n < at + 4 ? want_n : at + 4) - from, 1, NULL);
            fprintf(stderr,
                    "%s: flags %d, text '%.*s': id %zu differs (%zu ids, want %zu)\n  got  ...%s\n  want ...%s\n", path,
                    flags, (int)(n < 120 ? n : 120), text, at, count, want_n, got_pieces, want_pieces);
            free(got_pieces), free(want_pieces);
        }
        /* What the pieces make, as the oracle worked it out. */
        char *detok_hex = strchr(id_list + 1, '\t');
        CHECK(detok_hex != NULL, "%s: no detokenized text", path);
        const char *detok = detok_hex ? detok_hex + 1 : "";
        size_t length, want_length = strspn(detok, "0123456789abcdef") / 2;
        char *back = detokenize(t, ids, count, 0, &length), *want_text = tu_alloc(want_length + 1, 1);
        unhex(detok, want_length, want_text);
        int same = length == want_length && !memcmp(back, want_text, length);
        CHECK(same, "%s: flags %d, '%.*s' detokenizes to '%s'", path, flags, (int)(n < 120 ? n : 120), text, back);
        detokenized += same;
        free(back), free(want_text);
        free(text), free(want), free(ids);
    }
    CHECK(mismatches == 0 && cases > 0, "%s: %d of %d cases differ", path, mismatches, cases);
    printf("%s: %d cases, %d match the oracle's ids, %d its detokenized text\n", path, cases, cases - mismatches,
           detokenized);
    check_time(t, path);
    free(line);
    fclose(f);
    ei_tokenizer_destroy(t);
}

int main(int argc, char **argv) {
    tu_seed();
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            check_vectors(argv[i]);
        return tu_tally();
    }
    check_spm();
    check_bpe();
    check_errors();
    check_malformed();
    check_round_trips();
    ei_tokenizer *t = good(tv_spm(1, TV_GOOD));
    check_time(t, "small SentencePiece vocabulary");
    ei_tokenizer_destroy(t);
    t = good(tv_bpe("llama-bpe", TV_GOOD));
    check_time(t, "small GPT-2 vocabulary");
    ei_tokenizer_destroy(t);
    return tu_tally();
}
