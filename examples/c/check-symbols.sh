#!/usr/bin/env bash
# Asserts that a libcra shared library exports only `cra_*` symbols (and at least the core set),
# so no Rust or allocator internals leak into the ABI. Usage: check-symbols.sh path/to/libcra.so
set -euo pipefail
lib="${1:?usage: check-symbols.sh libcra.so}"
symbols="$(nm -D --defined-only "$lib" | awk '{print $NF}')"
stray="$(grep -v '^cra_' <<<"$symbols" || true)"
if [[ -n "$stray" ]]; then
  echo "check-symbols: $lib exports symbols outside the cra_ namespace:" >&2
  head -20 <<<"$stray" >&2
  exit 1
fi
for required in cra_abi_version cra_version cra_resolver_new cra_resolver_free cra_buffer_free cra_error_free; do
  grep -qx "$required" <<<"$symbols" || { echo "check-symbols: $lib does not export $required" >&2; exit 1; }
done
echo "check-symbols: $lib exports $(wc -l <<<"$symbols") symbols, all cra_*"
