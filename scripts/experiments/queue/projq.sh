#!/usr/bin/env bash
# Evaluations of the same-budget (--project) variants as they finish training (phase2e.sh):
# the tuned ensemble on the 2,000 test images and PGD-20 on the full set (evalfns.sh), with
# the frozen binary of the other evaluations. Resumable.
set -uo pipefail
BIN=/work/exp/bin/arp-9507664 REPO=/work/main OUT=/work/exp/evals MODELS=/work/main/experiments/models
source /work/main/scripts/experiments/queue/evalfns.sh
while true; do
  left=0
  for n in mnist-two-step-proj-s1 mnist-arp-iou-proj-s1 fashion-mnist-two-step-proj-s1 fashion-mnist-arp-iou-proj-s1; do
    m=$MODELS/$n
    if [ ! -e $m/model.json ]; then left=1; continue; fi
    step $m 0.075 || { left=1; continue; }
    [ -e $OUT/$n/eval-full-pgd20.json ] || fullpgd $m || left=1
  done
  [ $left = 0 ] && break
  sleep 300
done
echo "== projq done"
