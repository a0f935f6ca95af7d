#!/usr/bin/env bash
# bench_net: virtio-net under hv against veth, both inside one outer QEMU
# TCG VM with kvm-amd (the nested way, tests/nested), in the same run.
#   net_tcp_throughput  a Linux guest on xenbr0 fetches a 32 MiB file over
#                       TCP (busybox wget) from a peer namespace's httpd on
#                       the bridge, versus a namespace fetching it over a
#                       veth pair from another; seconds per fetch, so the
#                       ratio is hv/veth time (throughput ratio = 1/ratio)
#   net_rtt             ping round trips (20, 0.2 s apart) on the same paths
#   net_tcp_vs_qemu, net_rtt_vs_qemu (and _vhost)
#                       the same guest and fetches under QEMU with KVM in
#                       the same outer VM, its virtio-net on a TAP on
#                       xenbr0, vhost=off and vhost=on: what the standard
#                       VMM gets on the same nested path (context for the
#                       veth goals, which count every nested exit)
#   EXITS lines         (no RESULT) the guest's exits during the three
#                       fetches by reason, those that reached user space
#                       and the MSIs sent, for hv and both QEMU runs
#   vif_rate_10mbit     the ring-3 netecho guest sends full frames as fast
#                       as it can with rate=10Mb/s; the peer's measured
#                       rate against 10 Mb/s (goal: within 5%)
#   RESULT <name> ratio=<hv/baseline> ours=<..> baseline=<..>
set -euo pipefail
nested=@NESTED_DIR@
build=$(cd "$(dirname "$0")/.." && pwd)
cache=$("$nested/kernel-cache")
[ -f "$cache/vmlinux" ] || "$build/tests/nested/extract-vmlinux" "$cache"/k/boot/vmlinuz-* "$cache/vmlinux"

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
dir=$work/dir; mkdir -p "$dir/bin" "$dir/srv"
cp "$build/tools/hvctl/hvctl" "$build/tests/net/frame_peer" "$dir/bin/"
cp "$(command -v ip)" "$dir/bin/iproute2"
cp "$(command -v qemu-system-x86_64)" "$dir/bin/"
mkdir -p "$dir/qemu"; cp /usr/share/qemu/{qboot.rom,linuxboot_dma.bin,kvmvapic.bin} "$dir/qemu/"
cp "$build/tests/guests/netecho.elf" "$dir/netecho.elf"
cp "$cache"/k/boot/vmlinuz-* "$dir/vmlinuz"
truncate -s 32M "$dir/srv/big"
GUEST_TEST=$nested/guest-test.sh "$nested/mkguest" "$dir/guest.cpio" virtio_pci virtio_net virtio_console
cat > "$dir/guest.cfg" <<CFG
name = "netbench"
kernel = "/vmlinuz"
ramdisk = "/guest.cpio"
memory = 256
vif = [ 'bridge=xenbr0' ]
extra = "console=ttyS0 quiet hvtest=netbench hvnet_ip=10.0.0.2/24 hvnet_srv=10.0.0.9"
CFG
cat > "$dir/rate.cfg" <<CFG
name = "rate"
kernel = "/netecho.elf"
memory = 32
vif = [ 'mac=00:16:3e:00:00:11,bridge=xenbr0,rate=10Mb/s' ]
extra = "console=ttyS0"
CFG
cat > "$dir/run.sh" <<'RUN'
ip() { /bin/iproute2 "$@"; }
now() { cut -d' ' -f1 /proc/uptime; }
mkdir -p /run; mount -t tmpfs run /run; mkdir -p /run/netns
# What the guest's exits were during its three fetches (the outer kernel's
# kvm tracepoints as hist triggers, counted in the kernel): whether the
# exits or the copies are what a fetch costs here. One VM runs at a time.
T=/sys/kernel/tracing; mount -t tracefs tracefs $T 2>/dev/null || true
HIST="kvm_exit:exit_reason kvm_userspace_exit:reason kvm_msi_set_irq:address"
hist() { # on | off
  for h in $HIST; do
    echo "$([ "$1" = on ] || echo '!')hist:keys=${h#*:}" > $T/events/kvm/${h%:*}/trigger 2>/dev/null || { echo "EXITS unavailable"; return; }
  done
}
exits() { # WHO: one line from the hist triggers' counts
  awk -v who="$1" -v mib=32 '
    BEGIN { split("96 intr 100 vintr 114 cpuid 120 hlt 123 io 124 msr 1024 npf", a, " ")
            for (i = 1; i < 7 * 2; i += 2) name[a[i]] = a[i + 1] }
    FILENAME ~ /kvm_exit/ && /^\{.*hitcount:/ { r = $3; n = $6; all += n; by[name[r] != "" ? name[r] : "reason" r] += n }
    FILENAME ~ /userspace/ && /^\{.*hitcount:/ { user += $6 }
    FILENAME ~ /msi/ && /^\{.*hitcount:/ { msi += $6 }
    END { line = ""; for (k in by) line = line " " k "=" by[k]
          printf "EXITS %s: %d in three 32 MiB fetches (%.0f per MiB;%s), %d to user space, %d MSIs\n", who, all, all / (3 * mib), line, user, msi }
  ' $T/events/kvm/kvm_exit/hist $T/events/kvm/kvm_userspace_exit/hist $T/events/kvm/kvm_msi_set_irq/hist
}
ip link set lo up
ip link add xenbr0 type bridge; ip link set xenbr0 up
for ns in srv va vb; do ip netns add $ns; ip -n $ns link set lo up; done
ip link add vsrv type veth peer name s0 netns srv
ip link set vsrv master xenbr0; ip link set vsrv up
ip -n srv addr add 10.0.0.9/24 dev s0; ip -n srv link set s0 up
ip -n va link add a0 type veth peer name b0 netns vb
ip -n va addr add 10.9.0.1/24 dev a0; ip -n va link set a0 up
ip -n vb addr add 10.9.0.2/24 dev b0; ip -n vb link set b0 up
ip netns exec srv httpd -p 10.0.0.9:8080 -h /srv
ip netns exec va httpd -p 10.9.0.1:8080 -h /srv
ip netns exec vb ping -c 2 -W 10 10.9.0.1 > /dev/null
for i in 1 2 3; do
  t0=$(now)
  ip netns exec vb wget -q -O /dev/null http://10.9.0.1:8080/big && echo "VETH-TPUT $(awk "BEGIN{print $(now) - $t0}")"
done
echo "VETH-RTT $(ip netns exec vb ping -c 20 -i 0.2 10.9.0.1 | tail -n 1)"
# Where the CPU goes during the three fetches (multiqueue pays only if a
# queue's thread, not the guest's vCPU or the outer VM's CPUs, is what
# runs out): each of hv's threads' CPU time by name (d<id>.vcpu<n>, d<id>.io,
# the rest hvctl), and how busy the outer VM's CPUs were.
snap() { # PID: "NAME TICKS" per thread, then "outer BUSY TOTAL" and "wall UPTIME"
  for t in /proc/$1/task/*; do echo "$(cat $t/comm) $(awk '{print $14 + $15}' $t/stat)"; done
  awk '/^cpu /{b = 0; for (i = 2; i <= NF; i++) b += $i; print "outer", b - $5 - $6, b}' /proc/stat
  echo "wall $(now)"
}
timeout 300 hvctl --connect embedded:// create -c /guest.cfg > /tmp/guest.con 2>&1 &
hv=$!
i=0; while [ $i -lt 3000 ] && ! grep -q "^NET-UP" /tmp/guest.con; do sleep 0.1; i=$((i+1)); done
snap $hv > /tmp/cpu0; hist on
i=0; while [ $i -lt 3000 ] && [ "$(grep -c '^TPUT' /tmp/guest.con)" -lt 3 ]; do sleep 0.1; i=$((i+1)); done
snap $hv > /tmp/cpu1; exits hv; hist off
wait $hv
grep -E "^(TPUT|RTT|NET-UP)" /tmp/guest.con
awk 'NR == FNR { a[$1] += $2; if ($1 == "outer") at = $3; if ($1 == "wall") w0 = $2; next }
     { b[$1] += $2; if ($1 == "outer") bt = $3; if ($1 == "wall") w1 = $2 }
     END { n = nproc + 0; printf "CPU-SHARE"
           for (k in b) if (k != "outer" && k != "wall") printf " %s=%.0f%%", k, (b[k] - a[k]) / (w1 - w0)
           printf " outer-busy=%.0f%% of %d CPUs\n", 100 * (b["outer"] - a["outer"]) / (bt - at), n }' nproc="$(grep -c ^processor /proc/cpuinfo)" /tmp/cpu0 /tmp/cpu1
# The same guest under QEMU (KVM, qboot, one vCPU, 256 MiB as hv's), its
# TAP made here and put on xenbr0; vhost=off (QEMU's own virtio-net in
# user space, as hv) and vhost=on (the kernel's vhost-net).
ip tuntap add qtap0 mode tap vnet_hdr; ip link set qtap0 master xenbr0; ip link set qtap0 up
n=3
for vhost in off on; do
  timeout 300 qemu-system-x86_64 -accel kvm -M pc -cpu host -m 256 -smp 1 -L /qemu -bios /qemu/qboot.rom -nodefaults \
    -no-user-config -display none -no-reboot -serial file:/tmp/q-$vhost.con -kernel /vmlinuz -initrd /guest.cpio \
    -append "console=ttyS0 quiet hvtest=netbench hvnet_ip=10.0.0.$n/24 hvnet_srv=10.0.0.9" \
    -netdev tap,id=n0,ifname=qtap0,script=no,downscript=no,vhost=$vhost \
    -device virtio-net-pci,netdev=n0,romfile=,mac=00:16:3e:00:00:2$n > /tmp/q-$vhost.log 2>&1 &
  q=$!; touch /tmp/q-$vhost.con
  i=0; while [ $i -lt 3000 ] && ! grep -q "^NET-UP" /tmp/q-$vhost.con; do sleep 0.1; i=$((i+1)); done
  hist on
  i=0; while [ $i -lt 3000 ] && [ "$(grep -c '^TPUT' /tmp/q-$vhost.con)" -lt 3 ]; do sleep 0.1; i=$((i+1)); done
  exits qemu-vhost-$vhost; hist off
  wait $q || tail -n 3 /tmp/q-$vhost.log
  grep -E "^(TPUT|RTT)" /tmp/q-$vhost.con | sed "s/^/QEMU-$vhost-/"
  n=$((n+1))
done
ip link del qtap0
ip netns exec srv frame_peer s0 hello 00:16:3e:00:00:11 120 > /dev/null 2>&1 &
hello=$!
sleep 0.5
hvctl --connect embedded:// create -c /rate.cfg > /tmp/rate.con 2>&1 &
wait $hello
echo "RATE $(ip netns exec srv frame_peer s0 blast 00:16:3e:00:00:11 5000 120)"
ip netns exec srv frame_peer s0 off 00:16:3e:00:00:11 > /dev/null
wait
RUN
out=$work/out.txt
for attempt in 1 2; do
  set +e
  HV_NESTED_MODULES="bridge veth tun vhost_net" HV_NESTED_TIMEOUT=900 "$nested/run-outer" "$dir" > "$out" 2>&1
  set -e
  grep -q '^NESTED-RC 0' "$out" && break
  echo "bench_net: outer run $attempt ended without a result; last lines:"; tail -n 5 "$out"
done
grep -E '^(VETH-|TPUT|RTT|QEMU-|RATE|NET-UP|CPU-SHARE|EXITS)' "$out" || true
python3 - "$out" <<'PY'
import re, statistics, sys
text = open(sys.argv[1]).read()
ours = [float(x) for x in re.findall(r"^TPUT ([0-9.]+)", text, re.M)]
mib = 32
def avg(tag):
    m = re.search(r"^" + tag + r" round-trip min/avg/max = ([0-9.]+)/([0-9.]+)/([0-9.]+) ms", text, re.M)
    return float(m.group(2)) if m else None
def against(name, tag, what):
    """The throughput and round-trip RESULT lines against the baseline whose lines start with tag."""
    base = [float(x) for x in re.findall(r"^" + tag + r"TPUT ([0-9.]+)", text, re.M)]
    if ours and base:
        o, b = statistics.median(ours), statistics.median(base)
        print(f"RESULT {name[0]} ratio={o / b:.2f} ours={mib / o:.1f}MiB/s baseline={mib / b:.1f}MiB/s "
              f"({what}seconds per 32 MiB fetch, medians of {len(ours)}/{len(base)}; throughput ratio {b / o:.2f})")
    else:
        print(f"RESULT {name[0]} missing: hv {len(ours)}, baseline {len(base)} fetches")
    o, b = avg("RTT"), avg(tag + "RTT")
    if o and b:
        print(f"RESULT {name[1]} ratio={o / b:.2f} ours={o:.3f}ms baseline={b:.3f}ms ({what}average of 20 pings)")
    else:
        print(f"RESULT {name[1]} missing")
against(("net_tcp_throughput", "net_rtt"), "VETH-", "")
against(("net_tcp_vs_qemu", "net_rtt_vs_qemu"), "QEMU-off-", "QEMU virtio-net vhost=off, ")
against(("net_tcp_vs_qemu_vhost", "net_rtt_vs_qemu_vhost"), "QEMU-on-", "QEMU virtio-net vhost=on, ")
m = re.search(r"^RATE frames=(\d+) bytes=(\d+) seconds=([0-9.]+)", text, re.M)
if m:
    bits = int(m.group(2)) * 8 / float(m.group(3))
    print(f"RESULT vif_rate_10mbit ratio={bits / 10e6:.3f} ours={bits / 1e6:.2f}Mb/s baseline=10.00Mb/s "
          f"({m.group(1)} frames of 1514 bytes; the first 50 ms burst included)")
else:
    print("RESULT vif_rate_10mbit missing")
PY
