# /test.sh of the nested tier's Linux guest: what it does is chosen on the
# kernel command line (hvtest=...), so one initramfs serves every case.
# hvnet_* words of the command line: the networking cases' settings.
arg() { for w in $(cat /proc/cmdline); do case $w in "$1"=*) echo "${w#*=}" ;; esac; done; }
# Brings eth0 (virtio-net) up with hvnet_ip=ADDR/LEN, and with hvnet_gw=GW a
# host route to the gateway and a default route through it (vif-route).
net_up() {
  ip link set lo up; ip link set eth0 up; ip addr add "$(arg hvnet_ip)" dev eth0
  gw=$(arg hvnet_gw)
  [ -n "$gw" ] && ip route add "$gw" dev eth0 && ip route add default via "$gw"
  echo "NET-UP $(cat /sys/class/net/eth0/address) $(arg hvnet_ip)"
}
case " $(cat /proc/cmdline) " in
*" hvtest=net "*)
  # Pings each of hvnet_ping (comma-separated), fetches hvnet_get=URL over
  # TCP (busybox wget from the host's httpd), then tells hvnet_bye=HOST:PORT
  # it is done (busybox nc, a few bytes).
  net_up
  for p in $(arg hvnet_ping | tr , ' '); do ping -c 3 -W 10 "$p" > /dev/null && echo "PING-OK $p"; done
  u=$(arg hvnet_get)
  [ -n "$u" ] && wget -q -O /tmp/got "$u" && echo "GOT-SHA $(sha256sum /tmp/got | cut -d' ' -f1) $(wc -c < /tmp/got)"
  b=$(arg hvnet_bye)
  [ -n "$b" ] && echo bye | nc "${b%:*}" "${b#*:}"
  ;;
*" hvtest=netbench "*)
  # bench/net.sh: three timed fetches of hvnet_srv's /big (TCP, the host's
  # httpd), then 20 pings; the guest's own clock times them.
  net_up
  srv=$(arg hvnet_srv)
  ping -c 2 -W 10 "$srv" > /dev/null
  for i in 1 2 3; do
    t0=$(cut -d' ' -f1 /proc/uptime)
    wget -q -O /dev/null "http://$srv:8080/big" && echo "TPUT $(awk "BEGIN{print $(cut -d' ' -f1 /proc/uptime) - $t0}")"
  done
  echo "RTT $(ping -c 20 -i 0.2 "$srv" | tail -n 1)"
  ;;
*" hvtest=hotplug "*)
  # tests/nested/hotplug-tests: devices come and go while this runs. A disk
  # hot-attached as vda is read (its first line) and written (a line at
  # 1 MiB, synced); a NIC hot-attached as eth0 pings the host and fetches
  # a file; then both are detached by the host and vanish here. 5 minutes
  # at most.
  appear() { i=0; while [ ! -e "$1" ] && [ $i -lt 1200 ]; do sleep 0.25; i=$((i+1)); done; [ -e "$1" ]; }
  vanish() { i=0; while [ -e "$1" ] && [ $i -lt 1200 ]; do sleep 0.25; i=$((i+1)); done; [ ! -e "$1" ]; }
  echo "HP-READY slots=$(ls /sys/bus/pci/slots 2>/dev/null | wc -l)"
  if appear /sys/block/vda; then
    echo "HP-DISK $(head -n 1 /dev/vda)"
    echo "WRITTEN-BY-GUEST" | dd of=/dev/vda bs=1M seek=1 conv=fsync 2>/dev/null && echo "HP-DISK-WRITTEN"
  fi
  if appear /sys/class/net/eth0; then
    net_up
    ping -c 3 -W 10 "$(arg hvnet_srv)" > /dev/null && echo "HP-NET-PING-OK"
    wget -q -O /tmp/got "http://$(arg hvnet_srv):8080/blob" && echo "HP-NET-GOT $(sha256sum /tmp/got | cut -d' ' -f1)"
  fi
  echo "HP-USED"
  vanish /sys/block/vda && echo "HP-DISK-GONE"
  vanish /sys/class/net/eth0 && echo "HP-NET-GONE"
  ;;
*" hvtest=ioload "*)
  # bench/io_weight_guests.sh: four readers of /dev/vda (O_DIRECT, 64 KiB
  # at a time), each through its own quarter, until the host ends the
  # domain; IOLOAD-END if the disk ran out first.
  i=0; while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
  n=$(($(cat /sys/block/vda/size) / 128 / 4))
  for q in 0 1 2 3; do dd if=/dev/vda of=/dev/null bs=64k iflag=direct skip=$((q * n)) count=$n 2>/dev/null & done
  echo "IOLOAD-START"
  wait
  echo "IOLOAD-END"
  ;;
*" hvtest=net-wait "*)
  # Up, then waits (a minute at most) for another guest's bye on port 7000.
  net_up
  timeout 60 nc -l -p 7000 && echo "GOT-BYE"
  ;;
*" hvtest=button "*)
  # A line typed at the host's console reaches init's stdin (ttyS0, read
  # through the 16550's receive interrupt).
  echo "WAIT-INPUT"
  read -r line && echo "GOT-INPUT $line"
  # The ACPI power button reaches the guest as a key on the button
  # driver's input device; a stock system's logind or acpid would power
  # off, this one does it by hand once the key arrives.
  echo "WAIT-BUTTON"
  head -c 1 /dev/input/event0 > /dev/null && echo "BUTTON-PRESSED"
  ;;
*" hvtest=reboot "*) echo "WILL-REBOOT" ;;
*" hvtest=shutdown "*)
  # The control plane's shutdown reaches the guest as the power button.
  echo "WAIT-BUTTON"
  head -c 1 /dev/input/event0 > /dev/null && echo "BUTTON-PRESSED"
  ;;
*" hvtest=panic "*)
  # pvpanic-mmio found hv's pvpanic device in the DSDT (QEMU0001): a panic
  # is reported to the host as a crash.
  ls /sys/bus/platform/drivers/pvpanic-mmio | grep -q QEMU0001 && echo "PVPANIC-BOUND"
  echo c > /proc/sysrq-trigger
  ;;
esac
