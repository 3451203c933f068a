#!/usr/bin/python3
"""Builds the README's robustness table from `arp eval --json` reports.

Usage: python3 scripts/experiments/eval_table.py REPORT.json [...]
Each report must come from a cascade evaluation; one Markdown row is printed
per (report, budget): clean accuracy, the accuracy left after each attack in
order (cumulative, as the cascade reports it) and the per-image worst case.
Failed sanity checks (WARN) are listed under the table.
"""
import json
import os
import sys


def pct(a):
    return f"{100 * a['accuracy']:.2f}"


def main(paths):
    header = None
    rows, warns = [], []
    for p in paths:
        d = json.load(open(p))
        if d.get("mode") != "cascade":
            sys.exit(f"{p}: mode {d.get('mode')!r}, want cascade")
        names = None
        for t in d["threats"]:
            attacks = [a["spec"] for a in t["attacks"]]
            names = names or attacks
            if attacks != names:
                sys.exit(f"{p}: attacks differ between budgets")
            cells = [os.path.basename(d["model"].rstrip("/")), f"{t['eps']:g}", f"{d['images']:,}", pct(d["clean"])]
            cells += [pct(a["accuracy"]) for a in t["attacks"]]
            cells.append(pct(t["worst_case"]) if "worst_case" in t else "")
            rows.append(cells)
        h = ["model", "eps", "images", "clean"] + names + ["worst case"]
        if header and h != header:
            sys.exit(f"{p}: attack list differs from the first report")
        header = h
        warns += [f"{d['model']}: {c['name']}: {c['detail']}" for c in d["checks"] if c["status"] == "WARN"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        print("| " + " | ".join(r) + " |")
    for w in warns:
        print("\nWARN " + w)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
