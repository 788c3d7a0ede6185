/* GPT-2's byte-level BPE, as Llama 3 and Qwen2 use it: the text split into
 * pieces by the pre-tokenizer's regular expression (PCRE2 in UTF and
 * Unicode-property mode), each byte written as GPT-2's byte-level character,
 * then within each piece the pair with the lowest merge rank merges first
 * (ties: leftmost). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"

/* The pre-tokenizers by tokenizer.ggml.pre, with the patterns of the
 * models' tokenizer.json files. Llama 3 also skips merging a piece that is
 * a token already (its tokenizer.json's ignore_merges). */
#define PATTERN_TAIL "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define LLAMA3 "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}" PATTERN_TAIL
#define QWEN2 "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}" PATTERN_TAIL
#define GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

static const struct {
    const char *name, *pattern;
    int ignore_merges;
} pre_tokenizers[] = {
    {"default", GPT2, 0}, {"gpt2", GPT2, 0}, {"llama-bpe", LLAMA3, 1}, {"llama3", LLAMA3, 1}, {"qwen2", QWEN2, 0}};

#define NO_PAIR UINT64_MAX

/* GPT-2's byte-level alphabet: the printable Latin-1 bytes stand for
 * themselves, the other 68 (0x00-0x20, 0x7f-0xa0, 0xad) take the code
 * points from U+0100 on, in byte order. */
static uint32_t byte_level(uint8_t b) {
    if ((b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae) return b;
    if (b <= 0x20) return 0x100 + b;
    if (b <= 0xa0) return 0x100 + 0x21 + (b - 0x7fu);
    return 0x100 + 0x43;
}

/* The UTF-8 of a code point below U+0800 (all byte_level() gives). */
static size_t put_utf8(uint32_t cp, char *dst) {
    if (cp < 0x80) {
        dst[0] = (char)cp;
        return 1;
    }
    dst[0] = (char)(0xc0 | (cp >> 6));
    dst[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
}

static size_t pair_slot(uint64_t key, size_t mask) { return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 32) & mask; }

static ei_status read_pre(ei_tokenizer *t, const ei_gguf *g, char *error, size_t error_size) {
    const char *name = "default";
    uint64_t length = 7;
    int64_t at = ei_gguf_find_key(g, "tokenizer.ggml.pre");
    if (at >= 0 && ei_gguf_get_string(g, (uint64_t)at, &name, &length) != EI_OK) {
        snprintf(error, error_size, "tokenizer: tokenizer.ggml.pre is not a string");
        return EI_ERROR_INVALID_ARGUMENT;
    }
    for (size_t i = 0; i < sizeof pre_tokenizers / sizeof pre_tokenizers[0]; i++) {
        if (length != strlen(pre_tokenizers[i].name) || memcmp(name, pre_tokenizers[i].name, length)) continue;
        int code;
        PCRE2_SIZE offset;
        t->regex = pcre2_compile((PCRE2_SPTR)pre_tokenizers[i].pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP,
                                 &code, &offset, NULL);
        if (!t->regex) {
            PCRE2_UCHAR message[128];
            pcre2_get_error_message(code, message, sizeof message);
            snprintf(error, error_size, "tokenizer: the pre-tokenizer's pattern: %s", (const char *)message);
            return EI_ERROR_OUT_OF_HOST_MEMORY;
        }
        /* Without JIT support pcre2_match interprets the pattern. */
        pcre2_jit_compile(t->regex, PCRE2_JIT_COMPLETE);
        t->ignore_merges = pre_tokenizers[i].ignore_merges;
        return EI_OK;
    }
    snprintf(error, error_size,
             "tokenizer: pre-tokenizer '%.*s' is not supported (default, gpt2, llama-bpe, llama3, qwen2)",
             (int)(length < 40 ? length : 40), name);
    return EI_ERROR_INVALID_ARGUMENT;
}

/* Each merge "left right" names two tokens and the token they make. */
static ei_status read_merges(ei_tokenizer *t, const ei_gguf *g, char *error, size_t error_size) {
    ei_gguf_type type;
    uint64_t n = 0, length;
    const char *s;
    int64_t at = ei_gguf_find_key(g, "tokenizer.ggml.merges");
    if (at < 0 || ei_gguf_get_array(g, (uint64_t)at, &type, &n) != EI_OK || type != EI_GGUF_STRING) {
        snprintf(error, error_size, "tokenizer: tokenizer.ggml.merges (an array of strings) is missing");
        return EI_ERROR_INVALID_ARGUMENT;
    }
    if (n >= UINT32_MAX / 2) {
        snprintf(error, error_size, "tokenizer: tokenizer.ggml.merges has too many merges");
        return EI_ERROR_INVALID_ARGUMENT;
    }
    size_t slots = 16;
    while (slots < 2 * n)
        slots *= 2;
    t->merge_pair = malloc(slots * sizeof *t->merge_pair);
    t->merge_rank = malloc(slots * sizeof *t->merge_rank);
    t->merge_token = malloc(slots * sizeof *t->merge_token);
    t->merge_mask = slots - 1;
    char *joined = NULL;
    size_t joined_capacity = 0;
    if (!t->merge_pair || !t->merge_rank || !t->merge_token) return EI_ERROR_OUT_OF_HOST_MEMORY;
    memset(t->merge_pair, 0xff, slots * sizeof *t->merge_pair);
    ei_status st = EI_OK;
    for (uint32_t i = 0; i < n && st == EI_OK; i++) {
        if (ei_gguf_array_string(g, (uint64_t)at, i, &s, &length) != EI_OK) {
            snprintf(error, error_size, "tokenizer: %s", ei_gguf_error(g));
            st = EI_ERROR_INVALID_ARGUMENT;
            break;
        }
        /* The separator is the first space after the first byte, so a left
         * token may be a space itself. */
        const char *space = length > 1 ? memchr(s + 1, ' ', length - 1) : NULL;
        if (length > joined_capacity) {
            char *grown = realloc(joined, length);
            if (!grown) {
                st = EI_ERROR_OUT_OF_HOST_MEMORY;
                break;
            }
            joined = grown;
            joined_capacity = length;
        }
        uint32_t left = EI_TOKEN_NONE, right = EI_TOKEN_NONE, merged = EI_TOKEN_NONE;
        if (space) {
            size_t a = (size_t)(space - s), b = length - a - 1;
            left = ei_tok_find(t, s, a);
            right = ei_tok_find(t, space + 1, b);
            memcpy(joined, s, a);
            memcpy(joined + a, space + 1, b);
            merged = ei_tok_find(t, joined, a + b);
        }
        if (left == EI_TOKEN_NONE || right == EI_TOKEN_NONE || merged == EI_TOKEN_NONE) {
            snprintf(error, error_size,
                     "tokenizer: merge %u ('%.*s') is not two tokens that make a token of the vocabulary", i,
                     (int)(length < 60 ? length : 60), s);
            st = EI_ERROR_INVALID_ARGUMENT;
            break;
        }
        uint64_t key = ((uint64_t)left << 32) | right;
        size_t slot = pair_slot(key, t->merge_mask);
        while (t->merge_pair[slot] != NO_PAIR && t->merge_pair[slot] != key)
            slot = (slot + 1) & t->merge_mask;
        /* A repeated merge keeps its first (lowest) rank. */
        if (t->merge_pair[slot] == key) continue;
        t->merge_pair[slot] = key;
        t->merge_rank[slot] = i;
        t->merge_token[slot] = merged;
    }
    free(joined);
    return st;
}

/* What a token decodes to: nothing for control and unknown tokens, the
 * text of a user-defined token, else the bytes behind its byte-level
 * characters (a character outside that alphabet is copied). */
static void set_pieces(ei_tokenizer *t) {
    int16_t byte_of[0x100 + 68];
    memset(byte_of, 0xff, sizeof byte_of);
    for (int b = 0; b < 256; b++)
        byte_of[byte_level((uint8_t)b)] = (int16_t)b;
    t->piece_at[0] = 0;
    for (uint32_t id = 0; id < t->n_vocab; id++) {
        const uint8_t *s = (const uint8_t *)t->text + t->text_at[id];
        size_t n = t->text_at[id + 1] - t->text_at[id], length = 0;
        char *dst = t->piece + t->piece_at[id];
        uint8_t type = t->type[id];
        if (type == EI_TOKEN_USER_DEFINED) {
            memcpy(dst, s, n);
            length = n;
        } else if (type != EI_TOKEN_CONTROL && type != EI_TOKEN_UNKNOWN) {
            for (size_t i = 0; i < n;) {
                size_t c = ei_utf8_char(s + i, n - i);
                uint32_t cp = c == 1 ? s[i] : c == 2 ? ((s[i] & 0x1fu) << 6) | (s[i + 1] & 0x3fu) : 0x10000;
                if (cp < sizeof byte_of / sizeof byte_of[0] && byte_of[cp] >= 0) {
                    dst[length++] = (char)byte_of[cp];
                } else {
                    c = c ? c : 1;
                    memcpy(dst + length, s + i, c);
                    length += c;
                }
                i += c;
            }
        }
        t->piece_at[id + 1] = t->piece_at[id] + length;
    }
}

ei_status ei_bpe_setup(ei_tokenizer *t, const ei_gguf *g, char *error, size_t error_size) {
    ei_status st = read_pre(t, g, error, error_size);
    for (int b = 0; b < 256 && st == EI_OK; b++) {
        char c[2];
        t->byte_token[b] = ei_tok_find(t, c, put_utf8(byte_level((uint8_t)b), c));
        if (t->byte_token[b] != EI_TOKEN_NONE) continue;
        if (t->unk == EI_TOKEN_NONE) {
            snprintf(error, error_size, "tokenizer: the vocabulary has no token for byte 0x%02X and no unknown token",
                     b);
            return EI_ERROR_INVALID_ARGUMENT;
        }
        t->byte_token[b] = t->unk;
    }
    if (st == EI_OK) st = read_merges(t, g, error, error_size);
    if (st == EI_OK) set_pieces(t);
    return st;
}

void ei_bpe_free(ei_tokenizer *t) {
    pcre2_code_free(t->regex);
    free(t->merge_pair), free(t->merge_rank), free(t->merge_token);
}

static int bpe_pair(void *p, const ei_tok_symbol *a, const ei_tok_symbol *b, uint32_t *priority, uint32_t *id) {
    const ei_tokenizer *t = p;
    uint64_t key = ((uint64_t)a->id << 32) | b->id;
    for (size_t slot = pair_slot(key, t->merge_mask); t->merge_pair[slot] != NO_PAIR;
         slot = (slot + 1) & t->merge_mask) {
        if (t->merge_pair[slot] != key) continue;
        *priority = t->merge_rank[slot];
        *id = t->merge_token[slot];
        return 1;
    }
    return 0;
}

/* Memory one tokenize call reuses from piece to piece. */
typedef struct bpe_scratch {
    ei_tok_symbol *symbols;
    char *word;
    size_t capacity; /* bytes of a piece both hold room for */
    ei_tok_heap heap;
    pcre2_match_data *match;
} bpe_scratch;

static ei_status encode_piece(const ei_tokenizer *t, const uint8_t *p, size_t n, bpe_scratch *sc, ei_tok_out *out) {
    if (n > sc->capacity) {
        size_t capacity = n > 2 * sc->capacity ? n : 2 * sc->capacity;
        ei_tok_symbol *symbols = realloc(sc->symbols, capacity * sizeof *symbols);
        if (symbols) sc->symbols = symbols;
        char *word = realloc(sc->word, 2 * capacity);
        if (word) sc->word = word;
        if (!symbols || !word) return EI_ERROR_OUT_OF_HOST_MEMORY;
        sc->capacity = capacity;
    }
    if (t->ignore_merges) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            m += put_utf8(byte_level(p[i]), sc->word + m);
        uint32_t id = ei_tok_find(t, sc->word, m);
        if (id != EI_TOKEN_NONE) {
            ei_tok_emit(out, id);
            return EI_OK;
        }
    }
    ei_tok_symbol *s = sc->symbols;
    for (uint32_t i = 0; i < n; i++)
        s[i] = (ei_tok_symbol){i, 1, i ? i - 1 : EI_TOKEN_NONE, i + 1 < n ? i + 1 : EI_TOKEN_NONE, t->byte_token[p[i]]};
    ei_status st = ei_tok_merge(s, (uint32_t)n, &sc->heap, bpe_pair, (void *)t);
    for (uint32_t i = 0; i != EI_TOKEN_NONE && st == EI_OK; i = s[i].next)
        ei_tok_emit(out, s[i].id);
    return st;
}

/* Splits valid UTF-8 into pieces: each match of the pattern, and any text
 * between matches, is a piece (Hugging Face's Split, "isolated"). */
static ei_status split_run(const ei_tokenizer *t, const uint8_t *run, size_t n, bpe_scratch *sc, ei_tok_out *out) {
    ei_status st = EI_OK;
    for (size_t at = 0; at < n && st == EI_OK;) {
        size_t from = n, to = n;
        int rc = pcre2_match(t->regex, run, n, at, PCRE2_NO_UTF_CHECK, sc->match, NULL);
        if (rc >= 0) {
            PCRE2_SIZE *ovector = pcre2_get_ovector_pointer(sc->match);
            from = ovector[0];
            to = ovector[1];
        } else if (rc != PCRE2_ERROR_NOMATCH) {
            return EI_ERROR_LIMIT_EXCEEDED; /* a PCRE2 resource limit */
        }
        if (from > at) st = encode_piece(t, run + at, from - at, sc, out);
        /* No pattern matches empty text, but the loop must advance. */
        if (to == from && from < n) to = from + ei_utf8_char(run + from, n - from);
        if (to > from && st == EI_OK) st = encode_piece(t, run + from, to - from, sc, out);
        at = to;
    }
    return st;
}

ei_status ei_bpe_encode(const ei_tokenizer *t, const uint8_t *text, size_t n, ei_tok_out *out) {
    bpe_scratch sc = {0};
    sc.match = pcre2_match_data_create_from_pattern(t->regex, NULL);
    ei_status st = sc.match ? EI_OK : EI_ERROR_OUT_OF_HOST_MEMORY;
    /* PCRE2 reads valid UTF-8 only: each byte that starts no character is
     * a piece of its own, its byte's token. */
    for (size_t i = 0; i < n && st == EI_OK;) {
        size_t j = i, c;
        while (j < n && (c = ei_utf8_char(text + j, n - j)))
            j += c;
        if (j > i) {
            st = split_run(t, text + i, j - i, &sc, out);
        } else {
            ei_tok_emit(out, t->byte_token[text[i]]);
            j++;
        }
        i = j;
    }
    pcre2_match_data_free(sc.match);
    ei_tok_heap_free(&sc.heap);
    free(sc.symbols), free(sc.word);
    return st;
}
