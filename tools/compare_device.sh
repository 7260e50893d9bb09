#!/usr/bin/env bash
# Measures the virtual module of this tree against an older one, in one run,
# alternating (these machines are shared and noisy: compare within a run).
#
#   tools/compare_device.sh [BASE_REV] [ROUNDS] [MEASURES...]
#
# BASE_REV defaults to 32688f4 (before the fidelity work of issue 16);
# ROUNDS (default 2) is how many times each tree runs each measure, in turn;
# MEASURES default to "roundtrip autorcv tt" (see tools/measure_device.ts).
# The base tree is checked out into a temporary git worktree and measured
# with this tree's tools/measure_device.ts (the same measuring code on both;
# the TT measure asks for --flow-control rts where the tree has it). Each
# measure itself runs MEASURE_ROUNDS rounds (default here: 2) and keeps the
# best. Prints one Markdown row per tree, measure and round.
set -euo pipefail
base=${1:-32688f4}
rounds=${2:-2}
shift $(( $# > 2 ? 2 : $# ))
measures=${*:-roundtrip autorcv tt}
root=$(git rev-parse --show-toplevel)
deno="$root/node_modules/.bin/deno"
tmp=$(mktemp -d)
cleanup() {
  git -C "$root" worktree remove --force "$tmp/base" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
git -C "$root" worktree add --detach "$tmp/base" "$base" >/dev/null 2>&1
cp "$root/tools/measure_device.ts" "$tmp/base/tools/measure_device.ts"
cp "$root/tools/args.ts" "$tmp/base/tools/args.ts" # its flags
ln -s "$root/node_modules" "$tmp/base/node_modules"
export MEASURE_ROUNDS=${MEASURE_ROUNDS:-2} RUST_BACKTRACE=0 NO_COLOR=1
head=$(git -C "$root" rev-parse --short HEAD)
echo "| tree | measure | atsock | baseline (same run) | ratio |"
echo "| --- | --- | --- | --- | --- |"
for measure in $measures; do
  for round in $(seq 1 "$rounds"); do
    for tree in base head; do
      dir=$root label="$head (this tree)"
      if [ "$tree" = base ]; then dir=$tmp/base label="$base (base)"; fi
      row=$(cd "$dir" && "$deno" run -A tools/measure_device.ts "$measure" | tail -1)
      echo "| $label ${row#| }"
    done
  done
done
