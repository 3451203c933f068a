package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/arp-robustness/arp/attack"
	"github.com/arp-robustness/arp/eval"
	"github.com/arp-robustness/arp/job"
	"github.com/arp-robustness/arp/limits"
	"github.com/arp-robustness/arp/rundir"
	"github.com/arp-robustness/arp/tensor"
	"github.com/spf13/cobra"
)

func init() { register(newTuneCmd) }

type tuneFlags struct {
	model, data     string
	eps             float64
	lambdas         []float64
	steps, restarts int
	limit, batch    int
	seed            uint64
	state           string
	jsonOut, mdOut  string
	quiet           bool
}

func newTuneCmd(g *globalOptions) *cobra.Command {
	f := &tuneFlags{}
	cmd := &cobra.Command{
		Use:   "tune --model RUN --data HELD_OUT --eps E [--lambdas LIST] [--steps N] [--restarts R]",
		Short: "Choose the adaptive attention-loss attack's weight on held-out images",
		Long: `Choose the weight lambda of the adaptive attention-loss attack
(CE + lambda * attention distance, through the Grad-CAM map) for one model, on
images the evaluation does not use: run PGD and the attack with every weight of
--lambdas stand-alone, all with the same --steps and --restarts at budget --eps,
on every correctly classified image of --data, and pick ` + eval.TuneRule + `.

Use held-out training images, e.g. --data mnist:train:heldout=5000:seed=1 (the
images arp train --holdout 5000 never trained on) with --limit 500, never the
test images the tuned attack is then evaluated on. The choice is printed with
the attack spec to put in arp eval --attacks; --json writes the whole outcome,
including the evaluation it was read from. --state FILE makes it resumable.`,
		Example: `  arp tune --model runs/mnist-arp-s1 --data mnist:train:heldout=5000:seed=1 --limit 500 --eps 0.3 --json runs/mnist-arp-s1/tune-eps0.3.json`,
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return runTune(cmd, g, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.model, "model", "", "model: an arp run directory or a .onnx file (required)")
	fl.StringVar(&f.data, "data", "", "held-out images, e.g. mnist:train:heldout=5000:seed=1 (required)")
	fl.Float64Var(&f.eps, "eps", 0, "L-inf budget on the [0,1] pixel scale (required)")
	fl.Float64SliceVar(&f.lambdas, "lambdas", eval.DefaultTuneLambdas(), "weights to try")
	fl.IntVar(&f.steps, "steps", eval.DefaultTuneSteps, "steps of every attack")
	fl.IntVar(&f.restarts, "restarts", eval.DefaultTuneRestarts, "random restarts of every attack")
	fl.IntVar(&f.limit, "limit", 0, "use only the first N images of --data (0: all)")
	fl.IntVar(&f.batch, "batch", job.EvalDefaultBatch, "images per batch")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the attacks' random starts")
	fl.StringVar(&f.state, "state", "", "resumable record file (JSON lines)")
	fl.StringVar(&f.jsonOut, "json", "", "write the outcome as JSON to this file")
	fl.StringVar(&f.mdOut, "markdown", "", "write the table as Markdown to this file")
	fl.BoolVar(&f.quiet, "quiet", false, "no progress bar")
	return cmd
}

// check validates every number before a file is opened, one flag per
// message.
func (f *tuneFlags) check() error {
	if err := limits.Float("--eps", f.eps, 0, 1, true, "an L-inf budget on the [0,1] pixel scale"); err != nil {
		return err
	}
	if len(f.lambdas) == 0 {
		return fmt.Errorf("--lambdas: give at least one weight")
	}
	for _, l := range f.lambdas {
		if err := limits.Float("--lambdas", l, 0, 1e12, false, "weights of the attention term"); err != nil {
			return err
		}
	}
	for _, c := range []struct {
		flag      string
		v, lo, hi int
		meaning   string
	}{
		{"steps", f.steps, 1, attack.MaxSteps, "steps of every attack"},
		{"restarts", f.restarts, 1, attack.MaxRestarts, "random restarts of every attack"},
		{"batch", f.batch, 1, job.MaxBatch, "images per batch"},
		{"limit", f.limit, 0, limits.MaxInt, "a number of images; 0: all"},
	} {
		if err := limits.Int("--"+c.flag, c.v, c.lo, c.hi, c.meaning); err != nil {
			return err
		}
	}
	if f.state != "" {
		if err := rundir.FileBusy(f.state); err != nil {
			return fmt.Errorf("record file %w", err)
		}
	}
	return job.CheckOutputs(job.Output{Flag: "state", Path: f.state}, job.Output{Flag: "json", Path: f.jsonOut}, job.Output{Flag: "markdown", Path: f.mdOut})
}

func runTune(cmd *cobra.Command, g *globalOptions, f *tuneFlags) error {
	if err := f.check(); err != nil {
		return err
	}
	lm, err := job.OpenModel(f.model)
	if err != nil {
		return err
	}
	dir, err := g.DataDir()
	if err != nil {
		return err
	}
	src, dataName, total, err := job.OpenData(f.data, dir, f.limit)
	if err != nil {
		return err
	}
	d, err := src.ReadAll() // arp tune holds its images in memory
	if err != nil {
		return err
	}
	if !strings.Contains(dataName, "heldout=") {
		fmt.Fprintf(cmd.ErrOrStderr(), "note: %s is not a held-out set (DATA:heldout=N:seed=S); a weight tuned on the images it is evaluated on overstates the attack\n", dataName)
	}
	limit := 0
	if d.Len() < total {
		limit = d.Len()
	}
	modelID, err := lm.WeightsSHA256()
	if err != nil {
		return err
	}
	opt := eval.TuneOptions{Lambdas: f.lambdas, Eps: f.eps, Steps: f.steps, Restarts: f.restarts,
		Options: eval.Options{BatchSize: f.batch, Seed: f.seed, State: f.state, Model: f.model, ModelID: modelID,
			Data: dataName, DataImages: total, Limit: limit}}
	var bar *progress
	if !f.quiet {
		bar = newProgress(cmd.ErrOrStderr())
		opt.Progress = func(p eval.Progress) {
			bar.Report("tune", "units", int64(p.Done), int64(p.Total), p.Attack)
		}
	}
	ctx, stop := onInterrupt(cmdContext(cmd))
	defer stop()
	x := tensor.FromFloat32(d.Images, d.Len(), d.C, d.H, d.W)
	// a quick measurement, so that a tuning of hours says so (as arp eval does)
	est, err := eval.EstimateTune(ctx, lm.Classifier, x, d.Labels, opt)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "estimate: %s\n", est)
	rep, err := eval.Tune(ctx, lm.Classifier, x, d.Labels, opt)
	bar.Done()
	if err != nil {
		if errors.Is(err, context.Canceled) && f.state != "" {
			return fmt.Errorf("interrupted; finished units are kept in %s: run the same command to resume", f.state)
		}
		return err
	}
	var md strings.Builder
	if err := rep.Markdown(&md); err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	fmt.Fprint(out, md.String())
	fmt.Fprintf(out, "\nin arp eval: --attacks ...,%s,...\n", rep.Spec)
	return writeMarkdownJSON(out, f.mdOut, []byte(md.String()), f.jsonOut, rep)
}
