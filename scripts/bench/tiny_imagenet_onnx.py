#!/usr/bin/python3
"""Export a tiny ImageNet classifier to ONNX: 299x299x3 input, a 13x13
average pool, a linear layer to 1000 classes (random weights). Its passes
cost next to nothing, so a job over many images with it measures how arp
reads the data (docs/scale.md), not the model.

    /usr/bin/python3 scripts/bench/tiny_imagenet_onnx.py --out /tmp/tiny.onnx
"""
import argparse
import json

import torch


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="ONNX file to write (and FILE.json, arp's metadata)")
    a = ap.parse_args()
    torch.manual_seed(1)
    m = torch.nn.Sequential(torch.nn.AvgPool2d(13, 13), torch.nn.Flatten(), torch.nn.Linear(3 * 23 * 23, 1000)).eval()
    torch.onnx.export(m, torch.zeros(1, 3, 299, 299), a.out, input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}}, opset_version=13)
    with open(a.out + ".json", "w") as f:
        json.dump({"range": [0, 1], "input_size": [3, 299, 299]}, f)
    print("wrote", a.out)


if __name__ == "__main__":
    main()
