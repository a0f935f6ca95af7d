#!/usr/bin/env bash
# bench_linux_boot: Linux boot to init under hv versus QEMU -M pc booting
# the same kernel through PVH (the fastest peer measured here), both inside
# one outer QEMU TCG VM with kvm-amd (the nested way, tests/nested), taking
# turns, 1 and 2 vCPUs. Time: VMM start to the guest's first line of init
# ("GUEST-INIT", printed by the busybox initramfs), read from the VMM's
# console as it arrives, by the outer VM's clock. Kernel: Debian's
# linux-image-amd64 ELF (the PVH payload of its bzImage), 256 MiB.
#   RESULT linux_boot_1vcpu ratio=<hv/qemu> ours=<s> baseline=<s>
#   RESULT linux_boot_2vcpu ratio=...
# --runs=N boots per VMM and vCPU count (default 3; medians are reported).
set -euo pipefail
nested=@NESTED_DIR@
build=$(cd "$(dirname "$0")/.." && pwd)
runs=3
for a in "$@"; do case $a in --runs=*) runs=${a#--runs=} ;; *) echo "bench_linux_boot: unknown argument $a" >&2; exit 2 ;; esac; done
cache=$("$nested/kernel-cache")
[ -f "$cache/vmlinux" ] || "$build/tests/nested/extract-vmlinux" "$cache"/k/boot/vmlinuz-* "$cache/vmlinux"

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
dir=$work/dir; mkdir -p "$dir/bin" "$dir/usr/share/qemu"
cp "$build/tools/hvctl/hvctl" "$(command -v qemu-system-x86_64)" "$dir/bin/"
# QEMU's pc machine needs SeaBIOS and the PVH option ROM.
for f in /usr/share/seabios/bios-256k.bin /usr/share/qemu/pvh.bin /usr/share/qemu/linuxboot_dma.bin /usr/share/qemu/kvmvapic.bin; do
  cp -L "$f" "$dir/usr/share/qemu/"
done
cp "$cache/vmlinux" "$dir/vmlinux"
"$nested/mkguest" "$dir/guest.cpio"
for n in 1 2; do
  cat > "$dir/hv$n.cfg" <<CFG
name = "boot$n"
kernel = "/vmlinux"
ramdisk = "/guest.cpio"
memory = 256
vcpus = $n
extra = "console=ttyS0 quiet"
CFG
done
cat > "$dir/run.sh" <<RUN
now() { cut -d' ' -f1 /proc/uptime; }
# Prints "BOOT <vmm> <vcpus> <seconds to GUEST-INIT>" for one boot.
boot() {
  vmm=\$1; n=\$2; t0=\$(now); t=none
  if [ \$vmm = hv ]; then set -- hvctl --connect embedded:// create -c /hv\$n.cfg
  else set -- qemu-system-x86_64 -L /usr/share/qemu -M pc -accel kvm -cpu host -m 256 -smp \$n -nodefaults -nographic \\
         -serial stdio -no-reboot -kernel /vmlinux -initrd /guest.cpio -append "console=ttyS0 quiet"
  fi
  timeout 120 "\$@" 2>&1 | while IFS= read -r line; do
    case "\$line" in *GUEST-INIT*) echo "BOOT \$vmm \$n \$(awk "BEGIN{print \$(now) - \$t0}")" ;; esac
  done
}
for n in 1 2; do
  i=0; while [ \$i -lt $runs ]; do boot hv \$n; boot qemu \$n; i=\$((i+1)); done
done
RUN
out=$work/out.txt
for attempt in 1 2; do
  set +e
  HV_NESTED_TIMEOUT=$((120 + runs * 4 * 60)) "$nested/run-outer" "$dir" > "$out" 2>&1
  set -e
  grep -q '^NESTED-RC 0' "$out" && break
  echo "bench_linux_boot: outer run $attempt ended without a result; last lines:"; tail -n 5 "$out"
done
grep '^BOOT ' "$out" || true
python3 - "$out" <<'PY'
import statistics, sys
boots = {}
for line in open(sys.argv[1]):
    if line.startswith("BOOT "):
        _, vmm, n, s = line.split()
        boots.setdefault((vmm, n), []).append(float(s))
for n in ("1", "2"):
    hv, qemu = boots.get(("hv", n), []), boots.get(("qemu", n), [])
    if not hv or not qemu:
        print(f"RESULT linux_boot_{n}vcpu missing: hv {len(hv)} boots, qemu {len(qemu)} boots reached init")
        continue
    ours, base = statistics.median(hv), statistics.median(qemu)
    print(f"RESULT linux_boot_{n}vcpu ratio={ours / base:.2f} ours={ours:.2f}s baseline={base:.2f}s "
          f"(medians of {len(hv)}/{len(qemu)}; hv {min(hv):.2f}-{max(hv):.2f}, qemu {min(qemu):.2f}-{max(qemu):.2f})")
PY
