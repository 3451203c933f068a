#!/usr/bin/env bash
# Trains the models of the ARP-vs-adversarial-training comparison (issue #15), resumably.
# Usage: train_seeds.sh BIN RUNS REPO
#   BIN   the arp binary (frozen for the experiment; its commit is recorded per run)
#   RUNS  directory of run directories (checkpoints live here)
#   REPO  repository checkout; each finished run's model, model.json and metrics are
#         copied to REPO/experiments/models/NAME and committed (under /work/.merge.lock).
# Re-running skips finished runs and resumes interrupted ones (arp train --resume).
set -uo pipefail
BIN=$1 RUNS=$2 REPO=$3
mkdir -p "$RUNS"
common="--model mnist-small --steps 6000 --lr 1e-3 --lr-schedule cosine --eval-every 1000 --checkpoint-every 250 --quiet"
jobs=()
# order: MNIST's third seed first (three seeds on one dataset), then Fashion-MNIST's
for dsseed in mnist:1 fashion-mnist:1 mnist:2 mnist:3 fashion-mnist:2 fashion-mnist:3; do
  ds=${dsseed%:*} seed=${dsseed#*:}
  for d in none adv arp; do
    jobs+=("$ds-$d-s$seed|--data $ds --defense $d --seed $seed $( [ $ds = fashion-mnist ] && echo --flip )")
  done
done
for ds in mnist fashion-mnist; do
  jobs+=("$ds-two-step-s1|--data $ds --defense two-step --seed 1 $( [ $ds = fashion-mnist ] && echo --flip )")
done
for job in "${jobs[@]}"; do
  name=${job%%|*} args=${job#*|}
  out=$RUNS/$name
  [ -e "$out/DONE" ] && continue
  start=$(date +%s)
  if [ -e "$out/checkpoint.safetensors" ]; then
    echo "== $(date -u +%FT%TZ) resume $name"
    "$BIN" train --resume --out "$out" --quiet
  else
    echo "== $(date -u +%FT%TZ) start $name: $args"
    rm -rf "$out"
    "$BIN" train $common $args --out "$out"
  fi
  rc=$?
  if [ $rc -ne 0 ]; then echo "== $name failed (exit $rc)"; continue; fi
  echo "$(date -u +%FT%TZ) wall_s=$(( $(date +%s) - start )) bin=$(basename "$BIN")" > "$out/DONE"
  dest=$REPO/experiments/models/$name
  flock /work/.merge.lock bash -c "mkdir -p '$dest' && cp '$out/model.safetensors' '$out/model.json' '$out/metrics.jsonl' '$out/DONE' '$dest/' && cd '$REPO' && git add experiments/models/$name && git commit -q -m 'experiments: trained $name (issue #15 seeds comparison)' && echo committed $name"
done
echo "== all training jobs done"
