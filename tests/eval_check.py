#!/usr/bin/env python3
"""ei-eval and vkinfer --stats end to end on tiny random-weight models
(model_tiny.py), under the validation layer; any validation message fails:

    eval_check.py --ei-eval PATH --vkinfer PATH --workdir DIR [--heatmaps]

- each ei-eval task runs (passkey: every method configuration, with
  constants small enough for sparse segments and compressions at these
  lengths) and writes a well-formed JSON (a random model's accuracy means
  nothing: not checked);
- vkinfer --stats writes per layer what ran dense, and for the global layer
  of tiny-gemma3 per KV head and segment an entropy and a keep count within
  algorithm.md's bounds, rigid exactly when every entropy from segment 1 on
  is below e_t;
- with --heatmaps (a build with libpng): ei-eval heatmap draws PNGs from that
  file, and from a prompt file, with its own stats.json.
"""
import argparse
import json
import struct
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import model_tiny  # noqa: E402

# Small segments and budgets, for sparse segments and compressions in short prompts.
METHOD = ["--segment", "16", "--block", "4", "--threshold-len", "16", "--base-budget", "16",
          "--decode-budget", "64", "--window", "8", "--decode-gap", "2"]
CONFIGS = "full/full,entropy/full,critiprefill/full,reference/full,entropy/latent,full/snapkv,entropy/adakv"


class Failure(Exception):
    pass


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=600)
    bad = [line for line in r.stderr.splitlines() if "validation" in line]
    if r.returncode != 0 or bad:
        raise Failure(f"{' '.join(cmd)}: exit {r.returncode}\n{r.stderr[-2000:]}")
    return r.stdout


def expect(cond, what):
    if not cond:
        raise Failure(what)


def check_task(ei_eval, model, task, work, lengths, configs):
    out = work / f"{task}.json"
    depths, samples = [0, 100], 1
    table = run([ei_eval, task, "-m", str(model), "--len", ",".join(map(str, lengths)),
                 "--depths", ",".join(map(str, depths)), "--samples", str(samples), "--gen", "8",
                 "--configs", configs, "--json", str(out), "--validation"] + METHOD)
    expect("correct/runs by prompt length" in table, f"{task}: no accuracy table:\n{table}")
    d = json.loads(out.read_text())
    expect(d["task"] == task and d["complete"] is True, f"{task}: task or complete wrong")
    expect(d["lengths"] == lengths and d["depths"] == depths, f"{task}: lengths or depths wrong")
    expect([f"{c['attn']}/{c['kv']}" for c in d["configs"]] == configs.split(","), f"{task}: configs")
    configs = d["configs"]
    expect(d["method"]["segment_size"] == 16 and d["method"]["decode_budget"] == 64, f"{task}: method {d['method']}")
    runs = d["runs"]
    expect(len(runs) == len(configs) * len(lengths) * len(depths) * samples, f"{task}: {len(runs)} runs")
    for r in runs:
        expect(isinstance(r["correct"], bool) and isinstance(r["output"], str) and r["answer"], f"{task}: run {r}")
        expect(0 < r["prompt_tokens"] <= r["length"] and 1 <= r["generated"] <= 8, f"{task}: run {r}")
        expect(r["prefill_ms"] > 0, f"{task}: run {r}")
    # Every configuration saw the same prompt at each (length, depth).
    for key in {(r["length"], r["depth"]) for r in runs}:
        same = {(r["prompt_tokens"], r["answer"]) for r in runs if (r["length"], r["depth"]) == key}
        expect(len(same) == 1, f"{task}: configurations saw different prompts at {key}: {same}")
    cells = d["accuracy"]
    expect(len(cells) == len(configs) * len(lengths) * len(depths), f"{task}: {len(cells)} accuracy cells")
    expect(sum(c["runs"] for c in cells) == len(runs), f"{task}: accuracy cells do not add up")
    expect(sum(c["correct"] for c in cells) == sum(r["correct"] for r in runs), f"{task}: correct counts differ")
    print(f"{task}: {len(runs)} runs, {sum(r['correct'] for r in runs)} correct (random weights)")


def check_stats(path, n_layer, global_layers):
    d = json.loads(path.read_text())
    cfg = d["config"]
    b, b0, seg = cfg["block_size"], cfg["base_budget"], cfg["segment_size"]
    layers = d["layers"]
    expect(len(layers) == n_layer and [x["layer"] for x in layers] == list(range(n_layer)), "stats: layers")
    for x in layers:
        expect(x["dense"] == (x["layer"] not in global_layers), f"stats: layer {x}")
        if x["dense"]:
            expect(x["reason"] in ("sliding window", "layer_skip"), f"stats: layer {x}")
            continue
        length = d["prompt_tokens"]
        nseg = -(-length // seg)
        maxeff = (nseg - 1) * seg // b - (length % seg // b + 1)
        expect(x["segments"] == nseg and len(x["heads"]) == d["kv_heads"], f"stats: layer {x['layer']} shape")
        for h in x["heads"]:
            e, keep = h["entropy"], h["keep"]
            expect(len(e) == nseg and len(keep) == nseg and keep[0] == 0, f"stats: head {h}")
            for s in range(1, nseg):
                cap = min(s * seg // b, maxeff)
                expect(min(b0 // b, cap) <= keep[s] <= min(3 * b0 // b, cap), f"stats: keep {keep} of segment {s}")
            expect(h["rigid"] == all(v < cfg["e_t"] for v in e[1:]), f"stats: rigid of {h}")
    return d


def check_refusals(ei_eval, model):
    """Bad input: one line on stderr, "ei-eval: error:", a non-zero exit."""
    for args, want in ((["sorting"], "unknown command"),
                       (["passkey", "-m", str(model), "--len", "2000"], "exceed the model's context"),
                       (["kv", "-m", str(model), "--len", "50"], "do not hold"),
                       (["needle", "--configs", "entropy/lossy"], "--configs"),
                       (["passkey", "--depths", "0,150"], "--depths"),
                       (["heatmap", "--out", "x"], "one of --stats and -f"),
                       (["passkey", "--segment", "12", "--block", "8"], "segment")):
        r = subprocess.run([ei_eval] + args, capture_output=True, text=True, timeout=120)
        lines = r.stderr.splitlines()
        expect(r.returncode not in (0,) and r.returncode < 128 and len(lines) == 1 and
               lines[0].startswith("ei-eval: error:") and want in lines[0],
               f"ei-eval {' '.join(args)}: exit {r.returncode}, stderr {r.stderr!r}")


def png_size(path):
    data = path.read_bytes()
    expect(data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path} is not a PNG")
    return struct.unpack(">II", data[16:24])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ei-eval", required=True)
    ap.add_argument("--vkinfer", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--heatmaps", action="store_true")
    args = ap.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    llama, gemma = work / "tiny-llama.gguf", work / "tiny-gemma3.gguf"
    model_tiny.write_model(llama, "llama", n_ctx=1024)  # room for the tasks' text in its letter-sized tokens
    model_tiny.write_model(gemma, "gemma3")
    try:
        check_refusals(args.ei_eval, llama)
        # Every configuration on one task; the others briefly.
        check_task(args.ei_eval, llama, "passkey", work, [250, 300], CONFIGS)
        check_task(args.ei_eval, llama, "kv", work, [250], "full/full,entropy/snapkv")
        check_task(args.ei_eval, llama, "needle", work, [350], "full/full,entropy/snapkv")
        prompt = work / "prompt.txt"
        prompt.write_text("the quick brown fox jumps over the lazy dog " * 5)
        stats = work / "stats.json"
        # -b 16: the method's prompt still goes in one call, layer by layer.
        run([args.vkinfer, "-m", str(gemma), "-f", str(prompt), "-n", "2", "--temp", "0", "--attn", "entropy",
             "-b", "16", "--stats", str(stats), "--validation"] + METHOD)
        d = check_stats(stats, 6, {5})
        print(f"vkinfer --stats: {d['prompt_tokens']} tokens, layer 5 keeps {d['layers'][5]['heads'][0]['keep']}")
        if args.heatmaps:
            for source, out in ((["--stats", str(stats)], work / "heat_stats"),
                                (["-m", str(gemma), "-f", str(prompt), "--validation"] + METHOD, work / "heat_prompt")):
                out.mkdir(exist_ok=True)
                run([args.ei_eval, "heatmap", "--out", str(out)] + source)
                pngs = sorted(p.name for p in out.glob("*.png"))
                expect(pngs == ["layer_05.png", "rigid.png"], f"heatmap {source[0]}: {pngs}")
                w, h = png_size(out / "rigid.png")
                expect(w > 16 and h > 16, f"rigid.png is {w}x{h}")
            check_stats(work / "heat_prompt" / "stats.json", 6, {5})
            print("heatmaps: layer_05.png and rigid.png from --stats and from a prompt")
    except Failure as f:
        print(f"FAIL: {f}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
