"""Reference decoder for the DICOM pixel comparison: pydicom's pixel_array for every file of a folder.

Usage: /usr/bin/python3 bench/dicom_pydicom.py <dicom-dir> <out-dir> [repeats]
Writes <out-dir>/manifest.json ({file: {ok, shape, dtype, ts, seconds, error}}) and <out-dir>/<file>.bin
(the values, little endian). `seconds` is the best of `repeats` timings of dcmread + pixel_array (wall clock);
`cpu_seconds` the best of their process CPU times, which a loaded machine disturbs less. Every file is decoded at
least twice and refused when the two results differ.
"""
import glob
import json
import os
import sys
import tempfile
import time
import warnings

import pydicom

warnings.simplefilter("ignore")


class DecoderLog:
    """Captures what native decoders print on fd 2 while a file decodes.

    GDCM reports a failed decode only there ("Error: In ...gdcmJPEG2000Codec.cxx") and pydicom's gdcm handler
    still returns the (uninitialised) output buffer, e.g. for JPEG2000-embedded-sequence-delimiter.dcm.
    """

    def __enter__(self):
        sys.stderr.flush()
        self.tmp = tempfile.TemporaryFile()
        self.saved = os.dup(2)
        os.dup2(self.tmp.fileno(), 2)
        return self

    def __exit__(self, *exc):
        sys.stderr.flush()
        os.dup2(self.saved, 2)
        os.close(self.saved)
        self.tmp.seek(0)
        self.text = self.tmp.read().decode("utf-8", "replace")
        self.tmp.close()


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
            for _ in range(max(2, repeats)):
                with DecoderLog() as log:
                    t = time.perf_counter()
                    c = time.process_time()
                    ds = pydicom.dcmread(path)
                    a = ds.pixel_array
                    best = min(best, time.perf_counter() - t)
                    best_cpu = min(best_cpu, time.process_time() - c)
                if "Error: In " in log.text:
                    raise RuntimeError("the decoder reported an error: " + log.text.strip().splitlines()[-1][:160])
                # GDCM returns an uninitialised buffer for some codestreams it fails to decode (e.g.
                # JPEG2000-embedded-sequence-delimiter.dcm): a decode that differs between runs decoded nothing.
                if arr is not None and (a.shape != arr.shape or not (a == arr).all()):
                    raise RuntimeError("pixel_array differs between two decodes of the same file (decoder failure)")
                arr = a
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
