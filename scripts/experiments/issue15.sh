#!/usr/bin/env bash
# The experiment of issue #15: does ARP beat adversarial training at the same
# budget? Every phase is idempotent and resumable: run it again after an
# interruption (or in the next session) and it continues where it stopped;
# finished outputs are skipped. docs/experiments-plan.md describes the protocol.
#
# usage: scripts/experiments/issue15.sh PHASE
#   PHASE: train-iou | train-proj | grid | tune | eval | full-pgd | compare | all
# environment:
#   ARP     the arp binary (default bin/arp); use one binary for a whole phase
#   MODELS  directory of trained run directories named DATA-DEFENSE-sSEED
#           (default experiments/models: the committed models)
#   RUNS    directory for new training runs and checkpoints (default runs/issue15)
#   OUT     directory for evaluation outputs, one sub-directory per model
#           (default experiments/evals)
#   REPORT  the arp binary of the report steps (default: ARP); they read each evaluation's
#           record file (--state) where it exists, for the per-image paired tests, which
#           needs arp at main@cd30f22 or later (older binaries: the JSON reports only)
#   DRY=1   print the commands instead of running them
set -uo pipefail
phase=${1:?usage: issue15.sh train-iou|train-proj|grid|tune|eval|full-pgd|compare|all}
ARP=${ARP:-bin/arp}
MODELS=${MODELS:-experiments/models}
RUNS=${RUNS:-runs/issue15}
OUT=${OUT:-experiments/evals}
DRY=${DRY:-0}
REPORT=${REPORT:-$ARP}

# the training recipe of every model (docs/training.md; the lead's train_seeds.sh)
COMMON="--model mnist-small --steps 6000 --lr 1e-3 --lr-schedule cosine --eval-every 1000 --checkpoint-every 250 --quiet"
HELDOUT=5000      # training images held out for choices (ARP's weights, the attack's lambda)
HELDOUT_SEED=1
SUBSET=2000       # test images every model is evaluated on: the same for all
SUBSET_SEED=1
ENSEMBLE_HEAD=step-ll,pgd:steps=40:restarts=5   # then the tuned attention-loss attack, then Square
SQUARE=square:queries=5000
# ARP's weights (a, b, c) of the sensitivity grid on MNIST: the paper's (8,4,1), the authors'
# code's (8,4,1.6), each term off in turn, and stronger and weaker attention terms
GRID="8,4,1 8,4,1.6 8,0,1 8,4,0 8,8,1 8,4,4 8,2,0.5"

run() {
	echo "+ $*"
	[ "$DRY" = 1 ] || "$@"
}

# evidence REPORT.json: what the report steps read for one evaluation: its record file (same
# name, .state) where it exists, which carries the per-image outcomes, else the JSON report
evidence() {
	local st=${1%.json}.state
	if [ -e "$st" ]; then echo "$st"; else echo "$1"; fi
}

# diffs GROUP=FILES...: the --diff flags (arp - adv, arp - none, adv - none) whose two groups
# are both among the arguments, so a comparison runs while some groups are still unevaluated
diffs() {
	local have d
	have=" $(for g in "$@"; do printf '%s ' "${g%%=*}"; done)"
	for d in arp,adv arp,none adv,none; do
		case "$have" in *" ${d%,*} "*) case "$have" in *" ${d#*,} "*) printf -- '--diff %s ' "$d" ;; esac ;; esac
	done
}

flip() { [ "$1" = fashion-mnist ] && echo --flip; }
budgets() { [ "$1" = mnist ] && echo "0.075 0.3" || echo "0.075 0.1"; }
dataset() { case $1 in fashion-mnist-*) echo fashion-mnist ;; mnist-*) echo mnist ;; esac; }

# train DIR ARGS...: train a run, or resume it, or skip it when finished (DIR/DONE)
train() {
	local out=$1
	shift
	[ -e "$out/DONE" ] && return 0
	mkdir -p "$(dirname "$out")"
	if [ -e "$out/checkpoint.safetensors" ]; then
		run "$ARP" train --resume --out "$out" --quiet || return 1
	else
		run "$ARP" train $COMMON "$@" --out "$out" || return 1
	fi
	[ "$DRY" = 1 ] || touch "$out/DONE"
}

# the models of the comparison that exist (trained by the lead or by train-iou)
models() {
	for m in "$MODELS"/*-s[0-9]*; do
		[ -e "$m/model.json" ] && echo "$m"
	done
	for m in "$RUNS"/*-arp-iou-s[0-9]* "$RUNS"/*-proj-s[0-9]*; do
		[ -e "$m/DONE" ] && echo "$m"
	done
}

case $phase in
train-iou | all)
	# arp-iou (the authors' iou_train.py schedule, main >= 5de1cb0), one seed per dataset
	for ds in mnist fashion-mnist; do
		train "$RUNS/$ds-arp-iou-s1" --data $ds --defense arp-iou --seed 1 $(flip $ds)
	done
	;;&
train-proj | all)
	# two-step and arp-iou at the same budget as adv and arp: their further Step-LL steps
	# projected back to the eps-ball (--project); as trained above they follow the paper and
	# the authors' code, whose unprojected steps reach 2 eps and 5 eps
	for ds in mnist fashion-mnist; do
		train "$RUNS/$ds-two-step-proj-s1" --data $ds --defense two-step --project --seed 1 $(flip $ds)
		train "$RUNS/$ds-arp-iou-proj-s1" --data $ds --defense arp-iou --project --seed 1 $(flip $ds)
	done
	;;&
grid | all)
	# ARP's weights on MNIST, chosen on held-out training images; adv with the same
	# held-out images as the reference
	g=$RUNS/grid
	# one setting at a time: train it, evaluate it on the held-out images, and rewrite the
	# grid's report over the settings finished so far, so an interrupted grid still reports
	# what it has (runs of 6,000 ARP steps take hours each on two cores)
	groups=() gdiffs=()
	for w in adv $GRID; do
		if [ "$w" = adv ]; then
			n=mnist-adv-ho-s1
			train "$g/$n" --data mnist --defense adv --seed 1 --holdout $HELDOUT --holdout-seed $HELDOUT_SEED || exit 1
		else
			IFS=, read -r a b c <<<"$w"
			n=mnist-arp-a${a}b${b}c${c}-ho-s1
			train "$g/$n" --data mnist --defense arp --a $a --b $b --c $c --seed 1 --holdout $HELDOUT --holdout-seed $HELDOUT_SEED || exit 1
		fi
		e=$g/$n/eval-heldout.json
		if [ ! -e "$e" ]; then
			run "$ARP" eval --model "$g/$n" --data mnist:train:heldout=$HELDOUT:seed=$HELDOUT_SEED --subset 1000 --subset-seed 2 \
				--eps 0.075 --attacks step-ll,pgd:steps=20:restarts=2,attention-loss:steps=20:restarts=2,square:queries=1000 \
				--quiet --state "$g/$n/eval-heldout.state" --json "$e" --markdown "$g/$n/eval-heldout.md" || exit 1
		fi
		groups+=("$n=$(evidence "$e")")
		[ "$n" = mnist-adv-ho-s1 ] || gdiffs+=(--diff "$n,mnist-adv-ho-s1")
		[ ${#groups[@]} -ge 2 ] && { run "$REPORT" report seeds "${gdiffs[@]}" "${groups[@]}" --markdown "$g/grid-heldout.md" --json "$g/grid-heldout.json" || exit 1; }
	done
	;;&
tune | all)
	# the attention-loss attack's weight per model and budget, on held-out training images
	for m in $(models); do
		ds=$(dataset "$(basename "$m")")
		o=$OUT/$(basename "$m")
		mkdir -p "$o"
		for e in $(budgets $ds); do
			[ -e "$o/tune-eps$e.json" ] && continue
			run "$ARP" tune --model "$m" --data $ds:train:heldout=$HELDOUT:seed=$HELDOUT_SEED --limit 500 --eps $e \
				--quiet --state "$o/tune-eps$e.state" --json "$o/tune-eps$e.json" --markdown "$o/tune-eps$e.md"
		done
	done
	;;&
eval | all)
	# the strengthened ensemble on the same 2,000 test images for every model, one budget per
	# report (the tuned weight depends on the budget)
	for m in $(models); do
		ds=$(dataset "$(basename "$m")")
		o=$OUT/$(basename "$m")
		for e in $(budgets $ds); do
			[ -e "$o/eval$SUBSET-eps$e.json" ] && continue
			spec=$(sed -n 's/.*"selected_spec": "\([^"]*\)".*/\1/p' "$o/tune-eps$e.json" 2>/dev/null)
			if [ -z "$spec" ]; then
				echo "skip $m eps $e: no $o/tune-eps$e.json yet (run the tune phase)"
				continue
			fi
			run "$ARP" eval --model "$m" --data $ds --subset $SUBSET --subset-seed $SUBSET_SEED --eps $e \
				--attacks $ENSEMBLE_HEAD,$spec,$SQUARE --quiet --state "$o/eval$SUBSET-eps$e.state" \
				--json "$o/eval$SUBSET-eps$e.json" --markdown "$o/eval$SUBSET-eps$e.md"
		done
	done
	;;&
full-pgd | all)
	# PGD-20 on the whole test set
	for m in $(models); do
		ds=$(dataset "$(basename "$m")")
		o=$OUT/$(basename "$m")
		mkdir -p "$o"
		[ -e "$o/eval-full-pgd20.json" ] && continue
		run "$ARP" eval --model "$m" --data $ds --eps "$(budgets $ds | tr ' ' ,)" --attacks pgd:steps=20 --check-images 0 \
			--quiet --state "$o/eval-full-pgd20.state" --json "$o/eval-full-pgd20.json"
	done
	;;&
compare | all)
	# mean and 95% interval over seeds per cell, and the paired difference ARP - adv
	for ds in mnist fashion-mnist; do
		for e in $(budgets $ds); do
			args=()
			for d in none adv arp two-step arp-iou two-step-proj arp-iou-proj; do
				files=$(for f in "$OUT"/$ds-$d-s[0-9]*/eval$SUBSET-eps$e.json; do [ -e "$f" ] && evidence "$f"; done | paste -sd,)
				[ -n "$files" ] && args+=("$d=$files")
			done
			[ ${#args[@]} -ge 2 ] || { echo "compare $ds eps $e: fewer than two groups evaluated yet"; continue; }
			run "$REPORT" report seeds $(diffs "${args[@]}") "${args[@]}" \
				--markdown "$OUT/seeds-$ds-eps$e.md" --json "$OUT/seeds-$ds-eps$e.json"
		done
		args=()
		for d in none adv arp two-step arp-iou two-step-proj arp-iou-proj; do
			files=$(for f in "$OUT"/$ds-$d-s[0-9]*/eval-full-pgd20.json; do [ -e "$f" ] && evidence "$f"; done | paste -sd,)
			[ -n "$files" ] && args+=("$d=$files")
		done
		[ ${#args[@]} -ge 2 ] && run "$REPORT" report seeds $(diffs "${args[@]}") "${args[@]}" \
			--markdown "$OUT/seeds-$ds-full-pgd20.md" --json "$OUT/seeds-$ds-full-pgd20.json"
	done
	;;
train-iou | train-proj | grid | tune | eval | full-pgd) ;;
*)
	echo "issue15.sh: unknown phase $phase" >&2
	exit 2
	;;
esac
