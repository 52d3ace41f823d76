#!/usr/bin/env bash
# Builds the @cra/wasm npm package into bindings/wasm/pkg (or $CRA_WASM_OUT):
#   cargo (wasm32, size-tuned release) → wasm-bindgen (web + bundler glue) → wasm-opt -Oz
#   → the package files from npm/ and the shared JS API (bindings/node/lib/api.mjs, copied as is).
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
rm -f "$out/package-lock.json"

# One .wasm for every entry: the web glue and its module in web/; the bundler glue's module is
# byte-identical (checked), so bundler/cra_wasm.js imports ../web/cra_wasm_bg.wasm, whose import
# module "./cra_wasm_bg.js" is the bundler's bg glue placed beside it in web/.
"$WASM_BINDGEN" "$wasm" --target web --out-dir "$out/web" --out-name cra_wasm --no-typescript
rm -f "$out/web/package.json" "$out/web/.gitignore"
if [ "$targets" = "web bundler" ]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  "$WASM_BINDGEN" "$wasm" --target bundler --out-dir "$tmp" --out-name cra_wasm --no-typescript
  cmp -s "$tmp/cra_wasm_bg.wasm" "$out/web/cra_wasm_bg.wasm" || {
    echo "build.sh: the bundler and web modules differ; cannot ship one .wasm" >&2; exit 1; }
  grep -q '^import \* as wasm from "./cra_wasm_bg.wasm";$' "$tmp/cra_wasm.js" || {
    echo "build.sh: unexpected bundler glue (wasm-bindgen changed?)" >&2; exit 1; }
  mv "$tmp/cra_wasm_bg.js" "$out/web/cra_wasm_bg.js"
  sed -e 's#"./cra_wasm_bg.wasm"#"../web/cra_wasm_bg.wasm"#' -e 's#"./cra_wasm_bg.js"#"../web/cra_wasm_bg.js"#g' \
    "$tmp/cra_wasm.js" > "$out/bundler/cra_wasm.js"
fi

# recover(): the web glue keeps one instance in module variables; this lets the package forget
# it and instantiate the compiled module again after a trap. A resolver of the old instance that
# the garbage collector finalizes later must not free memory in the new one, so finalizers carry
# the instance's epoch. Every patched line is checked, so a glue change fails the build.
glue="$out/web/cra_wasm.js"
patch_glue() { # $1 = fixed string that must occur once, $2 = replacement
  [ "$(grep -cF -- "$1" "$glue")" = 1 ] || { echo "build.sh: cannot patch the web glue at: $1" >&2; exit 1; }
  FIND="$1" REPL="$2" perl -0pi -e 's/\Q$ENV{FIND}\E/$ENV{REPL}/' "$glue"
}
patch_glue 'new FinalizationRegistry(ptr => wasm.__wbg_nativeresolver_free(ptr, 1));' \
  'new FinalizationRegistry(({ ptr, epoch }) => { if (epoch === __cra_epoch) wasm.__wbg_nativeresolver_free(ptr, 1); });'
patch_glue 'NativeResolverFinalization.register(this, this.__wbg_ptr, this);' \
  'NativeResolverFinalization.register(this, { ptr: this.__wbg_ptr, epoch: __cra_epoch }, this);'
patch_glue 'let wasmModule, wasmInstance, wasm;' 'let wasmModule, wasmInstance, wasm, __cra_epoch = 0;'
cat >> "$glue" <<'EOF_GLUE'

/** CRA (build.sh): forgets the instance so that initSync() makes a new one; returns the compiled module. */
export function __cra_reset() {
    const module = wasmModule;
    wasm = undefined;
    wasmInstance = undefined;
    __wbg_init_promise = undefined;
    cachedUint8ArrayMemory0 = null;
    __cra_epoch++;
    return module;
}
EOF_GLUE
[ "$(grep -c '^let cached[A-Za-z0-9]*Memory0 = null;$' "$glue")" = 1 ] && grep -q '^let cachedUint8ArrayMemory0 = null;$' "$glue" || {
  echo "build.sh: the web glue caches another memory view; reset it in __cra_reset" >&2; exit 1; }

if [ "$optimize" = 1 ]; then
  # Features the Rust wasm32 target emits by default; wasm-opt must accept (and may keep) them.
  "$WASM_OPT" -Oz --strip-debug --strip-producers \
    --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    "$out/web/cra_wasm_bg.wasm" -o "$out/web/cra_wasm_bg.wasm"
fi

# The shared JS API: the ES module @cra/node loads too, copied byte for byte. It keeps the name
# api.js here (the package is "type": "module"): servers that do not know .mjs would send the
# browser entry's import of it with a MIME type browsers refuse for modules.
cp "$root/bindings/node/lib/api.mjs" "$out/api.js"
# Types: the native package's declarations plus init, recover and TraceShipper.
cp "$root/bindings/node/index.d.ts" "$out/index.d.ts"
cat "$here/npm/init.d.ts" "$here/npm/ship.d.ts" >> "$out/index.d.ts"
rm -f "$out/init.d.ts" "$out/ship.d.ts"
# The example atlases with their context files inlined (no file system in browsers and Workers).
mkdir -p "$out/examples"
for a in customer-support devops; do
  node "$here/npm/bundle-atlas.mjs" "$root/examples/atlases/$a" > "$out/examples/$a.json"
done

[ "$optimize" = 1 ] || exit 0
size=$(stat -c %s "$out/web/cra_wasm_bg.wasm")
gz=$(gzip -9 -c "$out/web/cra_wasm_bg.wasm" | wc -c)
echo "build.sh: $out/web/cra_wasm_bg.wasm: $size bytes ($((size / 1024)) KiB), gzip -9 $gz bytes ($((gz / 1024)) KiB)"
# The target (docs/wasm.md) is 300 KiB; the engine does not fit it yet, so this gate only stops
# regressions past the ceiling (CRA_WASM_MAX_KIB, default 775: the module is 784,085 B (765 KiB)
# since the one compiled JSON Schema validator of every build ($ref, format checks, if/then/else,
# contains, ...) and the execute hot path's typed trace payloads and direct answer writer came in
# (+34 KiB over 749,705 B); with exact number parsing for RFC 8785
# hashing, the trust decisions of protocol.md §6, shadows, lints, verify options, the approvals
# list, chunked draining, explain, shadow loading and loadAtlasFiles; docs/wasm.md "Sizes" says
# where the bytes go). A feature that needs a higher ceiling argues it in its change.
[ "$size" -le $((300 * 1024)) ] || echo "build.sh: note: over the 300 KiB size target"
if [ "$size" -gt $((${CRA_WASM_MAX_KIB:-775} * 1024)) ]; then
  echo "build.sh: the module grew past ${CRA_WASM_MAX_KIB:-775} KiB" >&2
  exit 1
fi
