package main

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/arp-robustness/arp/attack"
	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/job"
	"github.com/arp-robustness/arp/limits"
	"github.com/arp-robustness/arp/train"
	"github.com/spf13/pflag"
)

// givenFlags returns the flags the user typed (before --resume sets the
// recorded ones).
func givenFlags(fl *pflag.FlagSet) map[string]bool {
	given := map[string]bool{}
	fl.Visit(func(p *pflag.Flag) { given[p.Name] = true })
	return given
}

// Bounds of arp train's counts.
const (
	maxTrainSteps  = 1000000000
	maxTrainEpochs = 1000000
)

// checkTrainFlags validates the values of arp train's flags before
// anything is loaded, one flag per message. A value the user typed is used
// or refused, never replaced: 0 is refused where the trainer or the
// objective would take it for "the default", and flags that do not apply
// to the chosen optimizer, schedule or defense are refused rather than
// ignored.
func checkTrainFlags(f *trainFlags, given map[string]bool) error {
	inf := math.Inf(1)
	ints := []struct {
		flag    string
		v, lo   int
		hi      int
		meaning string
	}{
		{"limit", f.limit, 0, limits.MaxInt, "a number of training images; 0: all"},
		{"holdout", f.holdout, 0, limits.MaxInt, "a number of images held out; 0: none"},
		{"batch", f.cfg.BatchSize, 1, job.MaxBatch, "images per step"},
		{"pgd-steps", f.pgdSteps, 1, attack.MaxSteps, "attack steps"},
		{"extra-steps", f.obj.ExtraSteps, 1, 100, "further Step-LL steps at most"},
		{"eval-n", f.evalN, 0, limits.MaxInt, "held-out images evaluated; 0: no evaluation"},
		{"eval-every", f.cfg.EvalEvery, 0, limits.MaxInt, "steps between evaluations; 0: only at the end"},
		{"log-every", f.cfg.LogEvery, 1, limits.MaxInt, "steps between metrics lines"},
		{"checkpoint-every", f.cfg.CheckpointEvery, 0, limits.MaxInt, "steps between checkpoints; 0: only at the end and on Ctrl-C"},
		{"warmup", f.cfg.Schedule.Warmup, 0, maxTrainSteps, "warm-up steps"},
	}
	if given["steps"] {
		ints = append(ints, struct {
			flag    string
			v, lo   int
			hi      int
			meaning string
		}{"steps", f.steps, 1, maxTrainSteps, "training steps"})
	}
	if given["epochs"] {
		ints = append(ints, struct {
			flag    string
			v, lo   int
			hi      int
			meaning string
		}{"epochs", f.epochs, 1, maxTrainEpochs, "passes over the training data"})
	}
	if f.cfg.Schedule.Kind == "step" || given["lr-step"] {
		ints = append(ints, struct {
			flag    string
			v, lo   int
			hi      int
			meaning string
		}{"lr-step", f.cfg.Schedule.StepEvery, 1, maxTrainSteps, "steps between learning-rate decays, needed by --lr-schedule step"})
	}
	for _, c := range ints {
		if err := limits.Int("--"+c.flag, c.v, c.lo, c.hi, c.meaning); err != nil {
			return err
		}
	}
	floats := []struct {
		flag    string
		v       float64
		lo, hi  float64
		open    bool
		meaning string
	}{
		{"lr", f.cfg.LR, 0, inf, true, "a learning rate"},
		{"momentum", f.cfg.Momentum, 0, math.Nextafter(1, 0), false, "SGD momentum, below 1"},
		{"lr-gamma", f.cfg.Schedule.Gamma, 0, 1e3, true, "a decay factor"},
		{"lr-min", f.cfg.Schedule.MinLR, 0, f.cfg.LR, false, "the final learning rate, at most --lr"},
		{"eps", f.eps, 0, 1, true, "an L-inf budget on the [0,1] pixel scale"},
		{"pgd-step", f.pgdStep, 0, 1, false, "a step on the [0,1] pixel scale; 0: 2.5*eps/steps for pgd, eps/4 for trades"},
		{"a", f.obj.A, 0, 1e6, false, "a loss weight"},
		{"b", f.obj.B, 0, 1e6, false, "a loss weight"},
		{"c", f.obj.C, 0, 1e6, false, "a loss weight"},
		{"mask-fill", f.maskFill, 0, 1, false, "a pixel value"},
		{"iou-threshold", f.obj.IoUThreshold, 0, 1, true, "an IoU"},
		{"beta", f.obj.Beta, 0, 1e6, true, "the weight of the KL term"},
		{"eval-eps", f.cfg.EvalEps, 0, 1, true, "an L-inf budget on the [0,1] pixel scale"},
	}
	for _, c := range floats {
		if err := limits.Float("--"+c.flag, c.v, c.lo, c.hi, c.open, c.meaning); err != nil {
			return err
		}
	}
	if f.obj.A == 0 && f.obj.B == 0 && f.obj.C == 0 && slices.Contains(arpFamily, f.defense) {
		return fmt.Errorf("--a, --b and --c are all 0: nothing to train")
	}
	return checkApplies(f, given)
}

// arpFamily are the defenses with attention terms.
var arpFamily = []string{"arp", "two-step", "arp-iou"}

// checkApplies refuses flags given for an optimizer, schedule or defense
// that does not use them.
func checkApplies(f *trainFlags, given map[string]bool) error {
	defenseIs := func(names ...string) func() (bool, string) {
		return func() (bool, string) {
			return slices.Contains(names, f.defense), "--defense " + strings.Join(names, " or ")
		}
	}
	rules := []struct {
		flags   []string
		applies func() (bool, string)
	}{
		{[]string{"momentum"}, func() (bool, string) { return f.cfg.Optimizer == "sgd", "--optimizer sgd" }},
		{[]string{"lr-step", "lr-gamma"}, func() (bool, string) { return f.cfg.Schedule.Kind == "step", "--lr-schedule step" }},
		{[]string{"lr-min"}, func() (bool, string) { return f.cfg.Schedule.Kind == "cosine", "--lr-schedule cosine" }},
		{[]string{"attack"}, defenseIs("adv", "arp", "two-step", "arp-iou")},
		{[]string{"eps"}, defenseIs("adv", "arp", "two-step", "arp-iou", "trades")},
		{[]string{"pgd-steps", "pgd-step"}, func() (bool, string) {
			return f.defense == "trades" || (f.attack == "pgd" && f.defense != "none"), "--defense trades or --attack pgd"
		}},
		{[]string{"a", "b", "c", "map-variant", "batch-norm-grad", "first-order", "layer", "mask-fill"}, defenseIs(arpFamily...)},
		{[]string{"iou-threshold", "extra-steps"}, defenseIs("arp-iou")},
		{[]string{"project"}, defenseIs("two-step", "arp-iou")},
		{[]string{"beta"}, defenseIs("trades")},
		{[]string{"eval-data", "eval-every", "eval-eps"}, func() (bool, string) { return f.evalN > 0, "an evaluation (--eval-n above 0)" }},
		{[]string{"holdout-seed"}, func() (bool, string) { return f.holdout > 0, "--holdout" }},
	}
	for _, r := range rules {
		for _, name := range r.flags {
			if !given[name] {
				continue
			}
			if ok, needs := r.applies(); !ok {
				return fmt.Errorf("--%s applies only to %s; it would be ignored here", name, needs)
			}
		}
	}
	return nil
}

// trainSteps returns the number of steps: --steps, else --epochs (by
// default 1) passes of perEpoch steps.
func trainSteps(f *trainFlags, perEpoch int) (int, error) {
	if f.steps > 0 {
		return f.steps, nil
	}
	epochs := max(f.epochs, 1)
	if epochs > maxTrainSteps/perEpoch {
		return 0, fmt.Errorf("--epochs %d: %d passes of %d steps, more than %d steps", epochs, epochs, perEpoch, maxTrainSteps)
	}
	return epochs * perEpoch, nil
}

// dropUnused clears the settings of an optimizer or schedule the run does
// not use (their flags' defaults; given flags were refused by
// checkApplies), so that the record holds only what the run uses.
func dropUnused(cfg *train.Config) {
	if cfg.Optimizer != "sgd" {
		cfg.Momentum = 0
	}
	if cfg.Schedule.Kind != "step" {
		cfg.Schedule.StepEvery, cfg.Schedule.Gamma = 0, 0
	}
	if cfg.Schedule.Kind != "cosine" {
		cfg.Schedule.MinLR = 0
	}
}

// openTrainData opens the training images of --data, less the images held
// out by --holdout and --limit, and the held-out evaluation set (--eval-n
// images of --eval-data, or of the training split when none is named).
func openTrainData(f *trainFlags, opt data.Options) (trainSet, eval *data.Dataset, evalName, holdoutSpec string, err error) {
	trainSet, err = data.Open(f.data, opt)
	if err != nil {
		return nil, nil, "", "", err
	}
	if f.holdout > 0 {
		if _, trainSet, err = trainSet.HoldOut(f.holdout, f.holdoutSeed); err != nil {
			return nil, nil, "", "", fmt.Errorf("--holdout: %v", err)
		}
		holdoutSpec = data.HoldOutSpec(f.data, f.holdout, f.holdoutSeed)
	}
	if f.limit > 0 && f.limit < trainSet.Len() {
		trainSet, _ = trainSet.Split(f.limit)
	}
	if f.evalN > 0 {
		eval, evalName, trainSet, err = train.EvalData(f.data, f.evalData, holdoutSpec, f.evalN, f.cfg.Seed, opt, trainSet)
		if err != nil {
			return nil, nil, "", "", err
		}
	}
	if trainSet.Len() == 0 {
		return nil, nil, "", "", fmt.Errorf("%s: no training images", f.data)
	}
	return trainSet, eval, evalName, holdoutSpec, nil
}
