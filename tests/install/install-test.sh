#!/bin/sh
# Installs the build into a temporary root and builds an out-of-tree
# consumer against it with pkg-config: once header-only (libhv-sdk), once
# with the library (libhv), which then boots the hello guest embedded.
# usage: install-test.sh BUILD_DIR SOURCE_ROOT CXX HELLO_GUEST
set -eu
build=$1; src=$2; cxx=$3; guest=$4
root=$(mktemp -d); trap 'rm -rf "$root"' EXIT
meson install -C "$build" --destdir "$root" --no-rebuild --quiet
pcdir=$(dirname "$(find "$root" -name libhv-sdk.pc | head -n 1)")
[ -n "$pcdir" ] || { echo "FAIL: libhv-sdk.pc not installed"; exit 1; }
for f in bin/hvd bin/hv-domain bin/hvctl include/hv/sdk/connection.hpp include/hv/abi/control.h include/hv/guest/hypercall.hpp; do
  find "$root" -path "*/$f" | grep -q . || { echo "FAIL: $f not installed"; exit 1; }
done
prefix=$(PKG_CONFIG_PATH="$pcdir" pkg-config --variable=prefix libhv-sdk)
pc() { PKG_CONFIG_PATH="$pcdir" pkg-config --define-variable=prefix="$root$prefix" "$@"; }

# Header-only: speaks to hvd; with no hvd it must fail cleanly.
$cxx $(pc --cflags libhv-sdk) "$src/tests/install/consumer.cpp" -o "$root/consumer-sdk" $(pc --libs libhv-sdk)
out=$("$root/consumer-sdk" unix:///nonexistent/hvd.sock || true)
echo "sdk only: $out"
echo "$out" | grep -q "open failed: not_found" || { echo "FAIL: unexpected output"; exit 1; }
out=$("$root/consumer-sdk" embedded:// || true)
echo "$out" | grep -q "open failed: not_supported" || { echo "FAIL: embedded:// without libhv should say so: $out"; exit 1; }

# With libhv: embedded monitor, a real guest.
$cxx $(pc --cflags libhv) "$src/tests/install/consumer.cpp" -o "$root/consumer-lib" $(pc --libs libhv)
libdir=$(pc --variable=libdir libhv)
if [ -e /dev/kvm ]; then
  LD_LIBRARY_PATH="$libdir" "$root/consumer-lib" embedded:// "$guest"
else
  echo "no /dev/kvm: linked the embedded consumer, did not run it"
fi
echo "install test: ok"
