{
  "targets": [
    {
      "target_name": "radiolens_codecs",
      "sources": ["codecs.cc"],
      "include_dirs": ["<!@(pkg-config --cflags-only-I libopenjp2 | sed s/-I//g)"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": ["-std=c++17", "-O2"],
      "libraries": ["<!@(pkg-config --libs libopenjp2)"]
    }
  ]
}
