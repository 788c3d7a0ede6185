/* libFuzzer target for the tokenizers: arbitrary bytes as text through a
 * small SentencePiece and a small GPT-2 vocabulary (tests/util/
 * tokenizer_vocab.c), with and without special tokens and BOS. Checks that
 * every id is in the vocabulary, that asking for the size agrees with
 * tokenizing, and that byte-level BPE gives any bytes back. An input that
 * starts with "GGUF" is a vocabulary instead (the seeds hold the two small
 * ones): created if the reader and the tokenizer accept it, then used on a
 * fixed text. Build with clang and -DEI_BUILD_FUZZERS=ON; run:
 * build-fuzz/tests/fuzz_tokenizer tests/fuzz/corpus_tokenizer. */
#include <stdlib.h>
#include <string.h>

#include "entropyinfer_tokenizer.h"
#include "util/tokenizer_vocab.h"

static ei_tokenizer *tokenizers[3];

static ei_tokenizer *load(gw w) {
    ei_gguf *g = NULL;
    ei_tokenizer *t = NULL;
    if (ei_gguf_parse(w.data, w.size, &g, NULL, 0) != EI_OK || ei_tokenizer_create(g, &t, NULL, 0) != EI_OK) abort();
    ei_gguf_close(g);
    gw_free(&w);
    return t;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    tokenizers[0] = load(tv_bpe("llama-bpe", TV_GOOD));
    tokenizers[1] = load(tv_bpe("gpt2", TV_GOOD));
    tokenizers[2] = load(tv_spm(1, TV_GOOD));
    return 0;
}

/* Tokenizes `size` bytes with every flag: ids in the vocabulary, the size
 * query agreeing, and with `round_trip` the pieces giving the text back. */
static void check(const ei_tokenizer *t, const uint8_t *data, size_t size, int round_trip) {
    /* Room for the worst: a space becoming U+2581 with no piece, three byte
     * tokens, and a prefix per run of text. */
    size_t capacity = 8 * size + 8;
    uint32_t *ids = malloc(capacity * sizeof *ids);
    char *back = malloc(size + 1);
    for (int flags = 0; flags < 4; flags++) {
        size_t count = 0, need = 0, length = 0, piece;
        if (ei_tokenize(t, (const char *)data, size, flags, ids, capacity, &count) != EI_OK) abort();
        ei_status st = ei_tokenize(t, (const char *)data, size, flags, NULL, 0, &need);
        if (need != count || st != (count ? EI_ERROR_LIMIT_EXCEEDED : EI_OK)) abort();
        for (size_t i = 0; i < count; i++) {
            if (ids[i] >= ei_tokenizer_vocab_size(t)) abort();
            /* Byte-level BPE without special tokens: the pieces are the
             * input, byte for byte. */
            if (round_trip && flags == 0) {
                if (ei_token_to_piece(t, ids[i], back + length, size - length, &piece) != EI_OK) abort();
                length += piece;
            }
        }
        if (round_trip && flags == 0 && (length != size || memcmp(back, data, size))) abort();
    }
    free(ids);
    free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size >= 4 && !memcmp(data, "GGUF", 4)) {
        static const char text[] = "Hello  world<b><|im_start|>\n\xff\xe6\x97\xa5 it's 12345 <start_of_turn>";
        ei_gguf *g = NULL;
        ei_tokenizer *t = NULL;
        if (ei_gguf_parse(data, size, &g, NULL, 0) == EI_OK && ei_tokenizer_create(g, &t, NULL, 0) == EI_OK) {
            ei_gguf_close(g);
            g = NULL;
            check(t, (const uint8_t *)text, sizeof text - 1, 0);
            for (uint32_t id = 0; id < ei_tokenizer_vocab_size(t) && id < 1024; id++) {
                char piece[64];
                size_t length;
                ei_token_to_piece(t, id, piece, sizeof piece, &length);
            }
        }
        ei_tokenizer_destroy(t);
        ei_gguf_close(g);
        return 0;
    }
    for (int k = 0; k < 3; k++)
        check(tokenizers[k], data, size, k < 2);
    return 0;
}
