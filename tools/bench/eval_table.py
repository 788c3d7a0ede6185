#!/usr/bin/env python3
"""Markdown tables of ei-eval --json files, for docs/quality.md:

    eval_table.py TASK.json...

Per task: accuracy by prompt length and by needle depth, one row per
attention/kv configuration, each cell the share of correct runs and the
runs behind it; then the mean prefill wall time by length. Standard
library only.
"""
import json
import sys
from collections import defaultdict


def table(title, columns, rows):
    out = [f"{title}\n", "| attn / kv | " + " | ".join(columns) + " |",
           "|---|" + "---:|" * len(columns)]
    out += ["| " + name + " | " + " | ".join(cells) + " |" for name, cells in rows]
    return "\n".join(out) + "\n"


def cell(correct, runs):
    return f"{100 * correct / runs:.0f}% ({correct}/{runs})" if runs else "-"


def report(d):
    configs = [f"{c['attn']} / {c['kv']}" for c in d["configs"]]
    by_length, by_depth = defaultdict(lambda: [0, 0]), defaultdict(lambda: [0, 0])
    for a in d["accuracy"]:
        name = f"{a['attn']} / {a['kv']}"
        for key, acc in (((name, a["length"]), by_length), ((name, a["depth"]), by_depth)):
            acc[key][0] += a["correct"]
            acc[key][1] += a["runs"]
    ms = defaultdict(list)
    for r in d["runs"]:
        ms[(f"{r['attn']} / {r['kv']}", r["length"])].append(r["prefill_ms"])
    samples = max((r["sample"] + 1 for r in d["runs"]), default=0)
    head = (f"### {d['task']}\n\n{d['device']}; seed {d['seed']}, {samples} of {d['samples']} samples"
            f"{'' if d['complete'] else ' (time limit)'}, depths {d['depths']}, greedy, at most {d['gen']} "
            f"tokens an answer.\n")
    lengths, depths = d["lengths"], d["depths"]
    return "\n".join([
        head,
        table("Accuracy by prompt length (tokens), over depths and samples:", [str(n) for n in lengths],
              [(c, [cell(*by_length[(c, n)]) for n in lengths]) for c in configs]),
        table("Accuracy by needle depth, over lengths and samples:", [f"{p}%" for p in depths],
              [(c, [cell(*by_depth[(c, p)]) for p in depths]) for c in configs]),
        table("Mean prefill wall ms (the whole prompt in one call):", [str(n) for n in lengths],
              [(c, [f"{sum(ms[(c, n)]) / len(ms[(c, n)]):.0f}" if ms[(c, n)] else "-" for n in lengths])
               for c in configs]),
    ])


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    for path in sys.argv[1:]:
        try:
            with open(path) as f:
                print(report(json.load(f)))
        except (OSError, ValueError, KeyError) as e:
            print(f"eval_table.py: {path}: {e}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
