"""nibabel peer for bench/nifti.ts: best-of-n time to load each file's voxels (scaled, like readNifti).

Usage: /usr/bin/python3 bench/nifti_nibabel.py <repeats> <file>...
Prints one JSON line {"nibabel": version, "files": {path: {"seconds": s, "shape": [...], "sum": x}}}.
"""
import json
import sys
import time

import nibabel as nib
import numpy as np


def main():
    reps = int(sys.argv[1])
    out = {}
    for path in sys.argv[2:]:
        best = float("inf")
        arr = None
        for _ in range(reps):
            t = time.perf_counter()
            img = nib.Nifti2Image.from_filename(path) if path.endswith("dconn.nii") else nib.load(path)
            arr = np.asanyarray(img.dataobj)
            best = min(best, time.perf_counter() - t)
        out[path] = {"seconds": best, "shape": list(arr.shape), "sum": float(np.nansum(arr, dtype=np.float64))}
    print(json.dumps({"nibabel": nib.__version__, "files": out}))


main()
