#!/usr/bin/env python3
"""Writes torch_fixture.safetensors and torch_fixture.json for the checkpoint tests.

The safetensors file is written by hand, following the format as the reference
implementation lays it out (metadata first, tensor data ordered by decreasing dtype
alignment then name, header padded with spaces to a multiple of 8), with tensor values
and their raw bytes produced by PyTorch. torch_fixture.json holds the expected values:
float tensors as the bit patterns of PyTorch's own float32 conversion (so F16/BF16
decoding is checked against PyTorch, including subnormals, infinities and NaN), integer
tensors as numbers. Run: python3 make_fixture.py (needs torch; the Go tests do not).
"""
import json
import struct

import torch

torch.manual_seed(0)
half_vals = [0.0, -0.0, 1.0, -2.5, 65504.0, 6.1035e-05, 5.96e-08, 3.0e-07,
             float("inf"), float("-inf"), float("nan"), 0.1]
tensors = {
    "conv1.weight": torch.randn(4, 1, 3, 3, dtype=torch.float32),
    "conv1.bias": torch.randn(4, dtype=torch.float32),
    "fc.weight_f64": torch.randn(2, 3, dtype=torch.float64),
    "half": torch.tensor(half_vals, dtype=torch.float16).reshape(3, 4),
    "bhalf": torch.tensor(half_vals + [1e38, 1e-40], dtype=torch.bfloat16).reshape(2, 7),
    "step": torch.tensor(12345, dtype=torch.int64),          # a scalar, shape []
    "labels": torch.tensor([-3, 0, 7, 2**31 - 1], dtype=torch.int32),
    "mask": torch.tensor([[0, 255, 7]], dtype=torch.uint8),
    "flags": torch.tensor([True, False, True], dtype=torch.bool),
    "empty": torch.zeros(0, 5, dtype=torch.float32),
}
names = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16",
         torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32",
         torch.uint8: "U8", torch.bool: "BOOL"}


def raw(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()  # little-endian on x86-64 and arm64


order = sorted(tensors, key=lambda n: (-tensors[n].element_size(), n))
header = {"__metadata__": {"format": "pt", "note": "written by make_fixture.py"}}
blobs, off = [], 0
for n in order:
    b = raw(tensors[n])
    header[n] = {"dtype": names[tensors[n].dtype], "shape": list(tensors[n].shape),
                 "data_offsets": [off, off + len(b)]}
    blobs.append(b)
    off += len(b)
h = json.dumps(header, separators=(",", ":")).encode()
h += b" " * (-len(h) % 8)
with open("torch_fixture.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))

expected = {}
for n, t in tensors.items():
    e = {"dtype": names[t.dtype], "shape": list(t.shape)}
    if t.dtype.is_floating_point:
        f32 = t.to(torch.float32).reshape(-1).contiguous()
        e["float32_bits"] = f32.view(torch.int32).tolist()
        e["float32_bits"] = [v & 0xFFFFFFFF for v in e["float32_bits"]]
    else:
        e["int64"] = t.to(torch.int64).reshape(-1).tolist()
    expected[n] = e
with open("torch_fixture.json", "w") as f:
    json.dump(expected, f, indent=1, sort_keys=True)
    f.write("\n")
