#!/usr/bin/env bash
# Issue #15 training queue, fifth session (phase2d: the grid report with per-image tests, REPORT=arp-report-cd30f22): finish mnist-arp-iou-s1 (main@f15efa5, which
# started it), then the ARP weight grid on MNIST with main@9507664 (one binary for the whole
# grid; train and evaluate one setting at a time), then fashion-mnist-arp-iou-s1 (f15efa5).
# committer.sh commits the outputs. Resumable.
set -uo pipefail
cd /work/main
export MODELS=experiments/models RUNS=/work/exp/runs15 OUT=/work/exp/evals
r=$RUNS/mnist-arp-iou-s1
# phase2b.sh (pgid in phase2.pgid) is finishing it: wait, then stop phase2b before its next run
while [ ! -e $r/DONE ] && kill -0 $(cat /work/exp/phase2.pgid) 2>/dev/null; do sleep 20; done
kill -- -$(cat /work/exp/phase2.pgid) 2>/dev/null; sleep 2
if [ ! -e $r/DONE ]; then
  nice -n 19 /work/exp/bin/arp-f15efa5 train --resume --out $r --quiet && touch $r/DONE
fi
REPORT=/work/exp/bin/arp-report-cd30f22 ARP=/work/exp/bin/arp-9507664 nice -n 19 bash /work/exp/issue15-grid2.sh grid || { echo "== grid stopped"; exit 1; }
ARP=/work/exp/bin/arp-f15efa5 nice -n 19 bash /work/exp/issue15-grid2.sh train-iou
echo "== phase 2c done"
