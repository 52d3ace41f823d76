{
  "targets": [
    {
      "target_name": "cra_example",
      "sources": ["src/cra_example.c"],
      "include_dirs": ["<(module_root_dir)/../../ffi/include"],
      "cflags": ["-std=c11", "-Wall", "-Wextra", "-Werror"],
      "libraries": [
        "-L<(module_root_dir)/../../target/release",
        "-lcra",
        "-Wl,-rpath,<(module_root_dir)/../../target/release"
      ]
    }
  ]
}
