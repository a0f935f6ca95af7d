#!/usr/bin/env bash
# bench_io_weight_guests: two Linux guests under hvd, each reading its own
# disk image as fast as it can, both images files on one ext4 file system
# on one device, with io_weight 200 and 100 (issue 9: within 10% of 2:1),
# against the same two with equal weights, in the same run, taking turns.
# The nested way (tests/nested): inside the outer QEMU TCG VM with
# kvm-amd. The device is the outer VM's virtio disk, throttled by QEMU to
# --mibps (default 4 MiB/s) so that it, not the guests' CPUs, is what
# they contend for. Each guest runs four O_DIRECT readers of 64 KiB
# (guest-test.sh hvtest=ioload); both are created paused and unpaused
# together, then what each one's hv-domain process read from the device
# (/proc/PID/io read_bytes) is sampled over --secs (default 20) seconds.
#   RESULT io_weight_guests_share ratio=<achieved/2.00> ours=<achieved A:B> baseline=<A:B with equal weights>
#   RESULT io_weight_guests_total ratio=<MiB/s weighted / equal> ours=<MiB/s> baseline=<MiB/s>
# --rounds=N pairs of each kind (default 2; medians reported).
set -euo pipefail
nested=@NESTED_DIR@
build=$(cd "$(dirname "$0")/.." && pwd)
secs=20 rounds=2 mibps=4
for a in "$@"; do
  case $a in
    --secs=*) secs=${a#*=} ;;
    --rounds=*) rounds=${a#*=} ;;
    --mibps=*) mibps=${a#*=} ;;
    *) echo "bench_io_weight_guests: unknown argument $a" >&2; exit 2 ;;
  esac
done
cache=$("$nested/kernel-cache")
[ -f "$cache/vmlinux" ] || "$build/tests/nested/extract-vmlinux" "$cache"/k/boot/vmlinuz-* "$cache/vmlinux"

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
dir=$work/dir; mkdir -p "$dir/bin" "$work/data"
cp "$build/tools/hvctl/hvctl" "$build/tools/hvd/hvd" "$build/tools/hvd/hv-domain" "$dir/bin/"
cp "$cache/vmlinux" "$dir/vmlinux"
GUEST_TEST=$nested/guest-test.sh "$nested/mkguest" "$dir/guest.cpio" virtio_pci virtio_blk
# Random bytes (no read is served from a hole) enough for both guests'
# readers to run through a pair without reaching the end: at most
# (boot + secs) x the device's rate each.
mib=$(( (secs + 40) * mibps ))
head -c $((mib << 20)) /dev/urandom > "$work/data/a.img"
head -c $((mib << 20)) /dev/urandom > "$work/data/b.img"
mke2fs -q -t ext4 -d "$work/data" "$work/disk.img" $((2 * mib + mib / 4 + 64))M > /dev/null
rm -f "$work/data/a.img" "$work/data/b.img"
for g in a b; do
  cat > "$dir/$g.cfg.in" <<CFG
name = "io$g"
kernel = "/vmlinux"
ramdisk = "/guest.cpio"
memory = 128
disk = [ '/data/$g.img,raw,xvda,r' ]
io_weight = @W@
extra = "console=ttyS0 quiet hvtest=ioload"
on_poweroff = "destroy"
CFG
done
cat > "$dir/run.sh" <<RUN
secs=$secs rounds=$rounds
RUN
cat >> "$dir/run.sh" <<'RUN'
waitfor() { # FILE PATTERN TENTHS
  i=0; while [ $i -lt "$3" ] && ! grep -q "$2" "$1" 2>/dev/null; do sleep 0.1; i=$((i+1)); done
}
mkdir -p /run /var/lib/hv /data; mount -t tmpfs run /run; mkdir -p /run/hv
i=0; while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
mount -t ext4 -o ro /dev/vda /data || { echo "no /data"; exit 1; }
hvd --sched none --log-level warn > /tmp/hvd.log 2>&1 &
i=0; while [ $i -lt 100 ] && [ ! -S /run/hv/hvd.sock ]; do sleep 0.1; i=$((i+1)); done
# The hv-domain process that has FILE open.
holder() { for p in $(pidof hv-domain); do ls -l /proc/$p/fd 2>/dev/null | grep -q "$1" && echo $p; done | head -1; }
read_bytes() { awk '/^read_bytes/{print $2}' /proc/$1/io; }
pair() { # KIND WEIGHT-A WEIGHT-B
  echo 3 > /proc/sys/vm/drop_caches
  sed "s/@W@/$2/" /a.cfg.in > /tmp/a.cfg; sed "s/@W@/$3/" /b.cfg.in > /tmp/b.cfg
  hvctl create -p /tmp/a.cfg && hvctl create -p /tmp/b.cfg || { echo "PAIR $1 create failed"; cat /tmp/hvd.log; return; }
  hvctl console ioa > /tmp/a.con 2>&1 & ca=$!
  hvctl console iob > /tmp/b.con 2>&1 & cb=$!
  sleep 0.5
  hvctl unpause ioa; hvctl unpause iob
  waitfor /tmp/a.con IOLOAD-START 1800; waitfor /tmp/b.con IOLOAD-START 1800
  sleep 2
  pa=$(holder /data/a.img); pb=$(holder /data/b.img)
  a0=$(read_bytes $pa); b0=$(read_bytes $pb)
  sleep $secs
  a1=$(read_bytes $pa); b1=$(read_bytes $pb)
  ends=$(cat /tmp/a.con /tmp/b.con | grep -c IOLOAD-END || true)
  echo "PAIR $1 $((a1 - a0)) $((b1 - b0)) $secs ends=$ends"
  if [ "$ends" != 0 ] || [ -z "$pa" ] || [ -z "$pb" ]; then # what went wrong, for the report
    tail -n 8 /tmp/a.con /tmp/b.con /tmp/hvd.log; hvctl list
  fi
  hvctl destroy ioa; hvctl destroy iob
  kill $ca $cb 2>/dev/null; wait $ca $cb 2>/dev/null
}
r=0
while [ $r -lt $rounds ]; do
  pair equal 100 100
  pair weighted 200 100
  r=$((r + 1))
done
RUN
out=$work/out
HV_NESTED_TIMEOUT=$((300 + rounds * 2 * (secs + 120))) HV_NESTED_MODULES="virtio_pci virtio_blk ext4" \
  HV_NESTED_QEMU_ARGS="-drive file=$work/disk.img,if=none,id=d0,format=raw,cache=none,throttling.bps-read=$((mibps << 20)) -device virtio-blk-pci,drive=d0" \
  "$nested/run-outer" "$dir" > "$out" 2>&1 || { tail -40 "$out" >&2; echo "bench_io_weight_guests: the outer run failed" >&2; exit 1; }
grep '^PAIR' "$out" >&2 || true
grep -q '^PAIR.*ends=0' "$out" && ! grep -q '^PAIR.*ends=[1-9]' "$out" || sed -n '/^PAIR/,$p' "$out" | head -60 >&2
awk '
  /^PAIR (equal|weighted) [0-9]+ [0-9]+ / {
    if ($6 != "ends=0" || $4 == 0) { bad = bad " " $0; next }
    k = $2; n[k]++; r[k, n[k]] = $3 / $4; t[k, n[k]] = ($3 + $4) / $5 / 1048576
  }
  function median(a, k, m,   i, j, x, v) {
    for (i = 1; i <= m; i++) v[i] = a[k, i]
    for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (v[j] < v[i]) { x = v[i]; v[i] = v[j]; v[j] = x }
    return m % 2 ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
  }
  END {
    if (bad != "") { print "bench_io_weight_guests: unusable pairs:" bad > "/dev/stderr"; exit 1 }
    if (!n["equal"] || !n["weighted"]) { print "bench_io_weight_guests: no pairs measured" > "/dev/stderr"; exit 1 }
    rw = median(r, "weighted", n["weighted"]); re = median(r, "equal", n["equal"])
    tw = median(t, "weighted", n["weighted"]); te = median(t, "equal", n["equal"])
    printf "RESULT io_weight_guests_share ratio=%.3f ours=%.3f baseline=%.3f\n", rw / 2, rw, re
    printf "RESULT io_weight_guests_total ratio=%.3f ours=%.2f baseline=%.2f\n", tw / te, tw, te
  }' "$out"
