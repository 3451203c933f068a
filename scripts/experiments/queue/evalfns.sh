# Functions of the issue #15 evaluation queues (evalq.sh, iouq.sh), sourced by them after they set
# BIN (the arp binary), REPO (the checkout to commit to), OUT (evaluation outputs) and MODELS:
# commit NAME FILES... copies finished outputs into REPO/experiments/evals/NAME and commits them;
# step MODEL EPS tunes the adaptive attack and runs the 2,000-image ensemble; fullpgd MODEL runs
# PGD-20 on the whole test set. Each skips what exists and resumes from its --state file.
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
