#!/bin/sh
# Builds the core with no hosted headers and links it with -nostdlib into
# tests/freestanding/stub.cpp; then runs the stub. Fails on any undefined
# symbol beyond the runtime list the stub defines (docs/architecture.md).
# usage: link-test.sh CXX SOURCE_ROOT GENERATED_DIR (where the build put
# the DSDT's compiled AML, dsdt.hex)
set -eu
cxx=$1; src=$2; gen=$3
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
gccinc=$($cxx -print-file-name=include)
flags="-std=c++20 -O2 -ffreestanding -fno-exceptions -fno-rtti -fno-threadsafe-statics -fno-stack-protector
  -fno-pie -mno-red-zone -mgeneral-regs-only -mcmodel=kernel
  -fno-asynchronous-unwind-tables -nostdinc -isystem $gccinc
  -I$src/libhv -I$src/libhv/include -I$gen -Wall -Wextra -Werror"
objs=""
for f in "$src"/libhv/core/*.cpp "$src"/libhv/core/*/*.cpp; do
  o="$work/$(basename "$f" .cpp).o"
  # Ring-0 stacks are small: the core's frames are held to 1 KiB (the stub,
  # a test harness, is not).
  $cxx $flags -Wframe-larger-than=1024 -c "$f" -o "$o"
  objs="$objs $o"
done
ar rcs "$work/libhv_core_freestanding.a" $objs
# One relocatable object, so references between core files resolve and
# what is left undefined is what the core needs from outside.
ld -r -o "$work/core_all.o" $objs
undefined=$(nm -u "$work/core_all.o" | awk '{print $NF}' | sort -u)
echo "undefined symbols of the core:" $undefined
allowed="memcpy memset memmove memcmp __cxa_pure_virtual"
for s in $undefined; do
  case " $allowed " in *" $s "*) ;; *) echo "FAIL: core needs '$s', which is not in the runtime list ($allowed)"; exit 1;; esac
done
$cxx $flags -c "$src/tests/freestanding/stub.cpp" -o "$work/stub.o"
$cxx -nostdlib -static -no-pie -Wl,--no-undefined "$work/stub.o" "$work/libhv_core_freestanding.a" -o "$work/stub"
"$work/stub" || { echo "FAIL: freestanding stub checks returned $?"; exit 1; }
echo "freestanding link test: ok"
