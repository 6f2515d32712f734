"""Writes pydicom's copy of the PS3.6 data dictionary as a JSON array in the innolitics/dicom-standard
`standard/attributes.json` format, for scripts/gen-dicom-dictionary.mjs when that file is not at hand."""
import json
import sys

from pydicom._dicom_dict import DicomDictionary, RepeatersDictionary

out = []
for tag, (vr, vm, name, retired, keyword) in sorted(DicomDictionary.items()):
    out.append({"tag": "(%04X,%04X)" % (tag >> 16, tag & 0xFFFF), "name": name, "keyword": keyword,
                "valueRepresentation": vr, "valueMultiplicity": vm, "retired": "Y" if retired else "N"})
for mask, (vr, vm, name, retired, keyword) in sorted(RepeatersDictionary.items()):
    out.append({"tag": "(%s,%s)" % (mask[:4].upper().replace("X", "x"), mask[4:].upper().replace("X", "x")),
                "name": name, "keyword": keyword, "valueRepresentation": vr, "valueMultiplicity": vm,
                "retired": "Y" if retired else "N"})
json.dump(out, sys.stdout, indent=0)
