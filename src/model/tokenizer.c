/* The tokenizer's common half: reading the vocabulary from GGUF metadata
 * (key names as llama.cpp's converters write them), the text-to-id map,
 * user-defined and control tokens, the merge loop of both BPE kinds, and
 * pieces for detokenizing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"

/* Texts that end a chat turn where the file names another token as EOS
 * (llama.cpp treats the same texts as end-of-generation). */
static const char *const eog_texts[] = {"<end_of_turn>", "<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|endoftext|>"};

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
    return h;
}

uint32_t ei_tok_find(const ei_tokenizer *t, const char *s, size_t n) {
    for (size_t at = hash_bytes(s, n) & t->slot_mask;; at = (at + 1) & t->slot_mask) {
        uint32_t id = t->slots[at];
        if (id == EI_TOKEN_NONE) return EI_TOKEN_NONE;
        if (t->text_at[id + 1] - t->text_at[id] == n && !memcmp(t->text + t->text_at[id], s, n)) return id;
    }
}

size_t ei_utf8_char(const uint8_t *s, size_t n) {
    uint8_t c = s[0];
    if (c < 0x80) return 1;
    size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
    /* The second byte's range excludes overlong forms, surrogates and code
     * points past U+10FFFF (RFC 3629's table). */
    uint8_t lo = 0x80, hi = 0xbf;
    if (c < 0xc2 || c > 0xf4) return 0;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    return len;
}

/* ---- The merge loop ---- */

void ei_tok_heap_free(ei_tok_heap *heap) {
    free(heap->items);
    heap->items = NULL;
    heap->count = heap->capacity = 0;
}

static ei_status heap_push(ei_tok_heap *heap, ei_tok_pair p) {
    if (heap->count == heap->capacity) {
        size_t capacity = heap->capacity ? heap->capacity * 2 : 64;
        ei_tok_pair *grown = realloc(heap->items, capacity * sizeof *grown);
        if (!grown) return EI_ERROR_OUT_OF_HOST_MEMORY;
        heap->items = grown;
        heap->capacity = capacity;
    }
    size_t i = heap->count++;
    while (i > 0 && heap->items[(i - 1) / 2].key > p.key) {
        heap->items[i] = heap->items[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    heap->items[i] = p;
    return EI_OK;
}

static ei_tok_pair heap_pop(ei_tok_heap *heap) {
    ei_tok_pair top = heap->items[0], last = heap->items[--heap->count];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= heap->count) break;
        if (c + 1 < heap->count && heap->items[c + 1].key < heap->items[c].key) c++;
        if (heap->items[c].key >= last.key) break;
        heap->items[i] = heap->items[c];
        i = c;
    }
    if (heap->count) heap->items[i] = last;
    return top;
}

static ei_status try_pair(ei_tok_symbol *s, uint32_t a, uint32_t b, ei_tok_heap *heap, ei_tok_pair_fn pair, void *ctx) {
    uint32_t priority, id;
    if (!pair(ctx, &s[a], &s[b], &priority, &id)) return EI_OK;
    ei_tok_pair p = {((uint64_t)priority << 32) | a, a, b, s[a].len + s[b].len, id};
    return heap_push(heap, p);
}

ei_status ei_tok_merge(ei_tok_symbol *s, uint32_t n, ei_tok_heap *heap, ei_tok_pair_fn pair, void *ctx) {
    ei_status st = EI_OK;
    heap->count = 0;
    for (uint32_t i = 0; i + 1 < n && st == EI_OK; i++)
        st = try_pair(s, i, i + 1, heap, pair, ctx);
    while (heap->count && st == EI_OK) {
        ei_tok_pair p = heap_pop(heap);
        ei_tok_symbol *left = &s[p.left], *right = &s[p.right];
        /* A candidate is stale once either side has merged with another
         * neighbour: then the two no longer span exactly `size` bytes. */
        if (!left->len || !right->len || left->next != p.right || left->len + right->len != p.size) continue;
        left->len = p.size;
        left->id = p.id;
        left->next = right->next;
        if (right->next != EI_TOKEN_NONE) s[right->next].prev = p.left;
        right->len = 0;
        if (left->prev != EI_TOKEN_NONE) st = try_pair(s, left->prev, p.left, heap, pair, ctx);
        if (left->next != EI_TOKEN_NONE && st == EI_OK) st = try_pair(s, p.left, left->next, heap, pair, ctx);
    }
    return st;
}

/* ---- Reading the vocabulary ---- */

static ei_status fail(char *error, size_t error_size, const char *message, const char *key) {
    snprintf(error, error_size, "tokenizer: %s%s", key ? key : "", message);
    return EI_ERROR_INVALID_ARGUMENT;
}

/* An optional array of n elements: *at is -1 when the key is absent. */
static ei_status find_array(const ei_gguf *g, const char *key, uint64_t n, int64_t *at, char *error,
                            size_t error_size) {
    ei_gguf_type type;
    uint64_t count;
    *at = ei_gguf_find_key(g, key);
    if (*at < 0) return EI_OK;
    if (ei_gguf_get_array(g, (uint64_t)*at, &type, &count) != EI_OK || type == EI_GGUF_ARRAY || type == EI_GGUF_STRING)
        return fail(error, error_size, " is not an array of numbers", key);
    if (count != n) {
        snprintf(error, error_size, "tokenizer: %s has %llu entries for %llu tokens", key, (unsigned long long)count,
                 (unsigned long long)n);
        return EI_ERROR_INVALID_ARGUMENT;
    }
    return EI_OK;
}

/* An optional token id below n_vocab: EI_TOKEN_NONE when absent. */
static ei_status read_id(const ei_gguf *g, const char *key, uint32_t n_vocab, uint32_t *id, char *error,
                         size_t error_size) {
    int64_t at = ei_gguf_find_key(g, key);
    uint64_t v = EI_TOKEN_NONE;
    *id = EI_TOKEN_NONE;
    if (at < 0) return EI_OK;
    if (ei_gguf_get_uint(g, (uint64_t)at, &v) != EI_OK || v >= n_vocab) {
        snprintf(error, error_size, "tokenizer: %s must be a token id below %u", key, n_vocab);
        return EI_ERROR_INVALID_ARGUMENT;
    }
    *id = (uint32_t)v;
    return EI_OK;
}

static ei_status read_bool(const ei_gguf *g, const char *key, int *value, char *error, size_t error_size) {
    int64_t at = ei_gguf_find_key(g, key);
    if (at >= 0 && ei_gguf_get_bool(g, (uint64_t)at, value) != EI_OK)
        return fail(error, error_size, " is not a bool", key);
    return EI_OK;
}

static ei_status read_tokens(ei_tokenizer *t, const ei_gguf *g, char *error, size_t error_size) {
    ei_gguf_type type;
    uint64_t n = 0, length, bytes = 0;
    const char *s;
    int64_t at = ei_gguf_find_key(g, "tokenizer.ggml.tokens");
    if (at < 0 || ei_gguf_get_array(g, (uint64_t)at, &type, &n) != EI_OK || type != EI_GGUF_STRING || n == 0)
        return fail(error, error_size, "tokenizer.ggml.tokens (the vocabulary) is missing or empty", NULL);
    if (n >= EI_TOKEN_NONE) return fail(error, error_size, "tokenizer.ggml.tokens has too many tokens", NULL);
    t->n_vocab = (uint32_t)n;
    for (uint64_t i = 0; i < n; i++) {
        /* The reader checked each string against the file's size, so the
         * sum cannot overflow. */
        if (ei_gguf_array_string(g, (uint64_t)at, i, &s, &length) != EI_OK)
            return fail(error, error_size, ei_gguf_error(g), NULL);
        bytes += length;
    }
    t->text = malloc(bytes ? bytes : 1);
    t->piece = malloc(bytes ? bytes : 1);
    t->text_at = malloc((n + 1) * sizeof *t->text_at);
    t->piece_at = malloc((n + 1) * sizeof *t->piece_at);
    t->type = malloc(n);
    size_t slots = 16;
    while (slots < 2 * n)
        slots *= 2;
    t->slots = malloc(slots * sizeof *t->slots);
    t->slot_mask = slots - 1;
    if (!t->text || !t->piece || !t->text_at || !t->piece_at || !t->type || !t->slots)
        return EI_ERROR_OUT_OF_HOST_MEMORY;
    memset(t->slots, 0xff, slots * sizeof *t->slots);
    t->text_at[0] = 0;
    for (uint32_t i = 0; i < n; i++) {
        ei_gguf_array_string(g, (uint64_t)at, i, &s, &length);
        memcpy(t->text + t->text_at[i], s, length);
        t->text_at[i + 1] = t->text_at[i] + length;
        /* A repeated text keeps its first id. */
        if (ei_tok_find(t, s, length) != EI_TOKEN_NONE) continue;
        size_t slot = hash_bytes(s, length) & t->slot_mask;
        while (t->slots[slot] != EI_TOKEN_NONE)
            slot = (slot + 1) & t->slot_mask;
        t->slots[slot] = i;
    }
    return EI_OK;
}

static ei_status read_types(ei_tokenizer *t, const ei_gguf *g, char *error, size_t error_size) {
    int64_t at;
    ei_status st = find_array(g, "tokenizer.ggml.token_type", t->n_vocab, &at, error, error_size);
    for (uint32_t i = 0; i < t->n_vocab && st == EI_OK; i++) {
        int64_t v = EI_TOKEN_NORMAL;
        if (at >= 0 && (ei_gguf_array_int(g, (uint64_t)at, i, &v) != EI_OK || v < 0 || v > EI_TOKEN_BYTE)) {
            snprintf(error, error_size, "tokenizer: tokenizer.ggml.token_type[%u] is not a token type (0 to 6)", i);
            return EI_ERROR_INVALID_ARGUMENT;
        }
        t->type[i] = v ? (uint8_t)v : EI_TOKEN_NORMAL;
    }
    return st;
}

static ei_status read_scores(ei_tokenizer *t, const ei_gguf *g, char *error, size_t error_size) {
    int64_t at;
    ei_status st = find_array(g, "tokenizer.ggml.scores", t->n_vocab, &at, error, error_size);
    if (st != EI_OK) return st;
    t->score = calloc(t->n_vocab, sizeof *t->score);
    if (!t->score) return EI_ERROR_OUT_OF_HOST_MEMORY;
    for (uint32_t i = 0; i < t->n_vocab && at >= 0; i++) {
        double v;
        if (ei_gguf_array_float(g, (uint64_t)at, i, &v) != EI_OK)
            return fail(error, error_size, " is not an array of floats", "tokenizer.ggml.scores");
        t->score[i] = (float)v;
    }
    return EI_OK;
}

static int is_special(const ei_tokenizer *t, uint32_t id) {
    return t->type[id] == EI_TOKEN_CONTROL || t->type[id] == EI_TOKEN_UNKNOWN || t->type[id] == EI_TOKEN_USER_DEFINED;
}

/* The trie of every user-defined, control and unknown token's text. */
static ei_status build_trie(ei_tokenizer *t) {
    size_t nodes = 0, capacity = 0;
    memset(t->trie_root, 0xff, sizeof t->trie_root);
    for (uint32_t id = 0; id < t->n_vocab; id++) {
        const uint8_t *s = (const uint8_t *)t->text + t->text_at[id];
        size_t n = t->text_at[id + 1] - t->text_at[id];
        if (!is_special(t, id) || n == 0) continue;
        if (nodes + n > UINT32_MAX - 1) return EI_ERROR_LIMIT_EXCEEDED;
        if (nodes + n > capacity) {
            capacity = (nodes + n) * 2;
            ei_trie_node *grown = realloc(t->trie, capacity * sizeof *grown);
            if (!grown) return EI_ERROR_OUT_OF_HOST_MEMORY;
            t->trie = grown;
        }
        uint32_t *link = &t->trie_root[s[0]], node = EI_TOKEN_NONE;
        for (size_t i = 0; i < n; i++) {
            while (*link != EI_TOKEN_NONE && t->trie[*link].byte != s[i])
                link = &t->trie[*link].sibling;
            if (*link == EI_TOKEN_NONE) {
                t->trie[nodes] = (ei_trie_node){EI_TOKEN_NONE, EI_TOKEN_NONE, EI_TOKEN_NONE, s[i]};
                *link = (uint32_t)nodes++;
            }
            node = *link;
            link = &t->trie[node].child;
        }
        if (t->trie[node].token == EI_TOKEN_NONE) t->trie[node].token = id;
    }
    return EI_OK;
}

/* The longest token of the trie that starts at text[at] and may stand for
 * itself under `flags`, or EI_TOKEN_NONE; *length gets its bytes. */
static uint32_t match_special(const ei_tokenizer *t, const uint8_t *text, size_t n, size_t at, int flags,
                              size_t *length) {
    uint32_t best = EI_TOKEN_NONE, node = t->trie_root[text[at]];
    for (size_t i = at; node != EI_TOKEN_NONE;) {
        uint32_t id = t->trie[node].token;
        if (id != EI_TOKEN_NONE && (t->type[id] == EI_TOKEN_USER_DEFINED || (flags & EI_TOKENIZE_SPECIAL))) {
            best = id;
            *length = i + 1 - at;
        }
        if (++i == n) break;
        node = t->trie[node].child;
        while (node != EI_TOKEN_NONE && t->trie[node].byte != text[i])
            node = t->trie[node].sibling;
    }
    return best;
}

static ei_status read_special_ids(ei_tokenizer *t, const ei_gguf *g, char *error, size_t error_size) {
    uint32_t eot, eom;
    ei_status st = read_id(g, "tokenizer.ggml.bos_token_id", t->n_vocab, &t->bos, error, error_size);
    if (st == EI_OK) st = read_id(g, "tokenizer.ggml.eos_token_id", t->n_vocab, &t->eos, error, error_size);
    if (st == EI_OK) st = read_id(g, "tokenizer.ggml.eot_token_id", t->n_vocab, &eot, error, error_size);
    if (st == EI_OK) st = read_id(g, "tokenizer.ggml.eom_token_id", t->n_vocab, &eom, error, error_size);
    if (st == EI_OK) st = read_id(g, "tokenizer.ggml.unknown_token_id", t->n_vocab, &t->unk, error, error_size);
    if (st != EI_OK) return st;
    for (uint32_t id = 0; id < t->n_vocab && t->unk == EI_TOKEN_NONE; id++)
        if (t->type[id] == EI_TOKEN_UNKNOWN) t->unk = id;
    const uint32_t named[3] = {t->eos, eot, eom};
    for (int i = 0; i < 3; i++)
        if (named[i] != EI_TOKEN_NONE) t->eog[t->n_eog++] = named[i];
    for (size_t i = 0; i < sizeof eog_texts / sizeof eog_texts[0]; i++) {
        uint32_t id = ei_tok_find(t, eog_texts[i], strlen(eog_texts[i]));
        if (id != EI_TOKEN_NONE && t->type[id] == EI_TOKEN_CONTROL) t->eog[t->n_eog++] = id;
    }
    t->add_bos = !t->bpe;
    t->add_space_prefix = !t->bpe;
    st = read_bool(g, "tokenizer.ggml.add_bos_token", &t->add_bos, error, error_size);
    if (st == EI_OK && !t->bpe)
        st = read_bool(g, "tokenizer.ggml.add_space_prefix", &t->add_space_prefix, error, error_size);
    return st;
}

ei_status ei_tokenizer_create(const ei_gguf *g, ei_tokenizer **out, char *error, size_t error_size) {
    char scratch[8];
    if (!error || !error_size) error = scratch, error_size = sizeof scratch;
    error[0] = '\0';
    if (!out) return fail(error, error_size, "NULL argument", NULL);
    *out = NULL;
    if (!g) return fail(error, error_size, "NULL argument", NULL);
    const char *model = NULL;
    uint64_t length = 0;
    int64_t at = ei_gguf_find_key(g, "tokenizer.ggml.model");
    if (at < 0 || ei_gguf_get_string(g, (uint64_t)at, &model, &length) != EI_OK)
        return fail(error, error_size, "tokenizer.ggml.model is missing", NULL);
    int spm = length == 5 && !memcmp(model, "llama", 5), bpe = length == 4 && !memcmp(model, "gpt2", 4);
    if (!spm && !bpe) {
        snprintf(error, error_size, "tokenizer: model '%.*s' is not supported (llama, gpt2)",
                 (int)(length < 40 ? length : 40), model);
        return EI_ERROR_INVALID_ARGUMENT;
    }
    ei_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return EI_ERROR_OUT_OF_HOST_MEMORY;
    t->bpe = bpe;
    ei_status st = read_tokens(t, g, error, error_size);
    if (st == EI_OK) st = read_types(t, g, error, error_size);
    if (st == EI_OK && spm) st = read_scores(t, g, error, error_size);
    if (st == EI_OK) st = read_special_ids(t, g, error, error_size);
    if (st == EI_OK) st = build_trie(t);
    if (st == EI_OK) st = bpe ? ei_bpe_setup(t, g, error, error_size) : ei_spm_setup(t, error, error_size);
    if (st != EI_OK) {
        if (!error[0])
            snprintf(error, error_size, "tokenizer: %s",
                     st == EI_ERROR_OUT_OF_HOST_MEMORY ? "out of host memory" : "the vocabulary is too large");
        ei_tokenizer_destroy(t);
        return st;
    }
    *out = t;
    return EI_OK;
}

void ei_tokenizer_destroy(ei_tokenizer *t) {
    if (!t) return;
    ei_bpe_free(t);
    free(t->text), free(t->text_at), free(t->piece), free(t->piece_at), free(t->type), free(t->score);
    free(t->slots), free(t->trie), free(t->unused_index);
    free(t);
}

/* ---- Tokenizing ---- */

static ei_status encode_text(const ei_tokenizer *t, const uint8_t *text, size_t n, ei_tok_out *out) {
    return t->bpe ? ei_bpe_encode(t, text, n, out) : ei_spm_encode(t, text, n, out);
}

ei_status ei_tokenize(const ei_tokenizer *t, const char *text, size_t length, int flags, uint32_t *ids, size_t capacity,
                      size_t *count) {
    if (count) *count = 0;
    if (!t || !count || (!text && length) || (!ids && capacity) ||
        (flags & ~(EI_TOKENIZE_ADD_BOS | EI_TOKENIZE_SPECIAL)))
        return EI_ERROR_INVALID_ARGUMENT;
    if (length > EI_TOKENIZE_MAX_TEXT) return EI_ERROR_LIMIT_EXCEEDED;
    const uint8_t *s = (const uint8_t *)text;
    ei_tok_out out = {ids, capacity, 0};
    ei_status st = EI_OK;
    if ((flags & EI_TOKENIZE_ADD_BOS) && t->add_bos && t->bos != EI_TOKEN_NONE) ei_tok_emit(&out, t->bos);
    /* User-defined (and with EI_TOKENIZE_SPECIAL, control) tokens cut the
     * text into runs that are encoded apart. */
    size_t run = 0;
    for (size_t i = 0; i < length && st == EI_OK;) {
        size_t n = 0;
        uint32_t id = match_special(t, s, length, i, flags, &n);
        if (id == EI_TOKEN_NONE) {
            i++;
            continue;
        }
        if (i > run) st = encode_text(t, s + run, i - run, &out);
        ei_tok_emit(&out, id);
        run = i += n;
    }
    if (run < length && st == EI_OK) st = encode_text(t, s + run, length - run, &out);
    *count = out.count;
    if (st == EI_OK && out.count > capacity) st = EI_ERROR_LIMIT_EXCEEDED;
    return st;
}

ei_status ei_token_to_piece(const ei_tokenizer *t, uint32_t id, char *buf, size_t capacity, size_t *length) {
    if (length) *length = 0;
    if (!t || !length || id >= t->n_vocab || (!buf && capacity)) return EI_ERROR_INVALID_ARGUMENT;
    size_t n = t->piece_at[id + 1] - t->piece_at[id];
    *length = n;
    if (n > capacity) return EI_ERROR_LIMIT_EXCEEDED;
    if (n) memcpy(buf, t->piece + t->piece_at[id], n);
    return EI_OK;
}

uint32_t ei_tokenizer_vocab_size(const ei_tokenizer *t) { return t ? t->n_vocab : 0; }
uint32_t ei_tokenizer_bos(const ei_tokenizer *t) { return t ? t->bos : EI_TOKEN_NONE; }
uint32_t ei_tokenizer_eos(const ei_tokenizer *t) { return t ? t->eos : EI_TOKEN_NONE; }
int ei_tokenizer_space_prefix(const ei_tokenizer *t) { return t && t->add_space_prefix; }

int ei_token_is_eog(const ei_tokenizer *t, uint32_t id) {
    for (int i = 0; t && i < t->n_eog; i++)
        if (t->eog[i] == id) return 1;
    return 0;
}
