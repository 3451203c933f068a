#!/usr/bin/env bash
# Issue #15 training queue after phase2d.sh (pgid in phase2d.pgid): the same-budget variants
# of two-step and arp-iou (issue15.sh train-proj: --project), trained with main@9507664.
# committer.sh commits the finished runs. Resumable.
set -uo pipefail
while kill -0 $(cat /work/exp/phase2d.pgid) 2>/dev/null; do sleep 60; done
cd /work/main
export MODELS=experiments/models RUNS=/work/exp/runs15 OUT=/work/exp/evals
ARP=/work/exp/bin/arp-9507664 nice -n 19 bash /work/exp/issue15-proj.sh train-proj
echo "== phase 2e done"
