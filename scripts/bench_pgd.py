#!/usr/bin/python3
"""PyTorch reference for BenchmarkPGD10CifarNet (attack/bench_test.go): PGD-10 evaluation throughput.

The same work as arp's benchmark: CifarNet as nn.DefaultSpec("cifarnet", 3, 32, 32, 10) builds it
(input (x-0.5)/0.5, conv5x5/64 SAME + ReLU, max-pool 2x2, TensorFlow LRN, conv5x5/64 + ReLU, LRN,
max-pool, dense 384/192/10; evaluation mode), a batch of 50 random images, PGD with eps 8/255 on
the [0,1] scale, a uniform random start, 10 steps of 2.5*eps/10 (sign of the input gradient of
the per-image cross-entropy, projection to the eps-ball and [0,1]), then one forward pass to judge
the final iterate. Weights do not require gradients (only the input does).

Run: /usr/bin/python3 scripts/bench_pgd.py --threads 2 [--reps 20]
Prints images/s (median over repetitions). Debian's python3-torch is a reference only.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class LRN(nn.Module):
    """TensorFlow's local response normalisation (depth radius 4, bias 1, alpha 0.001/9, beta 0.75)."""

    def __init__(self, radius=4, bias=1.0, alpha=0.001 / 9, beta=0.75):
        super().__init__()
        self.r, self.bias, self.alpha, self.beta = radius, bias, alpha, beta

    def forward(self, x):
        sq = (x * x).unsqueeze(1)
        s = F.avg_pool3d(F.pad(sq, (0, 0, 0, 0, self.r, self.r)), (2 * self.r + 1, 1, 1), stride=1) * (2 * self.r + 1)
        return x / (self.bias + self.alpha * s.squeeze(1)) ** self.beta


class CifarNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 5, padding=2)
        self.conv2 = nn.Conv2d(64, 64, 5, padding=2)
        self.norm1, self.norm2 = LRN(), LRN()
        self.fc3 = nn.Linear(64 * 8 * 8, 384)
        self.fc4 = nn.Linear(384, 192)
        self.logits = nn.Linear(192, 10)

    def forward(self, x):
        h = (x - 0.5) / 0.5
        h = self.norm1(F.max_pool2d(F.relu(self.conv1(h)), 2))
        h = F.max_pool2d(self.norm2(F.relu(self.conv2(h))), 2)
        h = F.relu(self.fc4(F.relu(self.fc3(h.flatten(1)))))
        return self.logits(h)


def pgd(model, x, y, eps, steps):
    alpha = 2.5 * eps / steps
    xa = (x + torch.empty_like(x).uniform_(-eps, eps)).clamp(0, 1)
    for _ in range(steps):
        xa.requires_grad_(True)
        loss = F.cross_entropy(model(xa), y, reduction="sum")
        (g,) = torch.autograd.grad(loss, xa)
        xa = torch.min(torch.max(xa.detach() + alpha * g.sign(), x - eps), x + eps).clamp(0, 1)
    with torch.no_grad():
        pred = model(xa).argmax(1)
    return xa, pred


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--reps", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    model = CifarNet().eval()
    for p in model.parameters():
        p.requires_grad_(False)
    x = torch.rand(args.batch, 3, 32, 32)
    y = torch.arange(args.batch) % 10
    pgd(model, x, y, 8 / 255, 10)  # warm up
    times = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        pgd(model, x, y, 8 / 255, 10)
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(json.dumps({"case": "pgd10", "arch": "cifarnet (LRN)", "batch": args.batch, "threads": args.threads,
                      "median_ms": round(1000 * med, 2), "images_per_s": round(args.batch / med, 1),
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
