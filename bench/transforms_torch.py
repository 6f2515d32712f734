"""PyTorch peer for bench/transforms.ts: the same resize / affine / flip / z-score on the same float32 volume.

Usage: /usr/bin/python3 bench/transforms_torch.py <job.json>
job.json: {"input": path, "shape": [D, H, W], "repeats": n, "out": dir,
           "resize": [d, h, w], "affine": {"theta": 3x4 rows (grid_sample, align_corners=True)}}
Writes <out>/<op>.f32 (results) and prints one JSON line {op: best seconds, "torch": version, "threads": n}.
"""
import json
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def best(fn, repeats):
    out = None
    t_best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        t_best = min(t_best, time.perf_counter() - t)
    return out, t_best


def main():
    job = json.load(open(sys.argv[1]))
    torch.set_num_threads(1)
    d, h, w = job["shape"]
    x = torch.from_numpy(np.fromfile(job["input"], dtype="<f4").reshape(1, 1, d, h, w))
    reps = job["repeats"]
    times = {}
    with torch.no_grad():
        y, times["resize"] = best(
            lambda: F.interpolate(x, size=tuple(job["resize"]), mode="trilinear", align_corners=False), reps
        )
        y.numpy().astype("<f4").tofile(job["out"] + "/resize.f32")
        theta = torch.tensor(job["affine"]["theta"], dtype=torch.float32).reshape(1, 3, 4)

        def aff():
            grid = F.affine_grid(theta, (1, 1, d, h, w), align_corners=True)
            return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)

        y, times["affine"] = best(aff, reps)
        y.numpy().astype("<f4").tofile(job["out"] + "/affine.f32")
        y, times["flip"] = best(lambda: torch.flip(x, dims=[4]).contiguous(), reps)
        y.numpy().astype("<f4").tofile(job["out"] + "/flip.f32")
        y, times["normalize"] = best(lambda: (x - x.mean()) / x.std(unbiased=False), reps)
        y.numpy().astype("<f4").tofile(job["out"] + "/normalize.f32")
    times["torch"] = torch.__version__
    times["threads"] = torch.get_num_threads()
    print(json.dumps(times))


main()
