#!/usr/bin/env bash
# Every 10 minutes: copy finished runs of /work/exp/runs15 (DONE present) into
# experiments/models (grid runs into experiments/models/grid), and commit new
# experiment outputs (experiments/, *.state files ignored) on main under the merge lock.
set -u
R=/work/exp/runs15
while true; do
  cd /work/main
  for r in $R/*-s[0-9]* $R/grid/*-s[0-9]*; do
    [ -e "$r/DONE" ] || continue
    n=$(basename "$r"); d=experiments/models/$n
    case $r in $R/grid/*) d=experiments/models/grid/$n ;; esac
    [ -e "$d/model.safetensors" ] && continue
    mkdir -p "$d" && cp "$r/model.safetensors" "$r/model.json" "$r/metrics.jsonl" "$d/"
  done
  for r in $R/grid/*-s[0-9]*; do
    n=$(basename "$r")
    for f in eval-heldout.json eval-heldout.md; do
      [ -e "$r/$f" ] && [ ! -e "experiments/evals/grid/$n/$f" ] && mkdir -p experiments/evals/grid/$n && cp "$r/$f" experiments/evals/grid/$n/
    done
  done
  for f in $R/grid/grid-heldout.md $R/grid/grid-heldout.json; do
    [ -e "$f" ] && { mkdir -p experiments/evals/grid; cmp -s "$f" experiments/evals/grid/$(basename $f) || cp "$f" experiments/evals/grid/; }
  done
  flock /work/.merge.lock bash -c 'cd /work/main && git add -A experiments && { git diff --cached --quiet || { git commit -q -m "experiments: finished runs and evaluations of issue #15 ($(git diff --cached --name-only | sed -n "s#experiments/\(models\|evals\)/\([^/]*\(/[^/]*\)\?\)/.*#\2#p" | sort -u | tr "\n" " "))" && echo "$(date -u +%T) committed"; }; }'
  sleep 600
done
