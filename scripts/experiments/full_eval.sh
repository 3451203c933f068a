#!/bin/bash
# The README's robustness table: every model on its whole test set (10,000
# images), cascade (each attack only attacks what all earlier ones left), the
# paper's single-step attacks, Iter-LL, PGD-20 with 5 restarts, the adaptive
# attention-loss attack and Square with 1,000 queries.
#
# usage: scripts/experiments/full_eval.sh RUNS_DIR MODEL...
#   MODEL is a run directory name under RUNS_DIR: mnist-* models are
#   evaluated on MNIST at eps 0.075 and 0.3, fashion-* on Fashion-MNIST at
#   0.075 and 0.1 (docs/evaluation.md says why). Needs bin/arp and the data
#   (`arp data fetch mnist fashion-mnist`); reports go next to each run
#   (eval-full.{txt,json,md,png}); --state makes each resumable.
# Then: python3 scripts/experiments/eval_table.py RUNS_DIR/*/eval-full.json
set -euo pipefail
runs=$1
shift
arp=${ARP:-bin/arp}
for m in "$@"; do
  case $m in
  mnist-*) data=mnist eps=0.075,0.3 ;;
  fashion-*) data=fashion-mnist eps=0.075,0.1 ;;
  *) echo "full_eval.sh: $m: want a name starting with mnist- or fashion-" >&2; exit 2 ;;
  esac
  r=$runs/$m
  "$arp" eval --model "$r" --data $data --eps $eps \
    --attacks step-ll,r-step-ll,iter-ll,pgd:steps=20:restarts=5,attention-loss,square:queries=1000 \
    --state "$r/eval-full.state" --json "$r/eval-full.json" --markdown "$r/eval-full.md" \
    --plot "$r/eval-full.png" | tee "$r/eval-full.txt"
done
