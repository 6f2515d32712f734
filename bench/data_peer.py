"""Peers for bench/data.ts: scikit-learn's StratifiedGroupKFold on the same cohort, and a PyTorch DataLoader
streaming the same PNG folder (PIL decode, num_workers=0, batch 128), both timed the same way."""
import json
import resource
import sys
import time


def splits(path):
    import numpy as np
    from sklearn.model_selection import StratifiedGroupKFold

    d = json.load(open(path))
    y = np.array(d["labels"])
    g = np.array(d["groups"])
    t0 = time.perf_counter()
    folds = list(StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=0).split(np.zeros(len(y)), y, g))
    dt = time.perf_counter() - t0
    print(json.dumps({"seconds": dt, "val": [f[1].tolist() for f in folds]}))


def stream(root):
    import os

    import numpy as np
    import torch
    from PIL import Image
    from torch.utils.data import DataLoader, Dataset

    classes = sorted(c for c in os.listdir(root) if os.path.isdir(os.path.join(root, c)))
    items = [(os.path.join(root, c, f), k) for k, c in enumerate(classes) for f in sorted(os.listdir(os.path.join(root, c)))]

    class Folder(Dataset):
        def __len__(self):
            return len(items)

        def __getitem__(self, i):
            p, y = items[i]
            x = torch.from_numpy(np.asarray(Image.open(p), dtype=np.float32))[None]
            return x, y

    g = torch.Generator().manual_seed(1)
    t0 = time.perf_counter()
    n = 0
    for x, _ in DataLoader(Folder(), batch_size=128, shuffle=True, generator=g, num_workers=0):
        n += x.shape[0]
    dt = time.perf_counter() - t0
    print(json.dumps({"seconds": dt, "items": n, "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    {"splits": splits, "stream": stream}[sys.argv[1]](sys.argv[2])
