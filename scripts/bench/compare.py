#!/usr/bin/python3
"""Side-by-side timing of arp and PyTorch on the same five CifarNet cases.

Runs `arp bench` and scripts/bench/torch_bench.py alternately, case by case
and round by round, so that drift of the machine affects both sides alike,
then prints each side's median over rounds and the ratio arp/PyTorch
(< 1 means arp is faster).

Usage:
  /usr/bin/python3 scripts/bench/compare.py [--rounds 3] [--steps 10] [--batch 50]
        [--threads 2] [--lrn] [--cases forward,train,stepll,arp,pgd10] [--json out.json]

PyTorch gets its best settings: torch.set_num_threads(threads), its default
oneDNN (mkldnn) convolution kernels; arp uses OpenBLAS with the core type
package blas chooses (see `arp version`). Needs Debian's python3-torch.
"""
import argparse, json, os, statistics, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def run_json(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return [json.loads(l) for l in out.splitlines() if l.startswith("{")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lrn", action="store_true")
    ap.add_argument("--cases", default="forward,train,stepll,arp,pgd10")
    ap.add_argument("--arp", default=os.path.join(ROOT, "bin", "arp"))
    ap.add_argument("--json", dest="json_out")
    a = ap.parse_args()
    subprocess.run(["go", "build", "-o", a.arp, "./cmd/arp"], check=True, cwd=ROOT)
    info = subprocess.run([a.arp, "version"], check=True, capture_output=True, text=True).stdout
    common = ["--batch", str(a.batch), "--steps", str(a.steps), "--warmup", str(a.warmup), "--threads", str(a.threads)]
    if a.lrn:
        common.append("--lrn")
    res = {c: {"arp": [], "torch": [], "arp_rss": [], "torch_rss": [], "arp_allocs": []} for c in a.cases.split(",")}
    for r in range(a.rounds):
        for c in res:
            for side in ("arp", "torch"):
                if side == "arp":
                    cmd = [a.arp, "bench", "--json", "--cases", c] + common
                else:
                    cmd = ["/usr/bin/python3", os.path.join(HERE, "torch_bench.py"), "--cases", c] + common
                row = run_json(cmd)[0]
                res[c][side].append(row["median_ms"])
                res[c][side + "_rss"].append(row["peak_rss_mb"])
                if side == "arp":
                    res[c]["arp_allocs"].append(row["allocs_per_step"])
            print(f"round {r+1}/{a.rounds} {c}: arp {res[c]['arp'][-1]:.1f} ms, torch {res[c]['torch'][-1]:.1f} ms", file=sys.stderr)
    print(info.strip())
    print(f"batch {a.batch}, threads {a.threads}, lrn {a.lrn}, {a.rounds} rounds x {a.steps} steps (median of per-round medians)")
    print(f"| case | arp ms | PyTorch ms | ratio arp/PyTorch | arp peak RSS MB | PyTorch peak RSS MB | arp allocs/step |")
    print(f"|---|---|---|---|---|---|---|")
    summary = {}
    for c, v in res.items():
        am, tm = statistics.median(v["arp"]), statistics.median(v["torch"])
        summary[c] = {"arp_ms": am, "torch_ms": tm, "ratio": am / tm, "arp_rss_mb": max(v["arp_rss"]), "torch_rss_mb": max(v["torch_rss"]), "arp_allocs_per_step": statistics.median(v["arp_allocs"])}
        print(f"| {c} | {am:.1f} | {tm:.1f} | {am/tm:.2f} | {max(v['arp_rss']):.0f} | {max(v['torch_rss']):.0f} | {statistics.median(v['arp_allocs']):.0f} |")
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump({"settings": vars(a), "arp_version": info, "cases": summary}, f, indent=2)


if __name__ == "__main__":
    main()
