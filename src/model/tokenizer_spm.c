/* SentencePiece's BPE model, as Llama 2 and Gemma use it: spaces escaped to
 * U+2581, characters merged by the score of the piece they make, pieces
 * outside the vocabulary spelled with <0xXX> byte tokens. Which pieces may
 * be made by a merge, how ties break and how UNUSED pieces fall apart again
 * follow SentencePiece's bpe_model.cc (its documented behaviour). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"

static const char space_mark[3] = {'\xe2', '\x96', '\x81'}; /* U+2581, SentencePiece's escaped space */

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* The byte a "<0xXX>" text names, or -1. */
static int byte_of(const char *s, size_t n) {
    if (n != 6 || memcmp(s, "<0x", 3) || s[5] != '>') return -1;
    int hi = hex_digit(s[3]), lo = hex_digit(s[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/* What a token decodes to: nothing for control and unknown tokens, the byte
 * of a byte token, else the text with U+2581 as a space. */
static void set_pieces(ei_tokenizer *t) {
    t->piece_at[0] = 0;
    for (uint32_t id = 0; id < t->n_vocab; id++) {
        const char *s = t->text + t->text_at[id];
        size_t n = t->text_at[id + 1] - t->text_at[id], length = 0;
        char *dst = t->piece + t->piece_at[id];
        int byte = byte_of(s, n);
        if (t->type[id] == EI_TOKEN_BYTE && byte >= 0) {
            dst[length++] = (char)byte;
        } else if (t->type[id] != EI_TOKEN_CONTROL && t->type[id] != EI_TOKEN_UNKNOWN) {
            for (size_t i = 0; i < n; i++) {
                if (i + 3 <= n && !memcmp(s + i, space_mark, 3)) {
                    dst[length++] = ' ';
                    i += 2;
                } else {
                    dst[length++] = s[i];
                }
            }
        }
        t->piece_at[id + 1] = t->piece_at[id] + length;
    }
}

ei_status ei_spm_setup(ei_tokenizer *t, char *error, size_t error_size) {
    memset(t->byte_token, 0xff, sizeof t->byte_token);
    for (uint32_t id = 0; id < t->n_vocab; id++) {
        int byte = byte_of(t->text + t->text_at[id], t->text_at[id + 1] - t->text_at[id]);
        if (t->type[id] == EI_TOKEN_BYTE && byte >= 0 && t->byte_token[byte] == EI_TOKEN_NONE) t->byte_token[byte] = id;
        t->n_unused += t->type[id] == EI_TOKEN_UNUSED;
        if (t->text_at[id + 1] - t->text_at[id] > t->longest) t->longest = t->text_at[id + 1] - t->text_at[id];
    }
    /* A byte without its token falls back to the unknown token. */
    for (int b = 0; b < 256; b++) {
        if (t->byte_token[b] != EI_TOKEN_NONE) continue;
        if (t->unk == EI_TOKEN_NONE) {
            snprintf(error, error_size, "tokenizer: the vocabulary has no <0x%02X> byte token and no unknown token", b);
            return EI_ERROR_INVALID_ARGUMENT;
        }
        t->byte_token[b] = t->unk;
    }
    if (t->n_unused) {
        t->unused_index = malloc(t->n_vocab * sizeof *t->unused_index);
        if (!t->unused_index) return EI_ERROR_OUT_OF_HOST_MEMORY;
        for (uint32_t id = 0, k = 0; id < t->n_vocab; id++)
            t->unused_index[id] = t->type[id] == EI_TOKEN_UNUSED ? k++ : EI_TOKEN_NONE;
    }
    set_pieces(t);
    return EI_OK;
}

/* A merge priority from a score: the highest score first; -0 and +0 tie,
 * as they compare equal as floats. */
static uint32_t priority_of(float score) {
    uint32_t bits;
    if (score == 0) score = 0;
    memcpy(&bits, &score, sizeof bits);
    bits = bits & 0x80000000u ? ~bits : bits | 0x80000000u; /* now unsigned order is float order */
    return ~bits;
}

typedef struct spm_ctx {
    const ei_tokenizer *t;
    const char *text;
    /* Per UNUSED token: the length of the left half of the latest candidate
     * merge that made it (0: none), to split it again at the end. */
    uint32_t *split;
} spm_ctx;

/* Merges may make NORMAL, USER_DEFINED and UNUSED pieces (SentencePiece's
 * `pieces_`), never control or byte tokens. */
static int spm_pair(void *p, const ei_tok_symbol *a, const ei_tok_symbol *b, uint32_t *priority, uint32_t *id) {
    spm_ctx *c = p;
    uint32_t token = ei_tok_find(c->t, c->text + a->start, a->len + b->len);
    if (token == EI_TOKEN_NONE) return 0;
    uint8_t type = c->t->type[token];
    if (type != EI_TOKEN_NORMAL && type != EI_TOKEN_USER_DEFINED && type != EI_TOKEN_UNUSED) return 0;
    if (type == EI_TOKEN_UNUSED) c->split[c->t->unused_index[token]] = a->len;
    *priority = priority_of(c->t->score[token]);
    *id = token;
    return 1;
}

/* Emits a merged symbol: an UNUSED piece splits back into the halves its
 * split records (recursively, with `pending` as the stack: at most one
 * entry per byte of the longest token), a piece outside the vocabulary
 * becomes byte tokens. */
static void emit_symbol(const spm_ctx *c, const ei_tok_symbol *symbol, uint64_t *pending, ei_tok_out *out) {
    const ei_tokenizer *t = c->t;
    size_t top = 0;
    uint32_t start = symbol->start, len = symbol->len, id = symbol->id;
    for (;;) {
        uint32_t left = id != EI_TOKEN_NONE && t->type[id] == EI_TOKEN_UNUSED ? c->split[t->unused_index[id]] : 0;
        if (left) {
            pending[top++] = ((uint64_t)(start + left) << 32) | (len - left);
            len = left;
        } else {
            if (id != EI_TOKEN_NONE) {
                ei_tok_emit(out, id);
            } else {
                for (uint32_t i = 0; i < len; i++)
                    ei_tok_emit(out, t->byte_token[(uint8_t)c->text[start + i]]);
            }
            if (!top) return;
            top--;
            start = (uint32_t)(pending[top] >> 32);
            len = (uint32_t)pending[top];
        }
        id = ei_tok_find(t, c->text + start, len);
    }
}

ei_status ei_spm_encode(const ei_tokenizer *t, const uint8_t *text, size_t n, ei_tok_out *out) {
    /* At most three bytes per input byte (a space becomes U+2581), and the
     * prefix; at most one symbol per byte, and the prefix. */
    size_t m = 0;
    char *buf = malloc(3 * n + 3);
    ei_tok_symbol *s = malloc((n + 1) * sizeof *s);
    spm_ctx ctx = {t, buf, t->n_unused ? calloc(t->n_unused, sizeof *ctx.split) : NULL};
    uint64_t *pending = t->n_unused ? malloc((t->longest + 1) * sizeof *pending) : NULL;
    ei_tok_heap heap = {0};
    ei_status st = EI_ERROR_OUT_OF_HOST_MEMORY;
    if (!buf || !s || (t->n_unused && (!ctx.split || !pending))) goto done;
    if (t->add_space_prefix) memcpy(buf, space_mark, 3), m = 3;
    for (size_t i = 0; i < n; i++) {
        if (text[i] == ' ') {
            memcpy(buf + m, space_mark, 3);
            m += 3;
        } else {
            buf[m++] = (char)text[i];
        }
    }
    /* One symbol per UTF-8 character; a byte that starts none stands
     * alone (and falls back to its byte token). */
    uint32_t count = 0;
    for (size_t i = 0; i < m; count++) {
        size_t len = ei_utf8_char((const uint8_t *)buf + i, m - i);
        if (!len) len = 1;
        s[count] = (ei_tok_symbol){(uint32_t)i, (uint32_t)len, count ? count - 1 : EI_TOKEN_NONE, EI_TOKEN_NONE,
                                   ei_tok_find(t, buf + i, len)};
        if (count) s[count - 1].next = count;
        i += len;
    }
    st = ei_tok_merge(s, count, &heap, spm_pair, &ctx);
    for (uint32_t i = count ? 0 : EI_TOKEN_NONE; i != EI_TOKEN_NONE && st == EI_OK; i = s[i].next)
        emit_symbol(&ctx, &s[i], pending, out);
done:
    ei_tok_heap_free(&heap);
    free(buf), free(s), free(ctx.split), free(pending);
    return st;
}
