#!/usr/bin/env bash
# Issue #15: the attention-under-attack analysis (arp analyze, the five attacks of the README's
# verdict table, eps 0.075, whole test sets) on the seed-2 and seed-3 models, so the verdicts can be
# compared over seeds; then the seed-1 models again with the same binary (their committed summaries
# were written by main@6df28c3: the re-run says whether this binary reproduces them). Each
# finished summary.md/analysis.json is committed to REPO/experiments/analyses/NAME (seed 1: to
# experiments/analyses/NAME/rerun-BIN). Resumable (arp analyze resumes into its --out).
set -uo pipefail
BIN=$1 REPO=$2 OUT=/work/exp/analyses
MODELS=/work/main/experiments/models
A=fgsm,step-ll,r-step-ll,iter-ll,gated-step-ll
mkdir -p $OUT
for s in 2 3 1; do
  for ds in mnist fashion-mnist; do
    for d in none adv arp; do
      n=$ds-$d-s$s o=$OUT/$n
      [ -e $o/DONE ] && continue
      echo "== $(date -u +%FT%TZ) analyze $n"
      nice -n 19 $BIN analyze --model $MODELS/$n --data $ds --attacks $A --eps 0.075 --out $o --quiet || { echo "== $n failed"; continue; }
      dest=experiments/analyses/$n
      [ $s = 1 ] && dest=$dest/rerun-$(basename $BIN)
      flock /work/.merge.lock bash -c "mkdir -p '$REPO/$dest' && cp $o/summary.md $o/analysis.json '$REPO/$dest/' && cd '$REPO' && git add '$dest' && git commit -q -m 'experiments: analysis of $n by $(basename $BIN) (issue #15, verdicts over seeds)' && echo committed $n" && touch $o/DONE
    done
  done
done
echo "== all analyses done"
