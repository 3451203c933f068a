#!/usr/bin/env bash
# Issue #15 evaluation queue (lead): per model, in priority order, tune the adaptive attack's
# weight on held-out training images, then the strengthened ensemble on the same 2,000 test
# images (issue15.sh's tune and eval phases, one model at a time), then PGD-20 on the full set.
# Each finished JSON/MD is copied to REPO/experiments/evals/MODEL and committed. Resumable.
set -uo pipefail
BIN=$1 REPO=$2 OUT=/work/exp/evals
MODELS=/work/main/experiments/models
mkdir -p $OUT
commit() { # name files...
  local n=$1; shift
  flock /work/.merge.lock bash -c "mkdir -p '$REPO/experiments/evals/$n' && cp $* '$REPO/experiments/evals/$n/' && cd '$REPO' && git add experiments/evals/$n && git commit -q -m 'experiments: $n $(basename $1 .json) (issue #15)' && echo committed $n $(basename $1)"
}
step() { # model eps
  local m=$1 e=$2 n=$(basename $1) ds
  case $n in fashion-mnist-*) ds=fashion-mnist ;; *) ds=mnist ;; esac
  local o=$OUT/$n; mkdir -p $o
  if [ ! -e $o/tune-eps$e.json ]; then
    echo "== $(date -u +%FT%TZ) tune $n eps $e"
    nice -n 19 $BIN tune --model $m --data $ds:train:heldout=5000:seed=1 --limit 500 --eps $e --quiet \
      --state $o/tune-eps$e.state --json $o/tune-eps$e.json --markdown $o/tune-eps$e.md || return 1
    commit $n $o/tune-eps$e.json $o/tune-eps$e.md
  fi
  if [ ! -e $o/eval2000-eps$e.json ]; then
    spec=$(sed -n 's/.*"selected_spec": "\([^"]*\)".*/\1/p' $o/tune-eps$e.json)
    [ -n "$spec" ] || { echo "no selected_spec in $o/tune-eps$e.json"; return 1; }
    echo "== $(date -u +%FT%TZ) eval $n eps $e ($spec)"
    nice -n 19 $BIN eval --model $m --data $ds --subset 2000 --subset-seed 1 --eps $e \
      --attacks step-ll,pgd:steps=40:restarts=5,$spec,square:queries=5000 --quiet \
      --state $o/eval2000-eps$e.state --json $o/eval2000-eps$e.json --markdown $o/eval2000-eps$e.md || return 1
    commit $n $o/eval2000-eps$e.json $o/eval2000-eps$e.md
  fi
}
fullpgd() { # model: PGD-20 on the whole test set at both budgets (cheap; issue15.sh's full-pgd phase)
  local m=$1 n=$(basename $1) ds eps
  case $n in fashion-mnist-*) ds=fashion-mnist eps=0.075,0.1 ;; *) ds=mnist eps=0.075,0.3 ;; esac
  local o=$OUT/$n; mkdir -p $o
  echo "== $(date -u +%FT%TZ) full-pgd20 $n"
  nice -n 19 $BIN eval --model $m --data $ds --eps $eps --attacks pgd:steps=20 --check-images 0 --quiet \
    --state $o/eval-full-pgd20.state --json $o/eval-full-pgd20.json --markdown $o/eval-full-pgd20.md || return 1
  commit $n $o/eval-full-pgd20.json $o/eval-full-pgd20.md
}
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
