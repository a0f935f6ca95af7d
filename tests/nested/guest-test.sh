# /test.sh of the nested tier's Linux guest: what it does is chosen on the
# kernel command line (hvtest=...), so one initramfs serves every case.
case " $(cat /proc/cmdline) " in
*" hvtest=button "*)
  # The ACPI power button reaches the guest as a key on the button
  # driver's input device; a stock system's logind or acpid would power
  # off, this one does it by hand once the key arrives.
  echo "WAIT-BUTTON"
  head -c 1 /dev/input/event0 > /dev/null && echo "BUTTON-PRESSED"
  ;;
*" hvtest=reboot "*) echo "WILL-REBOOT" ;;
esac
