#!/bin/sh
# run_diff.sh XLU_DUMP HV_CFG_DUMP CORPUS_DIR
# Dumps every CORPUS_DIR/*.cfg with Xen's libxlutil and with hv's parser and
# fails on the first difference (shown as a unified diff), or when the
# corpus is empty.
set -u
xlu=$1 hv=$2 corpus=$3
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
files=0 failed=0
for cfg in "$corpus"/*.cfg; do
    [ -e "$cfg" ] || continue
    files=$((files + 1))
    name=$(basename "$cfg")
    if ! "$xlu" "$cfg" > "$tmp/xlu"; then
        echo "FAIL $name: xlu_dump failed"; failed=$((failed + 1)); continue
    fi
    if ! "$hv" "$cfg" > "$tmp/hv" 2> "$tmp/hv.err"; then
        echo "FAIL $name: hv_cfg_dump failed"; failed=$((failed + 1)); continue
    fi
    if diff -u --label "libxlutil $name" --label "hv $name" "$tmp/xlu" "$tmp/hv"; then
        echo "ok   $name ($(wc -l < "$tmp/xlu") lines)"
    else
        sed 's/^/     hv: /' "$tmp/hv.err"
        failed=$((failed + 1))
    fi
done
if [ "$files" -eq 0 ]; then
    echo "no .cfg files in $corpus"
    exit 1
fi
echo "$files configs, $failed differ"
[ "$failed" -eq 0 ]
