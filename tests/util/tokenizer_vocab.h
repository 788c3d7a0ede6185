/* Small tokenizer vocabularies as in-memory GGUF files (metadata only), for
 * the tokenizer's test and fuzz target, and broken variants of them. */
#ifndef EI_TOKENIZER_VOCAB_H
#define EI_TOKENIZER_VOCAB_H

#include "gguf_writer.h"

/* What to break in the written file. */
typedef enum tv_flaw {
    TV_GOOD = 0,
    TV_NO_MODEL,       /* no tokenizer.ggml.model */
    TV_UNKNOWN_MODEL,  /* tokenizer.ggml.model = "bert" */
    TV_NO_TOKENS,      /* no tokenizer.ggml.tokens */
    TV_NUMBER_TOKENS,  /* tokens as an array of u32 */
    TV_SHORT_SCORES,   /* one score fewer than tokens */
    TV_SHORT_TYPES,    /* one token type fewer than tokens */
    TV_BAD_TYPE,       /* a token type of 9 */
    TV_BAD_BOS,        /* bos_token_id = the vocabulary's size */
    TV_STRING_BOS,     /* bos_token_id as a string */
    TV_NO_BYTES,       /* SentencePiece: no byte tokens, no unknown token */
    TV_NO_MERGES,      /* GPT-2: no tokenizer.ggml.merges */
    TV_UNKNOWN_MERGE,  /* GPT-2: a merge naming a token not in the vocabulary */
    TV_MERGE_NO_SPACE, /* GPT-2: a merge without a separating space */
    TV_BAD_PRE,        /* GPT-2: tokenizer.ggml.pre = "bogus" */
    TV_MISSING_BYTE,   /* GPT-2: no token for byte 0x41 and no unknown token */
    TV_FLAW_COUNT
} tv_flaw;

/* A SentencePiece vocabulary ("llama"): <unk>, <s>, </s>, control tokens
 * <start_of_turn> and <end_of_turn>, user-defined <b> and "  " (two
 * spaces), the 256 <0xXX> byte tokens, then pieces for "hello world",
 * "the", "ing" and a few characters (one piece, "\u2581wor", UNUSED), and
 * last a control token "wo"; BOS, EOS and unknown ids named,
 * add_space_prefix as given. */
gw tv_spm(int add_space_prefix, tv_flaw flaw);

/* A GPT-2 vocabulary ("gpt2") with the given pre-tokenizer: the 256
 * byte-level characters in byte order, the tokens of a few merges (" the",
 * " world", "hello", "ing"), control tokens <|begin_of_text|> (BOS),
 * <|end_of_text|> (EOS), <|im_start|>, <|im_end|>, user-defined
 * <tool_call>, and "xyz", which no merge makes; add_bos_token for
 * llama-bpe only. */
gw tv_bpe(const char *pre, tv_flaw flaw);

#endif
