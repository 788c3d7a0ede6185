#!/usr/bin/env python3
"""Speed against length from the bench tools' JSON lines, as PNG plots:

    plot_speed.py FILE.jsonl... --out DIR

Reads every line that is a JSON object (other lines are skipped) of
- `ei-bench --json` and `tools/bench/torch_ref.py` (fields impl, op, len, ms):
  DIR/bench_OP.png, milliseconds against length (log-log), a line per
  implementation and case (method, inputs, kv, dtype, shape);
- `vkinfer --json`, as tools/bench/vkinfer_sweep.sh and vkinfer_methods.sh
  print it (fields prompt_tokens, prefill_ms, attn, kv):
  DIR/vkinfer.png, prompt tokens/s (wall) and prefill GPU ms against prompt
  tokens, and generation tokens/s, a line per --attn/--kv pair.

Needs matplotlib (PyPI); nothing in the tests does.
"""
import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path


def records(paths):
    for path in paths:
        for line in Path(path).read_text().splitlines():
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


def bench_series(rows):
    """(op) -> (label) -> [(len, ms)] for ei-bench / torch_ref rows."""
    out = defaultdict(lambda: defaultdict(list))
    for r in rows:
        parts = [r.get("impl", "?")]
        parts += [str(r[k]) for k in ("method", "inputs", "kv", "dtype") if k in r]
        if "heads" in r:
            parts.append(f"H{r['heads']}/{r.get('kv_heads', '?')} D{r.get('dim', '?')}")
        out[r["op"]][" ".join(parts)].append((r["len"], r["ms"]))
    return out


def vkinfer_series(rows):
    """(attn/kv) -> [(prompt tokens, tokens/s, GPU ms, generation tokens/s)]."""
    out = defaultdict(list)
    for r in rows:
        out[f"{r.get('attn', 'full')}/{r.get('kv', 'full')}"].append(
            (r["prompt_tokens"], r.get("prompt_tokens_per_s", 0), r.get("prefill_gpu_ms", 0),
             r.get("generation_tokens_per_s", 0)))
    return out


def plot_bench(plt, series, out):
    for op, lines in sorted(series.items()):
        fig, ax = plt.subplots(figsize=(8, 5))
        for label, points in sorted(lines.items()):
            points.sort()
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
        ax.set(xscale="log", yscale="log", xlabel="length (tokens)", ylabel="ms", title=f"ei-bench --op {op}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / f"bench_{op}.png", dpi=120)
        plt.close(fig)
        print(out / f"bench_{op}.png")


def plot_vkinfer(plt, series, out):
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    titles = ("prompt tokens/s (wall)", "prefill GPU ms", "generation tokens/s")
    for label, points in sorted(series.items()):
        points.sort()
        xs = [p[0] for p in points]
        for i, ax in enumerate(axes):
            ax.plot(xs, [p[i + 1] for p in points], marker="o", label=label)
    for ax, title in zip(axes, titles):
        ax.set(xscale="log", xlabel="prompt tokens", title=title)
        ax.grid(True, which="both", alpha=0.3)
    axes[1].set_yscale("log")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "vkinfer.png", dpi=120)
    plt.close(fig)
    print(out / "vkinfer.png")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--out", required=True, help="an existing folder for the PNGs")
    args = ap.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(records(args.files))
    bench = [r for r in rows if "op" in r and "len" in r and "ms" in r]
    runs = [r for r in rows if "prompt_tokens" in r and "prefill_ms" in r]
    if not bench and not runs:
        print("plot_speed.py: no ei-bench, torch_ref or vkinfer JSON lines in the files", file=sys.stderr)
        return 1
    out = Path(args.out)
    if bench:
        plot_bench(plt, bench_series(bench), out)
    if runs:
        plot_vkinfer(plt, vkinfer_series(runs), out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
