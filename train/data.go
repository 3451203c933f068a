package train

import (
	"fmt"

	"github.com/arp-robustness/arp/data"
)

// EvalData chooses up to n images a run evaluates on (Run's eval
// argument) and returns them with their description and the (possibly
// reduced) training data: evalSpec when given, else holdoutSpec (the
// images the run holds out of its data, see data.HoldOutSpec), else the
// test split of trainSpec's dataset when it has splits and trainSpec asks
// for none or for "train", else images held out of trainData (at most a
// fifth of them). Evaluation data opened by name is shuffled with seed
// first.
func EvalData(trainSpec, evalSpec, holdoutSpec string, n int, seed uint64, opt data.Options, trainData *data.Dataset) (eval *data.Dataset, name string, rest *data.Dataset, err error) {
	name = evalSpec
	if name == "" {
		name = holdoutSpec
	}
	if name == "" {
		base, split := data.SplitSpec(trainSpec)
		if splits, _ := data.Splits(base, opt); len(splits) > 0 && (split == "" || split == "train") {
			name = base + ":test"
		}
	}
	if name != "" {
		eval, err = data.Open(name, opt)
		if err != nil {
			return nil, "", nil, fmt.Errorf("evaluation data: %w", err)
		}
		eval = eval.Shuffled(seed)
		if n < eval.Len() {
			eval, _ = eval.Split(n)
		}
		return eval, name, trainData, nil
	}
	// hold out images of the training data (at most a fifth of it)
	k := min(n, trainData.Len()/5)
	if k == 0 {
		return nil, "", trainData, nil
	}
	eval, rest = trainData.Shuffled(seed).Split(k)
	return eval, fmt.Sprintf("%s (%d held-out images)", trainSpec, k), rest, nil
}

// DataRecord describes a run's data for Config.Data (compared on resume):
// the training data spec and --limit, the evaluation data's name and
// size, and the held-out images (see data.HoldOutSpec; holdout 0: none).
// arp train and arp demo record their runs with it, so that either's run
// can be resumed by arp train --resume.
func DataRecord(trainSpec string, limit int, evalName string, evalN, holdout int, holdoutSeed uint64, holdoutSpec string) map[string]any {
	return map[string]any{"train": trainSpec, "limit": limit, "eval": evalName, "eval_n": evalN,
		"holdout": holdout, "holdout_seed": holdoutSeed, "holdout_data": holdoutSpec}
}
