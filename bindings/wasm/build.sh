#!/usr/bin/env bash
# Builds the @cra/wasm npm package into bindings/wasm/pkg (or $CRA_WASM_OUT):
#   cargo (wasm32, size-tuned release) → wasm-bindgen (web + bundler glue) → wasm-opt -Oz
#   → the package files from npm/ and the shared JS API (bindings/node/lib/api.js as an ES module).
# Needs the toolchain from scripts/wasm-toolchain.sh (it prints the env to use).
# Options: --features "a b" (cargo features, e.g. testing), --out DIR.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${CRA_WASM_OUT:-$here/pkg}"
features=""
targets="web bundler"
optimize=1
while [ $# -gt 0 ]; do
  case "$1" in
    --features) features="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    # A test build: the `testing` feature (panic injection), web glue only, no wasm-opt.
    --testing) features="testing"; out="$here/pkg-testing"; targets="web"; optimize=0; shift ;;
    *) echo "build.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

WASM_BINDGEN="${WASM_BINDGEN:-$HOME/.cargo/bin/wasm-bindgen}"
WASM_OPT="${WASM_OPT:-$here/node_modules/.bin/wasm-opt}"
CARGO="${CARGO:-cargo}"
[ -x "$WASM_OPT" ] || (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)

# Size-tuned release for wasm32 only (the host's release profile is untouched: wasm32 artifacts
# live under target/wasm32-unknown-unknown/).
export CARGO_PROFILE_RELEASE_OPT_LEVEL=z CARGO_PROFILE_RELEASE_LTO=fat \
  CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_PROFILE_RELEASE_PANIC=abort
args=(build -p cra-wasm --target wasm32-unknown-unknown --release)
[ -n "$features" ] && args+=(--features "$features")
(cd "$root" && "$CARGO" "${args[@]}")
wasm="$root/target/wasm32-unknown-unknown/release/cra_wasm.wasm"

rm -rf "$out" && mkdir -p "$out"
cp -r "$here/npm/." "$out/"
for target in $targets; do
  "$WASM_BINDGEN" "$wasm" --target "$target" --out-dir "$out/$target" --out-name cra_wasm --no-typescript
  rm -f "$out/$target/package.json" "$out/$target/.gitignore"
  [ "$optimize" = 1 ] || continue
  # Features the Rust wasm32 target emits by default; wasm-opt must accept (and may keep) them.
  "$WASM_OPT" -Oz --strip-debug --strip-producers \
    --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    "$out/$target/cra_wasm_bg.wasm" -o "$out/$target/cra_wasm_bg.wasm"
done

# The shared JS API as an ES module: same source, `module.exports = {…}` → `export {…}`.
api_src="$root/bindings/node/lib/api.js"
grep -q '^module.exports = { makeApi, errors, mapError };$' "$api_src" || {
  echo "build.sh: $api_src no longer ends with the expected module.exports line" >&2; exit 1; }
sed -e "s/^'use strict';$//" -e 's/^module.exports = { makeApi, errors, mapError };$/export { makeApi, errors, mapError };/' \
  "$api_src" > "$out/api.js"
# Types: the native package's declarations plus init.
cp "$root/bindings/node/index.d.ts" "$out/index.d.ts"
cat "$here/npm/init.d.ts" >> "$out/index.d.ts"
rm -f "$out/init.d.ts"

[ "$optimize" = 1 ] || exit 0
size=$(stat -c %s "$out/web/cra_wasm_bg.wasm")
gz=$(gzip -9 -c "$out/web/cra_wasm_bg.wasm" | wc -c)
echo "build.sh: $out/web/cra_wasm_bg.wasm: $size bytes ($((size / 1024)) KiB), gzip -9 $gz bytes ($((gz / 1024)) KiB)"
# The target (docs/wasm.md) is 300 KiB; the engine does not fit it yet, so this gate only stops
# regressions past the ceiling (CRA_WASM_MAX_KIB, default 720: the module is about 640 KiB since
# it validates parameters too, with the small validator and regex-lite, and parses numbers
# exactly for RFC 8785 hashing; the trust decisions of protocol.md §6, explain, shadow mode and
# lint added about 46 KiB, to 686 KiB).
[ "$size" -le $((300 * 1024)) ] || echo "build.sh: note: over the 300 KiB size target"
if [ "$size" -gt $((${CRA_WASM_MAX_KIB:-720} * 1024)) ]; then
  echo "build.sh: the module grew past ${CRA_WASM_MAX_KIB:-720} KiB" >&2
  exit 1
fi
