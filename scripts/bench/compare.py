#!/usr/bin/python3
"""Side-by-side timing of arp and PyTorch on the same six CifarNet cases.

Runs `arp bench` and scripts/bench/torch_bench.py alternately, case by case
and round by round, so that drift of the machine affects both sides alike,
then prints each side's median over rounds and the ratio arp/PyTorch
(< 1 means arp is faster).

Usage:
  /usr/bin/python3 scripts/bench/compare.py [--rounds 3] [--steps 10] [--batch 50]
        [--threads 2] [--lrn] [--cases forward,train,stepll,arp,pgd10,gradcam]
        [--no-nchw] [--json out.json] [--onnx FILE.onnx [--torch-model inception_v3] [--width K]]

With --onnx, arp times that file (arp bench --model FILE.onnx: forward, stepll, pgd10, gradcam) and
PyTorch the same network built by torch_bench.py --model (torchvision's Inception v3; make
the file with scripts/fixtures/inception_v3.py --width K --no-ref; or --torch-model resnet50,
the file made by torch_bench.py --model resnet50 --export-onnx FILE).

PyTorch runs twice per case and round:

  best  PyTorch at its best on this CPU: model and batch in
        torch.channels_last (oneDNN's NHWC kernels, no layout reorders),
        Debian's OpenMP OpenBLAS build first on LD_LIBRARY_PATH with
        OPENBLAS_CORETYPE=SkylakeX when the CPU has AVX-512, and glibc
        malloc tunables that keep freed memory in the process
        (BEST_ENV below). The ratio arp/PyTorch is against this.
  nchw  torch_bench.py with its defaults (NCHW tensors) in the caller's
        environment, the second PyTorch column (skip with --no-nchw).

Both use torch.set_num_threads(threads). arp is built with CGO_ENABLED=0
and computes with its own kernels for the CPU (see `arp version`). Needs
Debian's python3-torch.
"""
import argparse, json, os, statistics, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


OPENMP_BLAS = "/usr/lib/x86_64-linux-gnu/openblas-openmp"
GLIBC_TUNABLES = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296"


def has_avx512():
    try:
        with open("/proc/cpuinfo") as f:
            return " avx512f " in f.read()
    except OSError:
        return False


def best_env():
    """The environment of PyTorch at its best (see the module docstring)."""
    env = dict(os.environ)
    if os.path.isdir(OPENMP_BLAS):
        env["LD_LIBRARY_PATH"] = OPENMP_BLAS + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    if has_avx512():
        env["OPENBLAS_CORETYPE"] = "SkylakeX"
    env["GLIBC_TUNABLES"] = GLIBC_TUNABLES
    return env


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
    ap.add_argument("--cases", default="forward,train,stepll,arp,pgd10,gradcam")
    ap.add_argument("--arp", default=os.path.join(ROOT, "bin", "arp"))
    ap.add_argument("--no-nchw", action="store_true", help="skip the second PyTorch column (NCHW, caller's environment)")
    ap.add_argument("--json", dest="json_out")
    ap.add_argument("--onnx", help="time this ONNX model in arp (arp bench --model FILE) against --torch-model in PyTorch")
    ap.add_argument("--torch-model", default="inception_v3", help="with --onnx: torch_bench.py --model")
    ap.add_argument("--width", type=int, default=1, help="with --onnx: torch_bench.py --width (the ONNX file's width divisor)")
    a = ap.parse_args()
    if a.onnx and a.cases == "forward,train,stepll,arp,pgd10,gradcam":
        a.cases = "forward,stepll,pgd10,gradcam"
    benv = best_env()
    sides = ["arp", "torch", "nchw"] if not a.no_nchw else ["arp", "torch"]
    # arp is built without cgo: its own kernels, no OpenBLAS (ARP_BLAS is
    # ignored by such a binary's default path; see `arp version`)
    subprocess.run(["go", "build", "-o", a.arp, "./cmd/arp"], check=True, cwd=ROOT, env=dict(os.environ, CGO_ENABLED="0"))
    info = subprocess.run([a.arp, "version"], check=True, capture_output=True, text=True).stdout
    common = ["--batch", str(a.batch), "--steps", str(a.steps), "--warmup", str(a.warmup), "--threads", str(a.threads)]
    if a.lrn:
        common.append("--lrn")
    res = {c: {k: [] for s in sides for k in (s, s + "_rss")} | {"arp_allocs": []} for c in a.cases.split(",")}
    torch_cmd = ["/usr/bin/python3", os.path.join(HERE, "torch_bench.py")]
    arp_model = []
    if a.onnx:
        arp_model = ["--model", os.path.abspath(a.onnx)]
        torch_cmd += ["--model", a.torch_model, "--width", str(a.width)]
    for r in range(a.rounds):
        for c in res:
            for side in sides:
                env = None
                if side == "arp":
                    cmd = [a.arp, "bench", "--json", "--cases", c] + arp_model + common
                elif side == "torch":
                    cmd, env = torch_cmd + ["--cases", c, "--channels-last"] + common, benv
                else:
                    cmd = torch_cmd + ["--cases", c] + common
                row = run_json(cmd, env)[0]
                res[c][side].append(row["median_ms"])
                res[c][side + "_rss"].append(row["peak_rss_mb"])
                if side == "arp":
                    res[c]["arp_allocs"].append(row["allocs_per_step"])
            line = ", ".join(f"{s} {res[c][s][-1]:.1f} ms" for s in sides)
            print(f"round {r+1}/{a.rounds} {c}: {line}", file=sys.stderr)
    print(info.strip())
    print(f"batch {a.batch}, threads {a.threads}, lrn {a.lrn}, {a.rounds} rounds x {a.steps} steps "
          "(median of per-round medians, [min-max of per-round medians])")
    print("PyTorch best: --channels-last, LD_LIBRARY_PATH=" + benv.get("LD_LIBRARY_PATH", "") +
          ", OPENBLAS_CORETYPE=" + benv.get("OPENBLAS_CORETYPE", "(unset)") + ", GLIBC_TUNABLES=" + GLIBC_TUNABLES)
    rng = lambda v: f"[{min(v):.1f}-{max(v):.1f}]"
    head = "| case | arp ms | PyTorch best ms | arp / best |"
    if "nchw" in sides:
        head += " PyTorch NCHW ms | arp / NCHW |"
    head += " arp peak RSS MB | PyTorch best peak RSS MB | arp allocs/step |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    summary = {}
    for c, v in res.items():
        am, tm = statistics.median(v["arp"]), statistics.median(v["torch"])
        row = {"arp_ms": am, "torch_ms": tm, "ratio": am / tm, "arp_ms_rounds": v["arp"], "torch_ms_rounds": v["torch"],
               "arp_rss_mb": max(v["arp_rss"]), "torch_rss_mb": max(v["torch_rss"]),
               "arp_allocs_per_step": statistics.median(v["arp_allocs"])}
        line = f"| {c} | {am:.1f} {rng(v['arp'])} | {tm:.1f} {rng(v['torch'])} | {am/tm:.2f} |"
        if "nchw" in sides:
            nm = statistics.median(v["nchw"])
            row |= {"nchw_ms": nm, "nchw_ratio": am / nm, "nchw_ms_rounds": v["nchw"], "nchw_rss_mb": max(v["nchw_rss"])}
            line += f" {nm:.1f} {rng(v['nchw'])} | {am/nm:.2f} |"
        line += f" {max(v['arp_rss']):.0f} | {max(v['torch_rss']):.0f} | {statistics.median(v['arp_allocs']):.0f} |"
        summary[c] = row
        print(line)
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump({"settings": vars(a), "arp_version": info, "torch_best_env": {k: benv.get(k) for k in ("LD_LIBRARY_PATH", "OPENBLAS_CORETYPE", "GLIBC_TUNABLES")}, "cases": summary}, f, indent=2)


if __name__ == "__main__":
    main()
