#!/usr/bin/env bash
# Builds kernels.c into the two modules the wasm backend loads (./module.ts):
#   kernels.wasm          for tfjs's single-threaded build (its memory is not shared)
#   kernels.threads.wasm  for the threaded build (shared memory, atomics)
# Needs clang and wasm-ld (Debian: apt-get install clang-14 lld-14; wabt for the checks below).
# The binaries are committed; test/backend/wasm_simd_build.test.ts rebuilds them and compares.
set -euo pipefail
cd "$(dirname "$0")"
CC=${CC:-$(command -v clang-14 || command -v clang)}
LD=${WASM_LD:-$(command -v wasm-ld-14 || command -v wasm-ld)}
OUT=${1:-.}
CFLAGS=(--target=wasm32 -O3 -msimd128 -mbulk-memory -nostdlib -ffreestanding -fno-builtin -Wall -Wextra -Werror)
LDFLAGS=(--no-entry --import-memory -z stack-size=0 --strip-debug)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$CC" "${CFLAGS[@]}" -c kernels.c -o "$tmp/single.o"
"$LD" "${LDFLAGS[@]}" "$tmp/single.o" -o "$OUT/kernels.wasm"
"$CC" "${CFLAGS[@]}" -matomics -c kernels.c -o "$tmp/threads.o"
"$LD" "${LDFLAGS[@]}" --shared-memory --max-memory=4294967296 "$tmp/threads.o" -o "$OUT/kernels.threads.wasm"
# The modules live in someone else's memory: no data, and no stack frames (a frame would be written
# at the stack pointer's fixed initial address, inside tfjs's heap).
for f in "$OUT/kernels.wasm" "$OUT/kernels.threads.wasm"; do
  if command -v wasm-objdump >/dev/null; then
    if wasm-objdump -d "$f" | grep -q 'global\.[gs]et'; then echo "$f uses the stack pointer" >&2; exit 1; fi
    if wasm-objdump -h "$f" | grep -qE '^ *Data'; then echo "$f has a data segment" >&2; exit 1; fi
  fi
done
