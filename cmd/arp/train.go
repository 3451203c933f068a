package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/arp-robustness/arp/attack"
	"github.com/arp-robustness/arp/attention"
	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/defense"
	"github.com/arp-robustness/arp/job"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/rundir"
	"github.com/arp-robustness/arp/train"
	"github.com/spf13/cobra"
)

func init() { register(newTrainCmd) }

// trainFlags are the options of arp train; most go straight into the
// objective's options and the training configuration.
type trainFlags struct {
	model, defense, data, evalData, out string
	evalN, limit, epochs, steps         int
	holdout                             int
	holdoutSeed                         uint64
	resume, force, quiet                bool
	attack                              string
	eps, pgdStep, maskFill              float64
	pgdSteps                            int
	obj                                 defense.Options
	cfg                                 train.Config
}

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
	fl.IntVar(&f.steps, "steps", 0, "number of training steps (mini-batches; default: --epochs passes over the data)")
	fl.IntVar(&f.epochs, "epochs", 0, "number of epochs, if --steps is not given (default 1)")
	fl.IntVar(&f.cfg.BatchSize, "batch", 50, "batch size")
	fl.Uint64Var(&f.cfg.Seed, "seed", 1, "seed of all randomness")
	fl.BoolVar(&f.cfg.Flip, "flip", false, "random horizontal flips (off for digits)")
	fl.StringVar(&f.cfg.Optimizer, "optimizer", "adam", "adam or sgd")
	fl.Float64Var(&f.cfg.LR, "lr", 1e-4, "base learning rate (the paper's 1e-4; 1e-3 for short runs)")
	fl.Float64Var(&f.cfg.Momentum, "momentum", 0.9, "SGD momentum")
	fl.StringVar(&f.cfg.Schedule.Kind, "lr-schedule", "constant", "learning-rate schedule: "+strings.Join(train.ScheduleKinds(), ", "))
	fl.IntVar(&f.cfg.Schedule.Warmup, "warmup", 0, "linear learning-rate warm-up over this many steps")
	fl.IntVar(&f.cfg.Schedule.StepEvery, "lr-step", 0, "step schedule: multiply the rate by --lr-gamma every this many steps")
	fl.Float64Var(&f.cfg.Schedule.Gamma, "lr-gamma", 0.1, "step schedule: decay factor")
	fl.Float64Var(&f.cfg.Schedule.MinLR, "lr-min", 0, "cosine schedule: final learning rate")
	fl.StringVar(&f.attack, "attack", "step-ll", "attack making the training examples of adv/arp/two-step/arp-iou: step-ll, fgsm, r-step-ll, pgd")
	fl.Float64Var(&f.eps, "eps", defense.DefaultEps, "attack budget (L-inf, [0,1] pixel scale; the paper's 0.15 on [-1,1])")
	fl.IntVar(&f.pgdSteps, "pgd-steps", 10, "pgd and trades: attack steps")
	fl.Float64Var(&f.pgdStep, "pgd-step", 0, "pgd and trades: step size (0: 2.5*eps/steps for pgd, eps/4 for trades)")
	fl.Float64Var(&f.obj.A, "a", 8, "arp: weight of L_c (clean + adversarial cross-entropy)")
	fl.Float64Var(&f.obj.B, "b", 4, "arp: weight of L_r (attention rectification)")
	fl.Float64Var(&f.obj.C, "c", 1, "arp: weight of L_p (attention preservation)")
	fl.StringVar(&f.obj.Map, "map-variant", "gradcam-arp", "arp: attention map, "+strings.Join(defense.MapVariants(), " or "))
	fl.BoolVar(&f.obj.BatchWide, "batch-norm-grad", false, "arp: normalise the Grad-CAM gradients over the whole batch (the original code) instead of per image")
	fl.BoolVar(&f.obj.FirstOrder, "first-order", false, "arp: treat the Grad-CAM channel weights as constants (no double backpropagation)")
	fl.StringVar(&f.obj.Layer, "layer", "", "arp: attention layer (default: the model's, e.g. pool2)")
	fl.Float64Var(&f.maskFill, "mask-fill", 0.5, "arp: pixel value replacing the attended region in L_r (0.5 = the paper's x*(1-B) on [-1,1])")
	fl.Float64Var(&f.obj.IoUThreshold, "iou-threshold", 0.2, "arp-iou: further steps for images whose attention IoU is above this")
	fl.IntVar(&f.obj.ExtraSteps, "extra-steps", 4, "arp-iou: at most this many further Step-LL steps")
	fl.BoolVar(&f.obj.Project, "project", false, "two-step, arp-iou: keep further Step-LL steps inside the eps-ball")
	fl.Float64Var(&f.obj.Beta, "beta", 6, "trades: weight of the KL term")
	fl.StringVar(&f.evalData, "eval-data", "", "held-out data (default: the dataset's test split)")
	fl.IntVar(&f.evalN, "eval-n", 1000, "number of held-out images evaluated (0: no evaluation)")
	fl.IntVar(&f.cfg.EvalEvery, "eval-every", 500, "evaluate every this many steps (and at the end; 0: only at the end)")
	fl.Float64Var(&f.cfg.EvalEps, "eval-eps", defense.DefaultEps, "budget of the evaluation's Step-LL attack")
	fl.IntVar(&f.cfg.LogEvery, "log-every", 10, "write a metrics line every this many steps")
	fl.IntVar(&f.cfg.CheckpointEvery, "checkpoint-every", 500, "write a checkpoint every this many steps (0: only at the end and on Ctrl-C)")
	fl.BoolVar(&f.quiet, "quiet", false, "no progress bar; print a line per evaluation instead")
	return cmd
}

func runTrain(cmd *cobra.Command, g *globalOptions, f *trainFlags) error {
	fl := cmd.Flags()
	given := givenFlags(fl)
	if f.out == "" {
		return fmt.Errorf("--out DIR is required")
	}
	if f.resume && f.force {
		return fmt.Errorf("--resume and --force exclude each other")
	}
	if err := job.CheckOutputs(job.Output{Flag: "out", Path: f.out, Dir: true}); err != nil {
		return err
	}
	// The run directory is ours until the process ends: a second training,
	// --resume or --force on it is refused, saying who holds it.
	if _, err := os.Stat(f.out); f.resume && err != nil {
		_, err = train.ReadRunCheckpoint(f.out) // says there is no run to resume
		return err
	}
	lock, err := rundir.LockDir(f.out)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	existing, err := resumeFlags(fl, f.out, f.resume)
	if err != nil {
		return err
	}
	if f.model == "" {
		return fmt.Errorf("--model ARCH is required (one of %s)", strings.Join(nn.ArchNames(), ", "))
	}
	if f.data == "" {
		return fmt.Errorf("--data NAME[:split] is required")
	}
	if _, ok := nn.Archs()[f.model]; !ok {
		return fmt.Errorf("unknown model %q; known: %s", f.model, strings.Join(nn.ArchNames(), ", "))
	}
	if existing != nil && existing.Record.Arch != f.model {
		return fmt.Errorf("%s/%s is a checkpoint of %s, not %s", f.out, rundir.Checkpoint, existing.Record.Arch, f.model)
	}
	if given["steps"] && given["epochs"] {
		return fmt.Errorf("give --steps or --epochs, not both")
	}
	if err := checkTrainFlags(f, given); err != nil {
		return err
	}
	o := f.obj
	o.Attack = attack.Spec{Name: f.attack, Config: attack.Config{Eps: f.eps, Steps: f.pgdSteps, Alpha: f.pgdStep}}
	o.MaskFill = &f.maskFill
	obj, err := defense.New(f.defense, o)
	if err != nil {
		return err
	}
	if !f.resume && !f.force {
		if found := rundir.HoldsRun(f.out); len(found) > 0 {
			return fmt.Errorf("%s already holds a run (%s); pass --resume to continue it or --force to start over", f.out, strings.Join(found, ", "))
		}
	}

	// data
	trainSet, eval, evalName, holdoutSpec, err := openTrainData(f, data.Options{DataDir: g.dataDir})
	if err != nil {
		return err
	}
	batch := f.cfg.BatchSize
	perEpoch := trainSet.Len() / batch
	if perEpoch == 0 {
		return fmt.Errorf("--batch %d is larger than the %d training images", batch, trainSet.Len())
	}
	steps, err := trainSteps(f, perEpoch)
	if err != nil {
		return err
	}

	// model
	spec, err := nn.DefaultSpec(f.model, trainSet.C, trainSet.H, trainSet.W, len(trainSet.Classes))
	if err != nil {
		return err
	}
	m, err := nn.Build(spec, f.cfg.Seed)
	if err != nil {
		return err
	}
	if f.obj.Layer != "" {
		if err := attention.CheckMapLayer(m, f.obj.Layer); err != nil {
			return fmt.Errorf("--layer %s: %v", f.obj.Layer, err)
		}
	}
	cfg := f.cfg
	cfg.Objective, cfg.Steps, cfg.Dir, cfg.Resume, cfg.Command = obj, steps, f.out, f.resume, recordFlags(fl)
	cfg.Replace, cfg.Lock = f.force, lock
	cfg.Data = train.DataRecord(f.data, f.limit, evalName, f.evalN, f.holdout, f.holdoutSeed, holdoutSpec)
	cfg.Info = nn.Info{ClassNames: trainSet.Classes, Dataset: f.data, Seed: cfg.Seed, ArpVersion: arpVersion(),
		GoVersion: runtime.Version(), Created: time.Now().UTC().Format(time.RFC3339)}
	dropUnused(&cfg)

	// Ctrl-C (or SIGTERM) cancels the context: Run finishes the step,
	// saves a checkpoint and returns; a second Ctrl-C kills the process.
	stderr := cmd.ErrOrStderr()
	ctx, stop := interruptOnce(cmd.Context(), stderr, "finishing the current step and saving a checkpoint")
	defer stop()
	rep := newReporter(stderr, f.quiet)
	cfg.Progress = rep.progress
	fmt.Fprintf(stderr, "training %s (%d parameters) with %s on %d images of %s, %d steps of %d (%.3g epochs)",
		f.model, m.NumParams(), obj.Name(), trainSet.Len(), f.data, steps, batch, float64(steps)/float64(perEpoch))
	if eval != nil {
		fmt.Fprintf(stderr, "; evaluating on %d images of %s", eval.Len(), evalName)
	}
	fmt.Fprintln(stderr)
	sum, err := train.Run(ctx, m, trainSet, eval, cfg)
	rep.finish()
	if sum != nil {
		for _, n := range sum.Notes {
			fmt.Fprintf(stderr, "note: %s\n", n)
		}
	}
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
