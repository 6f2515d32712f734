{
  "targets": [
    {
      "target_name": "radiolens_jpeg",
      "sources": ["jpeg.cc"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": ["-std=c++17", "-O2"],
      "libraries": ["-lturbojpeg"]
    }
  ]
}
