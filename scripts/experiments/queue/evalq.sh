#!/usr/bin/env bash
# Issue #15 evaluation queue (lead): per model, in priority order, tune the adaptive attack's
# weight on held-out training images, then the strengthened ensemble on the same 2,000 test
# images (issue15.sh's tune and eval phases, one model at a time), then PGD-20 on the full set.
# Each finished JSON/MD is copied to REPO/experiments/evals/MODEL and committed. Resumable.
set -uo pipefail
BIN=$1 REPO=$2 OUT=/work/exp/evals
MODELS=/work/main/experiments/models
mkdir -p $OUT
source "$(dirname "$0")/evalfns.sh"
while true; do
  did=0
  # the cheap full-set PGD-20 of every trained model first
  for m in $MODELS/*-s[0-9]; do
    [ -e $m/model.json ] || continue
    [ -e $OUT/$(basename $m)/eval-full-pgd20.json ] && continue
    fullpgd $m && did=1; break
  done
  [ $did = 1 ] && continue
  for e in 0.075; do
    # MNIST's adv and arp seed by seed first (the paired ARP - adv), then the undefended
    # models, then Fashion-MNIST likewise, then the one-seed variants
    # MNIST's adv and arp seed by seed first (the paired ARP - adv), then Fashion-MNIST's
    # likewise (fifth session: before the undefended models, which answer no paired
    # question of the issue), then the undefended models, then the one-seed variants
    order="mnist-adv-s1 mnist-arp-s1 mnist-adv-s2 mnist-arp-s2 mnist-adv-s3 mnist-arp-s3"
    order="$order fashion-mnist-adv-s1 fashion-mnist-arp-s1 fashion-mnist-adv-s2 fashion-mnist-arp-s2 fashion-mnist-adv-s3 fashion-mnist-arp-s3"
    order="$order mnist-two-step-s1 fashion-mnist-two-step-s1 mnist-arp-iou-s1 fashion-mnist-arp-iou-s1"
    order="$order mnist-none-s1 mnist-none-s2 mnist-none-s3 fashion-mnist-none-s1 fashion-mnist-none-s2 fashion-mnist-none-s3"
    for n in $order; do
      m=$MODELS/$n
      [ -e $m/model.json ] || continue
      [ -e $OUT/$n/eval2000-eps$e.json ] && continue
      step $m $e && did=1; break 2
    done
  done
  [ $did = 1 ] && continue
  # nothing left at the training budget: wait for trainings to finish
  sleep 300
done
