{
  "targets": [
    {
      "target_name": "radiolens_onednn",
      "sources": ["onednn.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-ffp-contract=off", "-fno-math-errno", "-fexceptions", "-fopenmp", "-march=x86-64-v2"],
      "libraries": ["-ldnnl", "-fopenmp"]
    }
  ]
}
