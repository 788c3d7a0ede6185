/* EntropyInfer-VK: text to token ids and back, with the vocabulary a GGUF
 * file carries (vkinfer's tokenizers).
 *
 * Two kinds, chosen by tokenizer.ggml.model:
 * - "llama": SentencePiece's BPE model (Llama 2, Gemma). Spaces become
 *   U+2581, then the adjacent pair whose concatenation is a token with the
 *   highest score merges first (ties: leftmost); a piece outside the
 *   vocabulary falls back to its <0xXX> byte tokens, or the unknown token.
 * - "gpt2": GPT-2's byte-level BPE (Llama 3, Qwen2). The text is split by
 *   the regular expression tokenizer.ggml.pre names, each byte becomes
 *   GPT-2's byte-level character, and merges apply by rank within a piece.
 *
 * Texts are bytes: any input tokenizes, invalid UTF-8 included (SentencePiece:
 * such a byte goes to its byte token; GPT-2: each such byte is a piece of
 * its own). Tokenizing takes O(n log n) time in the text's length.
 *
 * Threads: a tokenizer is read-only once created; any number of threads may
 * tokenize with it at once. It holds no pointer into the GGUF reader. */
#ifndef ENTROPYINFER_TOKENIZER_H
#define ENTROPYINFER_TOKENIZER_H

#include "entropyinfer_gguf.h"

EI_API_BEGIN

typedef struct ei_tokenizer ei_tokenizer;

/* The id accessors give this when the vocabulary names no such token. */
#define EI_TOKEN_NONE 0xffffffffu

typedef enum ei_tokenize_flag {
    /* Start with the BOS token, when the vocabulary asks for one
     * (tokenizer.ggml.add_bos_token; when absent, true for "llama", false
     * for "gpt2"). */
    EI_TOKENIZE_ADD_BOS = 1,
    /* The text of a control token (such as <start_of_turn>, <|im_start|> or
     * <bos>) stands for that token. Without this flag such text is
     * tokenized as ordinary text. User-defined tokens (Gemma's <b> or runs
     * of spaces) always stand for themselves, as in SentencePiece, Hugging
     * Face tokenizers and llama.cpp. Where several match, the leftmost
     * wins, then the longest. */
    EI_TOKENIZE_SPECIAL = 2
} ei_tokenize_flag;

/* Reads the tokenizer of a GGUF file: tokenizer.ggml.model, .tokens, and
 * where present .scores, .token_type, .merges ("gpt2": required), .pre,
 * .bos_token_id, .eos_token_id, .eot_token_id, .eom_token_id,
 * .unknown_token_id, .add_bos_token and .add_space_prefix ("llama": a
 * leading U+2581 before the text; true when absent). Everything needed is
 * copied: the tokenizer outlives ei_gguf_close. A missing vocabulary, an
 * array whose length differs from the vocabulary's, a merge or id naming no
 * token, an unknown model or pre-tokenizer, or a vocabulary that cannot
 * spell every byte (no byte tokens and no unknown token) gives
 * EI_ERROR_INVALID_ARGUMENT with the reason in error (may be NULL). On
 * failure *out is NULL. */
ei_status ei_tokenizer_create(const ei_gguf *g, ei_tokenizer **out, char *error, size_t error_size);

/* NULL is a no-op. */
void ei_tokenizer_destroy(ei_tokenizer *t);

/* Tokenizes `length` bytes of text (which need not be NUL-terminated, may
 * hold NUL bytes, and may be NULL when length is 0) with ei_tokenize_flag
 * bits. *count gets the number of ids the text needs; the first
 * min(count, capacity) are written to ids (NULL when capacity is 0). Too
 * small a capacity gives EI_ERROR_LIMIT_EXCEEDED, so a call with capacity 0
 * asks for the size. With add_space_prefix, every run of text (the start,
 * and text after a user-defined or control token) gets a leading U+2581, as
 * llama.cpp does. Texts over 1 GiB give EI_ERROR_LIMIT_EXCEEDED. */
ei_status ei_tokenize(const ei_tokenizer *t, const char *text, size_t length, int flags, uint32_t *ids, size_t capacity,
                      size_t *count);

/* The bytes token `id` stands for when detokenizing, not NUL-terminated:
 * SentencePiece pieces with U+2581 as a space and <0xXX> tokens as that
 * byte; GPT-2 pieces with the byte-level characters turned back into bytes;
 * user-defined tokens as their text; control and unknown tokens as nothing.
 * *length gets the piece's length; when it exceeds capacity, nothing is
 * written and the result is EI_ERROR_LIMIT_EXCEEDED. Concatenating the
 * pieces of a text's ids gives the text back, except that with
 * add_space_prefix each run of text starts with one added space (drop the
 * first piece's leading space) and that control tokens vanish. */
ei_status ei_token_to_piece(const ei_tokenizer *t, uint32_t id, char *buf, size_t capacity, size_t *length);

uint32_t ei_tokenizer_vocab_size(const ei_tokenizer *t);
/* BOS and EOS ids, or EI_TOKEN_NONE. */
uint32_t ei_tokenizer_bos(const ei_tokenizer *t);
uint32_t ei_tokenizer_eos(const ei_tokenizer *t);
/* Whether the tokenizer adds a leading space to text (add_space_prefix). */
int ei_tokenizer_space_prefix(const ei_tokenizer *t);

/* Whether generating `id` ends the turn: EOS, EOT, EOM, and the control
 * tokens chat templates end a turn with (Gemma's <end_of_turn>, <|eot_id|>,
 * <|eom_id|>, <|im_end|>, <|endoftext|>), which GGUF files often do not
 * name as EOS. */
int ei_token_is_eog(const ei_tokenizer *t, uint32_t id);

EI_API_END

#endif
