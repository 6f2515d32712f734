"""Reference decoder for the DICOM pixel comparison: pydicom's pixel_array for every file of a folder.

Usage: /usr/bin/python3 bench/dicom_pydicom.py <dicom-dir> <out-dir> [repeats]
Writes <out-dir>/manifest.json ({file: {ok, shape, dtype, ts, seconds, error}}) and <out-dir>/<file>.bin
(the values, little endian). `seconds` is the best of `repeats` timings of dcmread + pixel_array (wall clock);
`cpu_seconds` the best of their process CPU times, which a loaded machine disturbs less.
"""
import glob
import json
import os
import sys
import time
import warnings

import pydicom

warnings.simplefilter("ignore")


def main():
    src, out = sys.argv[1], sys.argv[2]
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    os.makedirs(out, exist_ok=True)
    manifest = {}
    for path in sorted(glob.glob(os.path.join(src, "*.dcm"))):
        name = os.path.basename(path)
        entry = {"ok": False}
        try:
            best = float("inf")
            best_cpu = float("inf")
            arr = None
            ds = None
            for _ in range(repeats):
                t = time.perf_counter()
                c = time.process_time()
                ds = pydicom.dcmread(path)
                arr = ds.pixel_array
                best = min(best, time.perf_counter() - t)
                best_cpu = min(best_cpu, time.process_time() - c)
            entry["ts"] = str(ds.file_meta.get("TransferSyntaxUID", ""))
            entry["shape"] = list(arr.shape)
            entry["dtype"] = arr.dtype.newbyteorder("=").name
            entry["seconds"] = best
            entry["cpu_seconds"] = best_cpu
            entry["ok"] = True
            arr.astype(arr.dtype.newbyteorder("<"), copy=False).tofile(os.path.join(out, name + ".bin"))
        except Exception as e:  # noqa: BLE001 - every failure is recorded, the comparison skips the file
            entry["error"] = "%s: %s" % (type(e).__name__, str(e)[:200])
        manifest[name] = entry
    with open(os.path.join(out, "manifest.json"), "w") as f:
        handlers = [h.__name__.split(".")[-1] for h in pydicom.config.pixel_data_handlers if h.is_available()]
        json.dump({"pydicom": pydicom.__version__, "handlers": handlers, "files": manifest}, f, indent=1)


main()
