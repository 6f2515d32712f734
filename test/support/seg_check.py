"""Decodes a DICOM Segmentation with pydicom, independently of RadioLens, and compares it with the expected mask.

The checks are those highdicom's reader makes (highdicom itself is not packaged for Debian): frames are mapped to
source slices through the Derivation Image Sequence and to segments through the Segment Identification Sequence,
the Plane Position of each frame must equal its source slice's, and the rebuilt label volume (binary) or
probability maps (fractional) must equal the expected ones exactly.

Usage: seg_check.py SEG.dcm SPEC.json EXPECTED.raw
SPEC.json: {"sources": [{"uid": ..., "position": [x, y, z] | null}, ...] in label-volume order,
            "labelValues": [value of segment 1, ...], "rows": R, "columns": C}
EXPECTED.raw: uint8 label volume (binary) or uint8 quantized maps, one per segment, concatenated (fractional).
Prints one JSON line: {"ok": bool, "frames": n, "mismatches": n, "type": ..., "problems": [...]}.
"""
import json
import sys

import numpy as np
import pydicom


def main() -> None:
    seg = pydicom.dcmread(sys.argv[1])
    spec = json.load(open(sys.argv[2]))
    expected = np.fromfile(sys.argv[3], dtype=np.uint8)
    rows, cols = spec["rows"], spec["columns"]
    slices = len(spec["sources"])
    index = {s["uid"]: i for i, s in enumerate(spec["sources"])}
    problems = []
    if seg.SOPClassUID != "1.2.840.10008.5.1.4.1.1.66.4":
        problems.append("not a Segmentation")
    seg_type = seg.SegmentationType
    frames = seg.pixel_array.reshape(int(seg.NumberOfFrames), rows, cols)
    n_segments = len(seg.SegmentSequence)
    if seg_type == "BINARY":
        volume = np.zeros((slices, rows, cols), dtype=np.uint8)
    else:
        volume = np.zeros((n_segments, slices, rows, cols), dtype=np.uint8)
    for k, item in enumerate(seg.PerFrameFunctionalGroupsSequence):
        src = item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        if src not in index:
            problems.append(f"frame {k + 1} refers to an unknown source {src}")
            continue
        z = index[src]
        want_pos = spec["sources"][z]["position"]
        if want_pos is not None:
            pos = [float(v) for v in item.PlanePositionSequence[0].ImagePositionPatient]
            if not np.allclose(pos, want_pos, atol=1e-4):
                problems.append(f"frame {k + 1}: position {pos} is not its source's {want_pos}")
        number = int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        if seg_type == "BINARY":
            on = frames[k] != 0
            if np.any(volume[z][on] != 0):
                problems.append(f"frame {k + 1}: segments overlap")
            volume[z][on] = spec["labelValues"][number - 1]
        else:
            volume[number - 1, z] = frames[k]
    if seg_type == "FRACTIONAL" and int(seg.MaximumFractionalValue) != 255:
        problems.append("MaximumFractionalValue is not 255")
    flat = volume.reshape(-1)
    mismatches = int(np.count_nonzero(flat != expected)) if flat.size == expected.size else -1
    if mismatches != 0:
        problems.append(f"{mismatches} voxels differ from the expected mask")
    print(json.dumps({"ok": not problems, "frames": int(seg.NumberOfFrames), "mismatches": mismatches,
                      "type": seg_type, "problems": problems[:10]}))


if __name__ == "__main__":
    main()
