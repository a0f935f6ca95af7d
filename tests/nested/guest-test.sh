# /test.sh of the nested tier's Linux guest: what it does is chosen on the
# kernel command line (hvtest=...), so one initramfs serves every case.
case " $(cat /proc/cmdline) " in
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
