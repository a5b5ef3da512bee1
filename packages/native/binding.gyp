{
  "variables": {
    "has_jpeg": "<!(node -p \"['/usr/include', '/usr/local/include', ...(process.env.CPATH || '').split(':').filter(Boolean)].some((d) => require('fs').existsSync(d + '/jpeglib.h')) ? 1 : 0\")"
  },
  "targets": [
    {
      "target_name": "convkit_native",
      "sources": ["native/addon.cc", "native/jpeg.cc"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-fopenmp", "-ffp-contract=off", "-fno-math-errno"],
      "libraries": ["-ldnnl", "-fopenmp"],
      "conditions": [
        ["has_jpeg==1", { "defines": ["CONVKIT_HAS_JPEG"], "libraries": ["-ljpeg"] }]
      ]
    }
  ]
}
