/* What the tokenizer's three files share: the vocabulary, the output, and
 * the merge loop both BPE kinds run (tokenizer.c); each kind's setup and
 * encoder (tokenizer_spm.c, tokenizer_bpe.c). */
#ifndef EI_TOKENIZER_INTERNAL_H
#define EI_TOKENIZER_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "entropyinfer_tokenizer.h"

/* tokenizer.ggml.token_type values (llama.cpp's numbering; 0 is
 * "undefined", read as normal). */
enum {
    EI_TOKEN_NORMAL = 1,
    EI_TOKEN_UNKNOWN = 2,
    EI_TOKEN_CONTROL = 3,
    EI_TOKEN_USER_DEFINED = 4,
    EI_TOKEN_UNUSED = 5,
    EI_TOKEN_BYTE = 6
};

/* The longest text tokenize accepts; keeps every offset in 32 bits (the
 * SentencePiece buffer holds up to three bytes per input byte). */
#define EI_TOKENIZE_MAX_TEXT (1u << 30)

#define EI_TOKENIZER_MAX_EOG 8

/* A node of the trie of user-defined and control token texts: its children
 * are a list through `sibling`, the root's a table by first byte. */
typedef struct ei_trie_node {
    uint32_t child, sibling, token;
    uint8_t byte;
} ei_trie_node;

struct ei_tokenizer {
    int bpe; /* GPT-2 byte-level BPE; else SentencePiece */
    uint32_t n_vocab;
    char *text;       /* every token's text, back to back */
    size_t *text_at;  /* n_vocab + 1 offsets into text */
    char *piece;      /* what each token decodes to, back to back */
    size_t *piece_at; /* n_vocab + 1 offsets into piece */
    uint8_t *type;
    float *score; /* SentencePiece only */
    /* Token text to id: open addressing, EI_TOKEN_NONE where empty. */
    uint32_t *slots;
    size_t slot_mask;
    ei_trie_node *trie;
    uint32_t trie_root[256];
    uint32_t bos, eos, unk;
    uint32_t eog[EI_TOKENIZER_MAX_EOG];
    int n_eog;
    int add_bos, add_space_prefix;
    /* The token each byte falls back to: SentencePiece's <0xXX> tokens,
     * GPT-2's byte-level characters; the unknown token where the
     * vocabulary lacks one. */
    uint32_t byte_token[256];
    /* SentencePiece: a dense index of each UNUSED token (EI_TOKEN_NONE for
     * others; NULL when there are none). */
    uint32_t *unused_index;
    uint32_t n_unused;
    size_t longest; /* bytes of the longest token text */
    /* GPT-2: merges by token pair ((left << 32) | right, 0 where empty),
     * with their rank (index in .merges) and the merged token. */
    uint64_t *merge_pair;
    uint32_t *merge_rank, *merge_token;
    size_t merge_mask;
    pcre2_code *regex;
    int ignore_merges; /* Llama 3: a piece that is a token is not merged */
};

/* The id of the token whose text is s[0, n), or EI_TOKEN_NONE. */
uint32_t ei_tok_find(const ei_tokenizer *t, const char *s, size_t n);

/* The bytes of the valid UTF-8 character at s (n bytes available): 1 to 4,
 * or 0 when s does not start one (overlong, surrogate, past U+10FFFF,
 * truncated, or a stray continuation byte). */
size_t ei_utf8_char(const uint8_t *s, size_t n);

/* Where ids go: counted always, stored while there is room. */
typedef struct ei_tok_out {
    uint32_t *ids;
    size_t capacity, count;
} ei_tok_out;

static inline void ei_tok_emit(ei_tok_out *out, uint32_t id) {
    if (out->count < out->capacity) out->ids[out->count] = id;
    out->count++;
}

/* A run of bytes being merged: [start, start + len) of the encoder's text,
 * in a list by prev/next (EI_TOKEN_NONE at the ends); len 0 once merged
 * into its left neighbour. id: the token it is (EI_TOKEN_NONE if none). */
typedef struct ei_tok_symbol {
    uint32_t start, len, prev, next, id;
} ei_tok_symbol;

/* A candidate merge of symbols left and right, `size` bytes together, into
 * token id. Candidates come out smallest key first: a priority in the high
 * 32 bits, the left symbol's index (leftmost first) in the low. */
typedef struct ei_tok_pair {
    uint64_t key;
    uint32_t left, right, size, id;
} ei_tok_pair;

typedef struct ei_tok_heap {
    ei_tok_pair *items;
    size_t count, capacity;
} ei_tok_heap;

void ei_tok_heap_free(ei_tok_heap *heap);

/* Whether symbols a and b may merge: if so, sets the priority (lower
 * first) and the merged token. */
typedef int (*ei_tok_pair_fn)(void *ctx, const ei_tok_symbol *a, const ei_tok_symbol *b, uint32_t *priority,
                              uint32_t *id);

/* Merges the n linked symbols until no candidate is left, always taking the
 * candidate with the smallest key; heap is the caller's scratch. */
ei_status ei_tok_merge(ei_tok_symbol *symbols, uint32_t n, ei_tok_heap *heap, ei_tok_pair_fn pair, void *ctx);

ei_status ei_spm_setup(ei_tokenizer *t, char *error, size_t error_size);
ei_status ei_spm_encode(const ei_tokenizer *t, const uint8_t *text, size_t n, ei_tok_out *out);

ei_status ei_bpe_setup(ei_tokenizer *t, const ei_gguf *g, char *error, size_t error_size);
ei_status ei_bpe_encode(const ei_tokenizer *t, const uint8_t *text, size_t n, ei_tok_out *out);
void ei_bpe_free(ei_tokenizer *t);

#endif
