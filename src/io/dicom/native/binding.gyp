{
  "variables": {
    "dcmtk%": "<!(test -f /usr/include/dcmtk/dcmjpeg/djdijg16.h && echo 1 || echo 0)"
  },
  "targets": [
    {
      "target_name": "radiolens_codecs",
      "sources": ["codecs.cc"],
      "include_dirs": ["<!@(pkg-config --cflags-only-I libopenjp2 | sed s/-I//g)"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": ["-std=c++17", "-O2"],
      "libraries": ["<!@(pkg-config --libs libopenjp2)"],
      "conditions": [
        [
          "dcmtk==1",
          {
            "sources": ["ijg.cc"],
            "defines": ["RADIOLENS_DCMTK"],
            "libraries": ["-ldcmjpeg", "-lijg8", "-lijg12", "-lijg16", "-ldcmimgle", "-ldcmdata", "-loflog", "-lofstd"]
          }
        ]
      ]
    }
  ]
}
