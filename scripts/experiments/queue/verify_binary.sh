#!/usr/bin/env bash
# verify_binary.sh NEW_BIN EVALS MODELS: before a newer arp binary takes over the issue-#15
# evaluations, check that it writes the same per-image unit records as the binary that wrote
# the finished ones: it re-runs one shard (200 of the 2,000 images, every attack of the
# ensemble) of two finished evaluations with NEW_BIN and compares every unit, except its
# timing, with the finished state files (EVALS/NAME/eval2000-eps0.075.state). Exit 1 on any
# difference.
set -euo pipefail
BIN=$1 EVALS=$2 MODELS=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
check() { # name shard
	local n=$1 sh=$2 spec
	spec=$(sed -n 's/.*"selected_spec": "\([^"]*\)".*/\1/p' "$EVALS/$n/tune-eps0.075.json")
	"$BIN" eval --model "$MODELS/$n" --data mnist --subset 2000 --subset-seed 1 --eps 0.075 \
		--attacks "step-ll,pgd:steps=40:restarts=5,$spec,square:queries=5000" --quiet \
		--shard "$sh" --state "$tmp/$n.state" >/dev/null
	/usr/bin/python3 - "$EVALS/$n/eval2000-eps0.075.state" "$tmp/$n.state" "$n" <<'PY'
import json, sys
def units(path):
    out = {}
    for line in open(path):
        d = json.loads(line)
        if "unit" in d:
            u = dict(d["unit"]); u.pop("seconds", None)
            out[(u["phase"], u["attack"], u["norm"], u["eps"], u["batch"], u["name"])] = u
    return out
old, new = units(sys.argv[1]), units(sys.argv[2])
bad = [k for k, v in new.items() if old.get(k) != v]
print(f"{sys.argv[3]}: {len(new)} units compared, {len(new) - len(bad)} identical, {len(bad)} different")
sys.exit(1 if bad or not new else 0)
PY
}
check mnist-arp-s1 0/10
check mnist-adv-s1 3/10
