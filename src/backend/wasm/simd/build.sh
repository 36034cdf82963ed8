#!/usr/bin/env bash
# Builds kernels.c into the four modules the wasm backend loads (./module.ts):
#   kernels.wasm              for tfjs's single-threaded build (its memory is not shared)
#   kernels.threads.wasm      for the threaded build (shared memory, atomics)
#   kernels.fma.wasm, kernels.threads.fma.wasm   the same with relaxed SIMD's fused multiply-add
#                             (f32x4.relaxed_madd), loaded where the engine validates it
# Needs clang and wasm-ld 16 (Debian: apt-get install clang-16 lld-16; wabt for the checks below):
# clang 14 emits relaxed SIMD's pre-standard opcodes (f32x4.fma, 0xfd 0xaf), which no engine accepts
# now; 16 emits the final ones (f32x4.relaxed_madd, 0xfd 0x105), which Node 20's V8 11.3 validates.
# The binaries are committed; test/backend/wasm_simd.test.ts rebuilds them and compares.
set -euo pipefail
cd "$(dirname "$0")"
CC=${CC:-$(command -v clang-16 || command -v clang)}
LD=${WASM_LD:-$(command -v wasm-ld-16 || command -v wasm-ld)}
OUT=${1:-.}
CFLAGS=(--target=wasm32 -O3 -msimd128 -mbulk-memory -nostdlib -ffreestanding -fno-builtin -Wall -Wextra -Wshadow -Werror)
LDFLAGS=(--no-entry --import-memory -z stack-size=0 --strip-debug)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for fma in "" fma; do
  flags=("${CFLAGS[@]}")
  suffix=""
  if [ -n "$fma" ]; then flags+=(-mrelaxed-simd); suffix=".fma"; fi
  "$CC" "${flags[@]}" -c kernels.c -o "$tmp/single.o"
  "$LD" "${LDFLAGS[@]}" "$tmp/single.o" -o "$OUT/kernels$suffix.wasm"
  "$CC" "${flags[@]}" -matomics -c kernels.c -o "$tmp/threads.o"
  "$LD" "${LDFLAGS[@]}" --shared-memory --max-memory=4294967296 "$tmp/threads.o" -o "$OUT/kernels.threads$suffix.wasm"
done
# The modules live in someone else's memory: no data, and no stack frames (a frame would be written
# at the stack pointer's fixed initial address, inside tfjs's heap).
for f in "$OUT"/kernels*.wasm; do
  if command -v wasm-objdump >/dev/null; then
    # grep reads to the end (no -q): under pipefail, wasm-objdump killed by SIGPIPE would fail the
    # pipeline and so pass the check.
    if wasm-objdump -d "$f" | grep 'global\.[gs]et' >/dev/null; then echo "$f uses the stack pointer" >&2; exit 1; fi
    if wasm-objdump -h "$f" | grep -E '^ *Data' >/dev/null; then echo "$f has a data segment" >&2; exit 1; fi
  fi
done
