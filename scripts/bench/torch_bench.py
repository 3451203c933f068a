#!/usr/bin/python3
"""PyTorch reference for `arp bench`: the same six CifarNet cases.

Prints one JSON object per case (name, batch, median_ms, images_per_s,
peak_rss_mb) on stdout, like `arp bench --json`.

Run: /usr/bin/python3 scripts/bench/torch_bench.py --threads 2 --batch 50 --steps 10 [--lrn] [--channels-last]
     [--model inception_v3 [--width K] | --model resnet18|resnet50] [--export-onnx FILE.onnx]

--model inception_v3 times torchvision's Inception3 (1001 classes, no auxiliary head, input
299x299 in [-1,1], every channel count divided by --width, the weights and batch-norm statistics
of scripts/fixtures/inception_v3.py) on the cases forward, stepll, pgd10 and gradcam (at Mixed_7c), as
`arp bench --model FILE.onnx` times the ONNX export of the same network. --model resnet18 and
resnet50 time torchvision's ResNets (1000 classes, 224x224, torchvision's initialisation from
a fixed seed; gradcam at layer4); --export-onnx FILE writes that network as ONNX (opset 13, dynamic batch, batch
norms kept as nodes, as torch.onnx.export makes them from a model in evaluation mode with
TrainingMode.PRESERVE) with its metadata file FILE.json, for `arp bench --model FILE`.
Debian's python3-torch is a development reference only; arp never needs it.

--channels-last puts the model and the input batch in torch.channels_last
memory format, so oneDNN runs its NHWC convolution kernels without layout
reorders (what a performance-minded PyTorch user does on a CPU). The BLAS
library and allocator come from the environment; scripts/bench/compare.py
sets the fastest ones it found (see its --torch-env).
"""
import argparse, json, os, resource, statistics, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F


class LRN(nn.Module):
    """TensorFlow's local response normalisation (alpha not divided by size)."""

    def __init__(self, radius=4, bias=1.0, alpha=0.001 / 9, beta=0.75):
        super().__init__()
        self.r, self.bias, self.alpha, self.beta = radius, bias, alpha, beta

    def forward(self, x):
        sq = (x * x).unsqueeze(1)  # N,1,C,H,W
        s = F.avg_pool3d(F.pad(sq, (0, 0, 0, 0, self.r, self.r)), (2 * self.r + 1, 1, 1), stride=1) * (2 * self.r + 1)
        return x / (self.bias + self.alpha * s.squeeze(1)) ** self.beta


class CifarNet(nn.Module):
    def __init__(self, lrn):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 5, padding=2)
        self.conv2 = nn.Conv2d(64, 64, 5, padding=2)
        self.norm1 = LRN() if lrn else nn.Identity()
        self.norm2 = LRN() if lrn else nn.Identity()
        self.fc3 = nn.Linear(64 * 8 * 8, 384)
        self.fc4 = nn.Linear(384, 192)
        self.logits = nn.Linear(192, 10)
        self.drop = nn.Dropout(0.5)

    def forward(self, x, tap=False, leaf=False):
        h = self.norm1(F.max_pool2d(F.relu(self.conv1(x)), 2))
        pool2 = F.max_pool2d(self.norm2(F.relu(self.conv2(h))), 2)
        if leaf:  # the graph starts at pool2 (gradcam case)
            pool2 = pool2.detach().requires_grad_()
        h = self.drop(F.relu(self.fc3(pool2.flatten(1))))
        out = self.logits(F.relu(self.fc4(h)))
        return (out, pool2) if tap else out


def step_ll(model, x, eps):
    model.eval()
    x = x.detach().requires_grad_(True)
    logits = model(x)
    ll = logits.argmin(1)
    loss = F.cross_entropy(logits, ll, label_smoothing=0.1)
    (g,) = torch.autograd.grad(loss, x)
    return (x - eps * g.sign()).clamp(-1, 1).detach()


def pgd(model, x, y, eps, steps):
    """PGD-10 as arp's pgd10 case: random start, steps of 2.5*eps/steps, projection, final forward.

    x is on the model's [-1,1] scale, so eps is twice the [0,1] budget.
    """
    alpha = 2.5 * eps / steps
    xa = (x + torch.empty_like(x).uniform_(-eps, eps)).clamp(-1, 1)
    for _ in range(steps):
        xa.requires_grad_(True)
        loss = F.cross_entropy(model(xa), y, reduction="sum")
        (g,) = torch.autograd.grad(loss, xa)
        xa = torch.min(torch.max(xa.detach() + alpha * g.sign(), x - eps), x + eps).clamp(-1, 1)
    with torch.no_grad():
        return model(xa).argmax(1)


def gradcam_arp(logits, a, y, create_graph, hw=32, coarse=False):
    score = logits.gather(1, y[:, None]).sum()
    (g,) = torch.autograd.grad(score, a, create_graph=create_graph)
    gh = g / (g.pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt() + 1e-5)
    w = gh.mean(dim=(2, 3), keepdim=True)
    s = (w * a).sum(1, keepdim=True)
    n = s.shape[0]
    m = F.softmax(s.view(n, -1), 1).view_as(s)
    up = F.interpolate(m, size=(hw, hw), mode="bilinear", align_corners=False)
    return (m, up) if coarse else up


def arp_step(model, opt, x, y, eps=0.15, a=8.0, b=4.0, c=1.0):
    x_adv = step_ll(model, x, eps)
    model.train()
    logits, A = model(x, tap=True)
    logits_adv, A_adv = model(x_adv, tap=True)
    M = gradcam_arp(logits, A, y, True)
    M_adv = gradcam_arp(logits_adv, A_adv, y, True)
    lc = F.cross_entropy(logits, y) + F.cross_entropy(logits_adv, y)
    lp = ((M - M_adv) ** 2).sum()
    B = (M > M.mean(dim=(1, 2, 3), keepdim=True)).float().detach()
    B_adv = (M_adv > M_adv.mean(dim=(1, 2, 3), keepdim=True)).float().detach()
    p, p_adv = F.softmax(logits, 1), F.softmax(logits_adv, 1)
    p_m = F.softmax(model(x * (1 - B)), 1)
    p_adv_m = F.softmax(model(x_adv * (1 - B_adv)), 1)
    lr = -((p - p_m) ** 2).mean() - ((p_adv - p_adv_m) ** 2).mean()
    loss = a * lc + b * lr + c * lp
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--lrn", action="store_true")
    ap.add_argument("--cases", default="forward,train,stepll,arp,pgd10,gradcam")
    ap.add_argument("--channels-last", action="store_true", help="model and input in torch.channels_last memory format")
    ap.add_argument("--model", default="cifarnet", choices=["cifarnet", "inception_v3", "resnet18", "resnet50"])
    ap.add_argument("--width", type=int, default=1, help="inception_v3: divide every channel count by this")
    ap.add_argument("--export-onnx", metavar="FILE", help="resnet18/resnet50: write the network as ONNX (and FILE.json) and exit")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    classes, hw = 10, 32
    if args.model == "inception_v3":
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures"))
        from inception_v3 import SEED, build
        model, classes, hw = build(args.width, torch.Generator().manual_seed(SEED)), 1001, 299
    elif args.model.startswith("resnet"):
        import torchvision
        model, classes, hw = getattr(torchvision.models, args.model)(), 1000, 224
        model.eval()
    else:
        model = CifarNet(args.lrn)
    if args.export_onnx:
        if not args.model.startswith("resnet"):
            sys.exit("--export-onnx takes --model resnet18 or resnet50 (Inception v3: scripts/fixtures/inception_v3.py)")
        model.eval()
        torch.onnx.export(model, torch.zeros(1, 3, hw, hw), args.export_onnx, opset_version=13,
                          input_names=["image"], output_names=["logits"],
                          dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}}, do_constant_folding=True,
                          training=torch.onnx.TrainingMode.PRESERVE)
        with open(args.export_onnx + ".json", "w") as f:
            json.dump({"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "attention_layer": "layer4"}, f)
            f.write("\n")
        print("%s: %d bytes" % (args.export_onnx, os.path.getsize(args.export_onnx)))
        return
    x = torch.rand(args.batch, 3, hw, hw) * 2 - 1
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    y = torch.randint(0, classes, (args.batch,))

    def fwd():
        model.eval()
        with torch.no_grad():
            model(x)

    def train():
        model.train()
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def pgd10():
        # weights frozen (only the input needs gradients), evaluation mode
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        try:
            pgd(model, x, y, 2 * 8 / 255, 10)
        finally:
            for p in model.parameters():
                p.requires_grad_(True)

    # the gradcam case's tapped layer: CifarNet's pool2 (forward(tap=True)), else a forward hook
    # on the layer arp's imports name (scripts/fixtures/inception_v3.py, --export-onnx above)
    tap = {"inception_v3": "Mixed_7c", "resnet18": "layer4", "resnet50": "layer4"}.get(args.model)

    def gradcam():
        # arp bench's gradcam case (attention.Maps): gradcam-arp maps of the predicted classes,
        # coarse and resized to the input, and the class probabilities. PyTorch at its best: no
        # graph before the tapped layer (weights frozen, the layer's output a leaf), so only the
        # layers after it record one
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        acts = {}

        def hook(m, i, o):
            acts["a"] = o.detach().requires_grad_()
            return acts["a"]

        h = getattr(model, tap).register_forward_hook(hook) if tap else None
        try:
            if tap:
                logits = model(x)
                a = acts["a"]
            else:
                logits, a = model(x, tap=True, leaf=True)
            m, up = gradcam_arp(logits, a, logits.argmax(1), False, hw, coarse=True)
            F.softmax(logits.detach(), 1)
        finally:
            if h:
                h.remove()
            for p in model.parameters():
                p.requires_grad_(True)

    cases = {"gradcam": gradcam, "pgd10": pgd10, "forward": fwd, "train": train, "stepll": lambda: step_ll(model, x, 0.15), "arp": lambda: arp_step(model, opt, x, y)}
    for name in args.cases.split(","):
        f = cases[name]
        for _ in range(args.warmup):
            f()
        times = []
        for _ in range(args.steps):
            t0 = time.perf_counter()
            f()
            times.append((time.perf_counter() - t0) * 1000)
        med = statistics.median(times)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"name": name, "batch": args.batch, "median_ms": round(med, 3),
                          "images_per_s": round(args.batch / med * 1000, 1), "peak_rss_mb": round(rss, 1),
                          "torch": torch.__version__, "threads": torch.get_num_threads(),
                          "lrn": args.lrn, "channels_last": args.channels_last, "model": args.model, "width": args.width}), flush=True)


if __name__ == "__main__":
    main()
