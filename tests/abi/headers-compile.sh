#!/bin/sh
# Compiles every ABI header on its own, as C11 and as C++20, with warnings
# as errors: each header must be self-contained and valid in both.
# usage: headers-compile.sh CC CXX SOURCE_ROOT
set -eu
cc=$1; cxx=$2; src=$3
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
n=0
for h in "$src"/libhv/include/hv/abi/*.h; do
  name=$(basename "$h")
  printf '#include "hv/abi/%s"\n' "$name" > "$work/t.c"
  $cc -std=c11 -pedantic -Wall -Wextra -Werror -I"$src/libhv/include" -c "$work/t.c" -o "$work/t.o" || { echo "FAIL: $name as C11"; exit 1; }
  cp "$work/t.c" "$work/t.cpp"
  $cxx -std=c++20 -pedantic -Wall -Wextra -Werror -I"$src/libhv/include" -c "$work/t.cpp" -o "$work/t.o" || { echo "FAIL: $name as C++20"; exit 1; }
  echo "ok: $name (C11, C++20)"
  n=$((n + 1))
done
[ "$n" -gt 0 ] || { echo "FAIL: no ABI headers found"; exit 1; }
