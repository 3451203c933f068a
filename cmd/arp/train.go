package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/arp-robustness/arp/attack"
	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/defense"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/rundir"
	"github.com/arp-robustness/arp/train"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func init() { register(newTrainCmd) }

// trainFlags are the options of arp train.
type trainFlags struct {
	model, defense, data, evalData string
	evalN, limit                   int
	holdout                        int
	holdoutSeed                    uint64
	out                            string
	resume, force, quiet           bool

	optimizer           string
	lr, momentum        float64
	schedule            string
	warmup, lrStep      int
	lrGamma, lrMin      float64
	batch, epochs       int
	steps               int
	seed                uint64
	flip                bool
	evalEvery, logEvery int
	checkpointEvery     int
	evalEps             float64

	attack        string
	eps           float64
	pgdSteps      int
	pgdStep       float64
	a, b, c       float64
	mapVariant    string
	batchNormGrad bool
	firstOrder    bool
	layer         string
	maskFill      float64
	iouThreshold  float64
	extraSteps    int
	project       bool
	beta          float64
}

// notRecorded are the flags that do not affect what a run computes; all
// others are stored with the run and restored by --resume.
var notRecorded = map[string]bool{"out": true, "resume": true, "force": true, "quiet": true, "help": true}

func newTrainCmd(g *globalOptions) *cobra.Command {
	f := &trainFlags{}
	cmd := &cobra.Command{
		Use:   "train --model ARCH --data NAME[:split] --out DIR [flags]",
		Short: "Train a classifier with standard, adversarial, ARP or TRADES training",
		Long: `Train an image classifier and write the run to --out DIR:

  model.safetensors    the weights (names and layouts: docs/model-format.md)
  model.json           architecture, input scale, class names, all training settings, seed, arp version
  checkpoint.safetensors  model + optimiser state + step, written atomically every
                       --checkpoint-every steps, at the end and on Ctrl-C
  metrics.jsonl        one JSON line every --log-every steps: step, epoch, lr, loss and its terms,
                       train_acc, images_per_s, and eval_clean_acc / eval_step_ll_acc after evaluations
  curves.png           loss and accuracy curves

Models (--model): ` + strings.Join(nn.ArchNames(), ", ") + `.

Defenses (--defense):
  none       cross-entropy on clean images
  adv        adversarial training: CE(x) + CE(x_adv), x_adv from --attack (step-ll, fgsm,
             r-step-ll or pgd) made with the model in evaluation mode, no gradient through it
  arp        attention rectification and preservation: a*L_c + b*L_r + c*L_p (--a --b --c,
             default 8 4 1) with L_c = CE(x) + CE(x_adv), L_p the squared difference of the
             clean and adversarial Grad-CAM maps of the true class, L_r the (negated) change
             of the softmax when the attended region is masked out; the maps are
             differentiated by double backpropagation (--first-order: channel weights constant)
  two-step   ARP with one update on Step-LL(x) and one on Step-LL(Step-LL(x)) per batch
  arp-iou    ARP plus up to --extra-steps rounds (the authors' iou_train.py): every image's
             clean/adversarial attention IoU is recomputed, the images above --iou-threshold
             take one more Step-LL step, the others keep their last adversarial image, and
             the model is updated on the whole batch
  trades     CE(x) + beta*KL(p(x) || p(x_adv)), x_adv from PGD on the KL (Zhang et al. 2019)

Budgets (--eps, --eval-eps) are L-inf on the [0,1] pixel scale: the paper's 0.15 on
[-1,1] is 0.075. Loss terms run in training mode (dropout on); adversarial examples and
attention masks for arp-iou are made in evaluation mode.

Every random choice (initialisation, shuffling, flips, dropout, attack randomness) is
derived from --seed and the step number, so --resume continues an interrupted run
and reproduces the uninterrupted run bit for bit. --resume restores the run's flags;
only --steps/--epochs (to extend a run) and the logging intervals may be changed.
Ctrl-C finishes the current step, saves a checkpoint and exits; a NaN or infinite
loss stops the run before it is applied, keeping the last good checkpoint.

Evaluation: every --eval-every steps and at the end, clean and Step-LL (--eval-eps)
accuracy on --eval-n images of --eval-data (default: the --holdout images, else the
dataset's test split, else images held out from the training data when it has no
splits).

Model selection: --holdout N never trains on N images of --data, chosen by
--holdout-seed alone (the same images for every run with the same N and seed,
whatever its --seed or defense). Other commands open them as DATA:heldout=N:seed=S,
e.g. arp eval --data mnist:train:heldout=5000:seed=1; model.json records the spec.`,
		Example: `  arp train --model mnist-small --defense arp --data mnist-mini:train --steps 200 --lr 1e-3 --out runs/arp
  arp train --model cifarnet --defense adv --attack step-ll --data cifar-10 --epochs 10 --flip --out runs/adv
  arp train --resume --out runs/arp --steps 400
  arp train --model mnist-small --defense arp --data mnist:train --holdout 5000 --steps 6000 --out runs/arp-grid`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTrain(cmd, g, f)
		},
	}
	fl := cmd.Flags()
	fl.SortFlags = false
	fl.StringVar(&f.model, "model", "", "architecture: "+strings.Join(nn.ArchNames(), ", ")+" (required)")
	fl.StringVar(&f.defense, "defense", "none", "training objective: "+strings.Join(defense.Names(), ", "))
	fl.StringVar(&f.data, "data", "", "training data: a dataset name with optional :split, or a path (see arp data --help) (required)")
	fl.StringVar(&f.out, "out", "", "run directory (required)")
	fl.BoolVar(&f.resume, "resume", false, "continue the run in --out from its checkpoint")
	fl.BoolVar(&f.force, "force", false, "replace an existing run in --out")
	fl.IntVar(&f.limit, "limit", 0, "use only the first N training images (0: all)")
	fl.IntVar(&f.holdout, "holdout", 0, "never train on N images of --data chosen by --holdout-seed; they are the default --eval-data and open elsewhere as DATA:heldout=N:seed=S (0: none)")
	fl.Uint64Var(&f.holdoutSeed, "holdout-seed", data.DefaultHoldOutSeed, "seed choosing the --holdout images (independent of --seed, so runs with different seeds hold out the same images)")
	fl.IntVar(&f.steps, "steps", 0, "number of training steps (mini-batches)")
	fl.IntVar(&f.epochs, "epochs", 0, "number of epochs, if --steps is not given (default 1)")
	fl.IntVar(&f.batch, "batch", 50, "batch size")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of all randomness")
	fl.BoolVar(&f.flip, "flip", false, "random horizontal flips (off for digits)")
	fl.StringVar(&f.optimizer, "optimizer", "adam", "adam or sgd")
	fl.Float64Var(&f.lr, "lr", 1e-4, "base learning rate (the paper's 1e-4; 1e-3 for short runs)")
	fl.Float64Var(&f.momentum, "momentum", 0.9, "SGD momentum")
	fl.StringVar(&f.schedule, "lr-schedule", "constant", "learning-rate schedule: "+strings.Join(train.ScheduleKinds(), ", "))
	fl.IntVar(&f.warmup, "warmup", 0, "linear learning-rate warm-up over this many steps")
	fl.IntVar(&f.lrStep, "lr-step", 0, "step schedule: multiply the rate by --lr-gamma every this many steps")
	fl.Float64Var(&f.lrGamma, "lr-gamma", 0.1, "step schedule: decay factor")
	fl.Float64Var(&f.lrMin, "lr-min", 0, "cosine schedule: final learning rate")
	fl.StringVar(&f.attack, "attack", "step-ll", "attack making the training examples of adv/arp/two-step/arp-iou: step-ll, fgsm, r-step-ll, pgd")
	fl.Float64Var(&f.eps, "eps", defense.DefaultEps, "attack budget (L-inf, [0,1] pixel scale; the paper's 0.15 on [-1,1])")
	fl.IntVar(&f.pgdSteps, "pgd-steps", 10, "pgd and trades: attack steps")
	fl.Float64Var(&f.pgdStep, "pgd-step", 0, "pgd and trades: step size (0: 2.5*eps/steps for pgd, eps/4 for trades)")
	fl.Float64Var(&f.a, "a", 8, "arp: weight of L_c (clean + adversarial cross-entropy)")
	fl.Float64Var(&f.b, "b", 4, "arp: weight of L_r (attention rectification)")
	fl.Float64Var(&f.c, "c", 1, "arp: weight of L_p (attention preservation)")
	fl.StringVar(&f.mapVariant, "map-variant", "gradcam-arp", "arp: attention map, "+strings.Join(defense.MapVariants(), " or "))
	fl.BoolVar(&f.batchNormGrad, "batch-norm-grad", false, "arp: normalise the Grad-CAM gradients over the whole batch (the original code) instead of per image")
	fl.BoolVar(&f.firstOrder, "first-order", false, "arp: treat the Grad-CAM channel weights as constants (no double backpropagation)")
	fl.StringVar(&f.layer, "layer", "", "arp: attention layer (default: the model's, e.g. pool2)")
	fl.Float64Var(&f.maskFill, "mask-fill", 0.5, "arp: pixel value replacing the attended region in L_r (0.5 = the paper's x*(1-B) on [-1,1])")
	fl.Float64Var(&f.iouThreshold, "iou-threshold", 0.2, "arp-iou: further steps for images whose attention IoU is above this")
	fl.IntVar(&f.extraSteps, "extra-steps", 4, "arp-iou: at most this many further Step-LL steps")
	fl.BoolVar(&f.project, "project", false, "two-step, arp-iou: keep further Step-LL steps inside the eps-ball")
	fl.Float64Var(&f.beta, "beta", 6, "trades: weight of the KL term")
	fl.StringVar(&f.evalData, "eval-data", "", "held-out data (default: the dataset's test split)")
	fl.IntVar(&f.evalN, "eval-n", 1000, "number of held-out images evaluated (0: no evaluation)")
	fl.IntVar(&f.evalEvery, "eval-every", 500, "evaluate every this many steps (and at the end; 0: only at the end)")
	fl.Float64Var(&f.evalEps, "eval-eps", defense.DefaultEps, "budget of the evaluation's Step-LL attack")
	fl.IntVar(&f.logEvery, "log-every", 10, "write a metrics line every this many steps")
	fl.IntVar(&f.checkpointEvery, "checkpoint-every", 500, "write a checkpoint every this many steps (0: only at the end and on Ctrl-C)")
	fl.BoolVar(&f.quiet, "quiet", false, "no progress bar; print a line per evaluation instead")
	return cmd
}

func runTrain(cmd *cobra.Command, g *globalOptions, f *trainFlags) error {
	fl := cmd.Flags()
	if f.out == "" {
		return fmt.Errorf("--out DIR is required")
	}
	if f.resume && f.force {
		return fmt.Errorf("--resume and --force exclude each other")
	}
	var existing *train.Checkpoint
	if f.resume {
		ck, err := train.ReadCheckpoint(f.out + "/" + rundir.Checkpoint)
		if err != nil {
			return err
		}
		if err := restoreFlags(fl, ck.Record.Command); err != nil {
			return fmt.Errorf("%s/%s: %v", f.out, rundir.Checkpoint, err)
		}
		existing = ck
	}
	if f.model == "" || f.data == "" {
		return fmt.Errorf("--model and --data are required")
	}
	if _, ok := nn.Archs()[f.model]; !ok {
		return fmt.Errorf("unknown model %q; known: %s", f.model, strings.Join(nn.ArchNames(), ", "))
	}
	if existing != nil && existing.Record.Arch != f.model {
		return fmt.Errorf("%s/%s is a checkpoint of %s, not %s", f.out, rundir.Checkpoint, existing.Record.Arch, f.model)
	}
	if f.steps > 0 && f.epochs > 0 {
		return fmt.Errorf("give --steps or --epochs, not both")
	}
	if f.steps < 0 || f.epochs < 0 || f.limit < 0 || f.evalN < 0 || f.holdout < 0 {
		return fmt.Errorf("--steps, --epochs, --limit, --holdout and --eval-n must be >= 0")
	}
	fill := f.maskFill
	obj, err := defense.New(f.defense, defense.Options{
		Attack: attack.Spec{Name: f.attack, Config: attack.Config{Eps: f.eps, Steps: f.pgdSteps, Alpha: f.pgdStep}},
		A:      f.a, B: f.b, C: f.c, Map: f.mapVariant, BatchWide: f.batchNormGrad, FirstOrder: f.firstOrder,
		Layer: f.layer, MaskFill: &fill, IoUThreshold: f.iouThreshold, ExtraSteps: f.extraSteps,
		Project: f.project, Beta: f.beta})
	if err != nil {
		return err
	}
	if (f.a == 0 && f.b == 0 && f.c == 0) && strings.HasPrefix(obj.Name(), "arp") {
		return fmt.Errorf("--a, --b and --c are all 0: nothing to train")
	}
	if !f.resume && !f.force {
		if found := rundir.HoldsRun(f.out); len(found) > 0 {
			return fmt.Errorf("%s already holds a run (%s); pass --resume to continue it or --force to start over", f.out, strings.Join(found, ", "))
		}
	}

	// data
	opt := data.Options{DataDir: g.dataDir}
	trainSet, err := data.Open(f.data, opt)
	if err != nil {
		return err
	}
	holdoutSpec := ""
	if f.holdout > 0 {
		if _, trainSet, err = trainSet.HoldOut(f.holdout, f.holdoutSeed); err != nil {
			return fmt.Errorf("--holdout: %v", err)
		}
		holdoutSpec = data.HoldOutSpec(f.data, f.holdout, f.holdoutSeed)
	}
	if f.limit > 0 && f.limit < trainSet.Len() {
		trainSet, _ = trainSet.Split(f.limit)
	}
	var eval *data.Dataset
	evalName := ""
	if f.evalN > 0 {
		eval, evalName, trainSet, err = heldOut(f, opt, trainSet, holdoutSpec)
		if err != nil {
			return err
		}
	}
	if trainSet.Len() == 0 {
		return fmt.Errorf("%s: no training images", f.data)
	}
	if f.batch < 1 {
		return fmt.Errorf("--batch %d must be positive", f.batch)
	}
	perEpoch := trainSet.Len() / f.batch
	if perEpoch == 0 {
		return fmt.Errorf("--batch %d is larger than the %d training images", f.batch, trainSet.Len())
	}
	steps := f.steps
	if steps == 0 {
		ep := f.epochs
		if ep == 0 {
			ep = 1
		}
		steps = ep * perEpoch
	}

	// model
	spec, err := nn.DefaultSpec(f.model, trainSet.C, trainSet.H, trainSet.W, len(trainSet.Classes))
	if err != nil {
		return err
	}
	m, err := nn.Build(spec, f.seed)
	if err != nil {
		return err
	}
	if f.force {
		if err := rundir.Remove(f.out, rundir.TrainingFiles()...); err != nil {
			return err
		}
	}

	command := map[string]string{}
	fl.VisitAll(func(p *pflag.Flag) {
		if !notRecorded[p.Name] {
			command[p.Name] = p.Value.String()
		}
	})
	cfg := train.Config{
		Objective: obj, Optimizer: f.optimizer, LR: f.lr, Momentum: f.momentum,
		Schedule:  train.Schedule{Kind: f.schedule, Warmup: f.warmup, StepEvery: f.lrStep, Gamma: f.lrGamma, MinLR: f.lrMin},
		BatchSize: f.batch, Steps: steps, Seed: f.seed, Flip: f.flip,
		EvalEvery: f.evalEvery, EvalEps: f.evalEps, LogEvery: f.logEvery, CheckpointEvery: f.checkpointEvery,
		Dir: f.out, Resume: f.resume, Command: command,
		Data: map[string]any{"train": f.data, "limit": f.limit, "eval": evalName, "eval_n": f.evalN,
			"holdout": f.holdout, "holdout_seed": f.holdoutSeed, "holdout_data": holdoutSpec},
		Info: nn.Info{ClassNames: trainSet.Classes, Dataset: f.data, Seed: f.seed, ArpVersion: arpVersion(),
			GoVersion: runtime.Version(), Created: time.Now().UTC().Format(time.RFC3339)},
	}
	if f.optimizer != "sgd" {
		cfg.Momentum = 0
	}
	if cfg.Schedule.Kind != "step" {
		cfg.Schedule.StepEvery, cfg.Schedule.Gamma = 0, 0
	}
	if cfg.Schedule.Kind != "cosine" {
		cfg.Schedule.MinLR = 0
	}

	// Ctrl-C (or SIGTERM) cancels the context: Train finishes the step,
	// saves a checkpoint and returns; a second Ctrl-C kills the process.
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	stderr := cmd.ErrOrStderr()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		select {
		case <-sigs:
			signal.Stop(sigs)
			fmt.Fprintln(stderr, "\narp: interrupted: finishing the current step and saving a checkpoint (Ctrl-C again to abort)")
			cancel()
		case <-ctx.Done():
		}
	}()
	rep := newReporter(stderr, f.quiet, steps, f.defense)
	cfg.Progress = rep.progress
	fmt.Fprintf(stderr, "training %s (%d parameters) with %s on %d images of %s, %d steps of %d (%.3g epochs)",
		f.model, m.NumParams(), obj.Name(), trainSet.Len(), f.data, steps, f.batch, float64(steps)/float64(perEpoch))
	if eval != nil {
		fmt.Fprintf(stderr, "; evaluating on %d images of %s", eval.Len(), evalName)
	}
	fmt.Fprintln(stderr)
	sum, err := train.Run(ctx, m, trainSet, eval, cfg)
	rep.finish()
	if err != nil {
		switch {
		case errors.Is(err, train.ErrInterrupted):
			return fmt.Errorf("%v; continue with: arp train --resume --out %s", err, f.out)
		case errors.Is(err, train.ErrRunExists):
			return fmt.Errorf("%v; pass --resume to continue it or --force to start over", err)
		}
		return err
	}
	w := cmd.OutOrStdout()
	if sum.Start == sum.Steps {
		fmt.Fprintf(w, "%s: the run is complete at step %d; pass a larger --steps to continue it\n", f.out, sum.Steps)
		return nil
	}
	fmt.Fprintf(w, "trained %s with %s: steps %d-%d of %d in %s", f.model, obj.Name(), sum.Start+1, sum.Done, sum.Steps, sum.Elapsed.Round(100*time.Millisecond))
	if sum.Eval != nil {
		fmt.Fprintf(w, "; held-out accuracy %.4f clean, %.4f under Step-LL (eps %g) on %d images of %s",
			sum.Eval.CleanAcc, sum.Eval.StepLLAcc, sum.Eval.Eps, sum.Eval.N, evalName)
	}
	fmt.Fprintf(w, "\nrun saved in %s\n", f.out)
	return nil
}

// restoreFlags sets every recorded flag the user did not give from the
// checkpoint's record; --steps and --epochs go together.
func restoreFlags(fl *pflag.FlagSet, rec map[string]string) error {
	if len(rec) == 0 {
		return fmt.Errorf("the checkpoint records no command-line flags (not written by arp train?)")
	}
	extending := fl.Changed("steps") || fl.Changed("epochs")
	names := slices.Sorted(maps.Keys(rec))
	for _, name := range names {
		if fl.Changed(name) || notRecorded[name] || (extending && (name == "steps" || name == "epochs")) {
			continue
		}
		if fl.Lookup(name) == nil {
			continue // a flag of another arp version
		}
		if err := fl.Set(name, rec[name]); err != nil {
			return fmt.Errorf("recorded flag --%s %q: %v", name, rec[name], err)
		}
	}
	return nil
}

// heldOut returns the evaluation images and the (possibly reduced)
// training data: --eval-data, else the --holdout images (holdoutSpec),
// else the test split of a dataset with splits, else images held out from
// the training data.
func heldOut(f *trainFlags, opt data.Options, trainSet *data.Dataset, holdoutSpec string) (eval *data.Dataset, name string, rest *data.Dataset, err error) {
	name = f.evalData
	if name == "" {
		name = holdoutSpec
	}
	if name == "" {
		base, split := f.data, ""
		if i := strings.LastIndexByte(f.data, ':'); i >= 0 {
			switch s := f.data[i+1:]; s {
			case "train", "test", "all":
				base, split = f.data[:i], s
			}
		}
		if splits, _ := data.Splits(base, opt); len(splits) > 0 && (split == "" || split == "train") {
			name = base + ":test"
		}
	}
	if name != "" {
		eval, err = data.Open(name, opt)
		if err != nil {
			return nil, "", nil, fmt.Errorf("evaluation data: %w", err)
		}
		eval = eval.Shuffled(f.seed)
		if f.evalN < eval.Len() {
			eval, _ = eval.Split(f.evalN)
		}
		return eval, name, trainSet, nil
	}
	// hold out images of the training data (at most a fifth of it)
	n := min(f.evalN, trainSet.Len()/5)
	if n == 0 {
		return nil, "", trainSet, nil
	}
	sh := trainSet.Shuffled(f.seed)
	eval, rest = sh.Split(n)
	return eval, fmt.Sprintf("%s (%d held-out images)", f.data, n), rest, nil
}

// reporter shows progress: a bar on a terminal, else a line per evaluation.
type reporter struct {
	w       io.Writer
	bar     *progressbar.ProgressBar
	done    bool
	defense string
}

func newReporter(w io.Writer, quiet bool, steps int, defenseName string) *reporter {
	r := &reporter{w: w, defense: defenseName}
	if !quiet && isTerminal(w) {
		r.bar = progressbar.NewOptions(steps, progressbar.OptionSetWriter(w), progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true), progressbar.OptionSetElapsedTime(true),
			progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionSetWidth(24),
			progressbar.OptionSetItsString("steps"), progressbar.OptionSetDescription("training"))
	}
	return r
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (r *reporter) progress(p train.Progress) {
	if r.bar != nil {
		r.bar.Describe(fmt.Sprintf("loss %.3f acc %.3f %4.0f img/s", p.Loss, p.TrainAcc, p.ImagesPerSec))
		if p.Eval != nil && p.Step < p.Steps {
			_, _ = progressbar.Bprintln(r.bar, evalLine(p))
		}
		_ = r.bar.Set(p.Step)
		if p.Eval != nil && p.Step == p.Steps {
			r.finish()
			fmt.Fprintln(r.w, evalLine(p))
		}
		return
	}
	if p.Eval != nil {
		fmt.Fprintln(r.w, evalLine(p))
	}
}

func evalLine(p train.Progress) string {
	return fmt.Sprintf("step %d/%d (epoch %.2f): loss %.4f, train acc %.3f, lr %.3g | held-out clean %.4f, Step-LL %.4f | %.0f img/s, %s",
		p.Step, p.Steps, p.Epoch, p.Loss, p.TrainAcc, p.LR, p.Eval.CleanAcc, p.Eval.StepLLAcc, p.ImagesPerSec, p.Elapsed.Round(time.Second))
}

// finish completes the bar (once) and ends its line.
func (r *reporter) finish() {
	if r.bar != nil && !r.done {
		_ = r.bar.Finish()
		fmt.Fprintln(r.w)
		r.done = true
	}
}
