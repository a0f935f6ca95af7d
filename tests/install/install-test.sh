#!/bin/sh
# Installs the build into a temporary root and builds an out-of-tree
# consumer against it with pkg-config: once header-only (libhv-sdk), once
# with the library (libhv), which then boots the hello guest embedded.
# Then the README's quick start from the installed files alone: the
# installed examples/hello.cfg (share/hv/examples) with the guest next to it.
# usage: install-test.sh BUILD_DIR SOURCE_ROOT CXX HELLO_GUEST
set -eu
build=$1; src=$2; cxx=$3; guest=$4
root=$(mktemp -d); trap 'rm -rf "$root"' EXIT
meson install -C "$build" --destdir "$root" --no-rebuild --quiet
pcdir=$(dirname "$(find "$root" -name libhv-sdk.pc | head -n 1)")
[ -n "$pcdir" ] || { echo "FAIL: libhv-sdk.pc not installed"; exit 1; }
for f in bin/hvd bin/hv-domain bin/hvctl include/hv/sdk/connection.hpp include/hv/abi/control.h include/hv/guest/hypercall.hpp \
         share/hv/examples/hello.cfg share/hv/examples/hello.elf; do
  find "$root" -path "*/$f" | grep -q . || { echo "FAIL: $f not installed"; exit 1; }
done
prefix=$(PKG_CONFIG_PATH="$pcdir" pkg-config --variable=prefix libhv-sdk)
# The two ways README.md gives for a staged install (--destdir): the sysroot,
# or the prefix moved into it. They must agree.
pc() { PKG_CONFIG_PATH="$pcdir" PKG_CONFIG_SYSROOT_DIR="$root" pkg-config "$@"; }
pc_prefix() { PKG_CONFIG_PATH="$pcdir" pkg-config --define-variable=prefix="$root$prefix" "$@"; }
for m in libhv-sdk libhv; do
  [ "$(pc --cflags --libs $m)" = "$(pc_prefix --cflags --libs $m)" ] ||
    { echo "FAIL: $m: PKG_CONFIG_SYSROOT_DIR gives '$(pc --cflags --libs $m)', --define-variable '$(pc_prefix --cflags --libs $m)'"; exit 1; }
done
pc --cflags libhv-sdk | grep -q -- "-I$root$prefix/include" || { echo "FAIL: libhv-sdk cflags: $(pc --cflags libhv-sdk)"; exit 1; }

# Header-only: speaks to hvd; with no hvd it must fail cleanly.
$cxx $(pc --cflags libhv-sdk) "$src/tests/install/consumer.cpp" -o "$root/consumer-sdk" $(pc --libs libhv-sdk)
out=$("$root/consumer-sdk" unix:///nonexistent/hvd.sock || true)
echo "sdk only: $out"
echo "$out" | grep -q "open failed: not_found" || { echo "FAIL: unexpected output"; exit 1; }
out=$("$root/consumer-sdk" embedded:// || true)
echo "$out" | grep -q "open failed: not_supported" || { echo "FAIL: embedded:// without libhv should say so: $out"; exit 1; }

# With libhv: embedded monitor, a real guest.
$cxx $(pc_prefix --cflags libhv) "$src/tests/install/consumer.cpp" -o "$root/consumer-lib" $(pc_prefix --libs libhv)
libdir=$(pc_prefix --variable=libdir libhv)
[ -e "$libdir/libhv.so" ] || { echo "FAIL: no libhv.so in $libdir"; exit 1; }
if [ -e /dev/kvm ]; then
  LD_LIBRARY_PATH="$libdir" "$root/consumer-lib" embedded:// "$guest"
else
  echo "no /dev/kvm: linked the embedded consumer, did not run it"
fi

# The quick start outside the source tree: the installed config names the
# installed guest (kernel= relative to the config's folder), from any
# working directory.
examples=$root$prefix/share/hv/examples
hvctl=$root$prefix/bin/hvctl
cd "$root"
out=$(HV_LOG_LEVEL=off "$hvctl" --connect embedded:// create -n "$examples/hello.cfg") ||
  { echo "FAIL: create -n of the installed hello.cfg: $out"; exit 1; }
echo "$out" | grep -q "\"kernel\": \"$examples/hello.elf\"" ||
  { echo "FAIL: the installed hello.cfg does not name the installed guest: $out"; exit 1; }
if [ -e /dev/kvm ]; then
  out=$(HV_LOG_LEVEL=off timeout 60 "$hvctl" --connect embedded:// create -c "$examples/hello.cfg" 2>&1) ||
    { echo "FAIL: the installed hello.cfg did not boot: $out"; exit 1; }
  echo "$out" | grep -q "hello: shutting down: poweroff" || { echo "FAIL: unexpected console: $out"; exit 1; }
  echo "installed hello.cfg: booted and powered off"

  # ... and through the installed hvd (which finds the installed hv-domain),
  # as README.md's quick start does.
  sock=$root/hvd.sock
  "$root$prefix/bin/hvd" --socket "$sock" --state-dir "$root/state" --log-level warn 2>"$root/hvd.log" &
  hvd_pid=$!
  trap 'kill $hvd_pid 2>/dev/null || true; wait $hvd_pid 2>/dev/null || true; rm -rf "$root"' EXIT
  i=0; while [ ! -S "$sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  export HV_CONNECT=unix://$sock
  out=$("$hvctl" create "$examples/hello.cfg" name=web extra=stay 2>&1) ||
    { echo "FAIL: create through the installed hvd: $out"; cat "$root/hvd.log"; exit 1; }
  "$hvctl" list | grep -q "^web " || { echo "FAIL: web not listed"; exit 1; }
  "$hvctl" shutdown -w --timeout 30 web || { echo "FAIL: shutdown -w web"; exit 1; }
  kill $hvd_pid; wait $hvd_pid 2>/dev/null || true
  echo "installed hvd: created, listed and shut down web from the installed hello.cfg"
fi
echo "install test: ok"
