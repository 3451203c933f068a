#!/usr/bin/env bash
# Sixth-session helper of the issue #15 evaluation queue (evalq.sh, same arguments: BIN REPO): runs
# fashion-mnist-arp-iou-s1's full-set PGD-20, tune and ensemble as soon as its training finishes,
# pausing the queue's running step meanwhile. Resumable.
set -uo pipefail
BIN=$1 REPO=$2 OUT=/work/exp/evals
MODELS=/work/main/experiments/models
mkdir -p $OUT
source "$(dirname "$0")/evalfns.sh"
# sixth session: fashion-mnist-arp-iou-s1 ahead of the undefended models' ensembles: pause the
# queue's running evaluation (SIGSTOP), run this model's steps with the queue's own functions and
# binary, then resume it (evalq skips what exists)
r=/work/exp/runs15/fashion-mnist-arp-iou-s1
while [ ! -e $r/DONE ]; do sleep 20; done
d=$MODELS/fashion-mnist-arp-iou-s1
[ -e $d/model.safetensors ] || { mkdir -p $d && cp $r/model.safetensors $r/model.json $r/metrics.jsonl $d/; }
for i in $(seq 60); do victim=$(pgrep -f "^$BIN (eval|tune) --model $MODELS/"); [ -n "$victim" ] && break; sleep 2; done
[ -n "$victim" ] && kill -STOP $victim && echo "paused $victim"
trap '[ -n "$victim" ] && kill -CONT $victim' EXIT
fullpgd $MODELS/fashion-mnist-arp-iou-s1 && step $MODELS/fashion-mnist-arp-iou-s1 0.075
echo "== iouq done"
