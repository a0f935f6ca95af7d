#!/usr/bin/env bash
# bench_io_weight: two domains' disk I/O sharing one file-backed device,
# with io_weight 200:100 (issue 9: within 10% of 2:1), against the same
# two with no weights, in the same run, taking turns. Each contender is
# io_weight_load: the disk backend's O_DIRECT transfers through hv's
# io_uring queue, on its own half of a loop device (direct-io=on) over a
# file in $HV_BENCH_DIR (default /var/tmp: the host disk).
#   io_weight_read_share   4 KiB random reads, 32 in flight each
#   io_weight_write_share  64 KiB random writes, 8 in flight each
#     RESULT <name> ratio=<achieved/2.00> ours=<achieved ratio> baseline=<ratio without weights>
#   io_weight_read_total   RESULT ... ratio=<total MiB/s weighted/unweighted>
#   io_weight_ioprio_read_share  for comparison, no goal: the same reads
#                          with bfq on the loop device and ioprio BE 0:4
#                          (bfq's weights 80:40); the cgroup ways are in
#                          docs/performance.md
# Options: --secs=N (each run, default 5), --rounds=N (default 3).
# Needs root (losetup) and O_DIRECT; exit 77 where they are missing.
set -euo pipefail
load=@LOAD@
secs=5 rounds=3
for a in "$@"; do
  case $a in
    --secs=*) secs=${a#*=} ;;
    --rounds=*) rounds=${a#*=} ;;
    *) echo "bench_io_weight: unknown option $a" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "bench_io_weight: skipped (needs root for a loop device)"; exit 77; }
command -v losetup > /dev/null || { echo "bench_io_weight: skipped (no losetup)"; exit 77; }

dir=${HV_BENCH_DIR:-/var/tmp}
img=$(mktemp "$dir/hv-ioweight.XXXXXX")
table=$(mktemp /dev/shm/hv-ioweight.XXXXXX)
loop=""
pids=""
cleanup() {
  for p in $pids; do kill "$p" 2> /dev/null || true; done
  wait 2> /dev/null || true
  [ -z "$loop" ] || losetup -d "$loop" 2> /dev/null || true
  rm -f "$img" "$table"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Written, not fallocated: reads of unwritten extents never reach the disk.
mib=1024
dd if=/dev/urandom of="$img" bs=1M count=$mib oflag=direct status=none
if ! loop=$(losetup -f --show --direct-io=on "$img" 2> /dev/null); then
  loop=""
  echo "bench_io_weight: skipped (losetup could not attach a loop device)"; exit 77
fi
sched=/sys/block/${loop#/dev/}/queue/scheduler
truncate -s 4096 "$table"

# One run: both contenders from the same instant for $secs seconds; prints
# "<bytes of A> <bytes of B>".
run() { # mode, then options for A, then "--", then options for B
  local mode=$1; shift
  local a=() b=() side=a
  for x in "$@"; do
    if [ "$x" = -- ]; then side=b; elif [ $side = a ]; then a+=("$x"); else b+=("$x"); fi
  done
  : > "$table"; truncate -s 4096 "$table"
  local depth=32; [ "$mode" = read ] || depth=8
  local t0 t1 oa ob
  t0=$(awk '{printf "%.3f", $1 + 0.3}' /proc/uptime)
  t1=$(awk -v t="$t0" -v s="$secs" 'BEGIN{printf "%.3f", t + s}')
  oa=$(mktemp /dev/shm/hv-ioweight-a.XXXXXX); ob=$(mktemp /dev/shm/hv-ioweight-b.XXXXXX)
  "$load" "$loop" "$mode" 0 $((mib / 2)) $depth "$t0" "$t1" "${a[@]}" > "$oa" & pids="$!"
  "$load" "$loop" "$mode" $((mib / 2)) $((mib / 2)) $depth "$t0" "$t1" "${b[@]}" > "$ob" & pids="$pids $!"
  local rc=0
  wait $pids || rc=1
  pids=""
  local ra rb
  ra=$(sed -n 's/^bytes=\([0-9]*\).*/\1/p' "$oa"); rb=$(sed -n 's/^bytes=\([0-9]*\).*/\1/p' "$ob")
  rm -f "$oa" "$ob"
  [ $rc = 0 ] && [ -n "$ra" ] && [ -n "$rb" ] || { echo "bench_io_weight: a contender failed" >&2; exit 1; }
  echo "$ra $rb"
}

w="--table=$table"
results=$(mktemp /dev/shm/hv-ioweight-r.XXXXXX); trap 'cleanup; rm -f "$results"' EXIT
for r in $(seq "$rounds"); do
  for mode in read write; do
    echo "base-$mode $(run $mode -- )" >> "$results"
    echo "hv-$mode $(run $mode $w --slot=0 --weight=200 -- $w --slot=1 --weight=100)" >> "$results"
  done
done
if grep -q bfq "$sched"; then
  old=$(sed 's/.*\[\(.*\)\].*/\1/' "$sched")
  echo bfq > "$sched"
  echo "base-bfq $(run read -- )" >> "$results"
  echo "ioprio-read $(run read --ioprio=0 -- --ioprio=4)" >> "$results"
  echo "$old" > "$sched"
fi

python3 - "$results" "$secs" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    k, a, b = line.split()
    runs.setdefault(k, []).append((int(a), int(b)))
secs = float(sys.argv[2])
for k, v in runs.items():
    print(f"{k}: " + ", ".join(f"{a / 2**20 / secs:.1f}+{b / 2**20 / secs:.1f} MiB/s ({a / b:.2f})" for a, b in v))
def med(k, f):
    return statistics.median(f(a, b) for a, b in runs[k])
for mode in ("read", "write"):
    ours, base = med(f"hv-{mode}", lambda a, b: a / b), med(f"base-{mode}", lambda a, b: a / b)
    print(f"RESULT io_weight_{mode}_share ratio={ours / 2:.3f} ours={ours:.3f} baseline={base:.3f} "
          f"(bytes A/B with io_weight 200:100 vs none, medians of {len(runs[f'hv-{mode}'])}; goal 2.00 within 10%)")
ours, base = (med(f"{k}-read", lambda a, b: (a + b) / 2**20 / secs) for k in ("hv", "base"))
print(f"RESULT io_weight_read_total ratio={ours / base:.2f} ours={ours:.1f}MiB/s baseline={base:.1f}MiB/s "
      "(both contenders together, weighted vs unweighted)")
if "ioprio-read" in runs:
    ours, base = med("ioprio-read", lambda a, b: a / b), med("base-bfq", lambda a, b: a / b)
    print(f"RESULT io_weight_ioprio_read_share ratio={ours / 2:.3f} ours={ours:.3f} baseline={base:.3f} "
          "(bfq, ioprio BE 0:4 vs none; for comparison, no goal)")
PY
