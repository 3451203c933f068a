#!/usr/bin/python3
"""Write a generated ImageNet-format dataset: JPEG files in class folders
named by ILSVRC2012 WordNet IDs (arp reads such a folder as ImageNet: 1000
classes, the Inception preprocessing to 299x299).

The pictures are smooth random colour fields with noise at the sizes of
ImageNet photographs (about 500x375, either way round), so the files are
about as large and as slow to decode as the validation set's. For measuring
how arp reads large datasets (docs/scale.md), not for accuracy.

    /usr/bin/python3 scripts/bench/imagenet_folder.py --out /tmp/imnet --images 5000 --classes 10
"""
import argparse
import os

import numpy as np
from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="folder to write (one sub-folder per class)")
    ap.add_argument("--images", type=int, default=5000, help="images in all")
    ap.add_argument("--classes", type=int, default=10, help="classes (the first ILSVRC2012 synsets)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quality", type=int, default=90, help="JPEG quality")
    a = ap.parse_args()
    with open(os.path.join(here, "..", "..", "data", "imagenet_synsets.tsv")) as f:
        wnids = [l.split("\t")[0] for l in f if l.strip()][: a.classes]
    rng = np.random.default_rng(a.seed)
    total = 0
    for i in range(a.images):
        wnid = wnids[i % len(wnids)]
        w, h = (500, 375) if rng.random() < 0.7 else (375, 500)
        w += int(rng.integers(-40, 41))
        h += int(rng.integers(-30, 31))
        # a smooth field: random colours on a coarse grid, upsampled
        coarse = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
        field = np.asarray(Image.fromarray(coarse).resize((w, h), Image.BICUBIC), dtype=np.int16)
        field += rng.integers(-30, 31, size=field.shape, dtype=np.int16)
        img = Image.fromarray(np.clip(field, 0, 255).astype(np.uint8))
        d = os.path.join(a.out, wnid)
        os.makedirs(d, exist_ok=True)
        p = os.path.join(d, "%s_%06d.JPEG" % (wnid, i))
        img.save(p, quality=a.quality)
        total += os.path.getsize(p)
    print("wrote %d images (%.0f MB, %.0f KB each) in %d class folders under %s"
          % (a.images, total / 1e6, total / 1e3 / a.images, len(wnids), a.out))


if __name__ == "__main__":
    main()
