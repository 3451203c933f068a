#!/usr/bin/env bash
# After the seed trainings (train_seeds.sh, pid in train.pgid): arp-iou and the ARP grid
# (issue15.sh phases, main@f15efa5); committer.sh commits the outputs.
set -uo pipefail
while kill -0 $(cat /work/exp/train.pgid) 2>/dev/null; do sleep 30; done
cd /work/main
export ARP=/work/exp/bin/arp-f15efa5 MODELS=experiments/models RUNS=/work/exp/runs15 OUT=/work/exp/evals
nice -n 19 bash /work/exp/issue15-f15efa5.sh train-iou
nice -n 19 bash /work/exp/issue15-f15efa5.sh grid
echo "== phase 2 done"
