package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/arp-robustness/arp/attack"
	"github.com/arp-robustness/arp/checkpoint"
	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/defense"
	"github.com/arp-robustness/arp/eval"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/shard"
	"github.com/arp-robustness/arp/tensor"
	"github.com/arp-robustness/arp/train"
	"github.com/spf13/cobra"
)

func init() { register(newEvalCmd) }

// Defaults of arp eval.
const (
	evalDefaultAttacks = "fgsm,step-ll,r-step-ll,iter-ll,pgd:restarts=5,square"
	evalDefaultBatch   = 100
	evalDefaultChecks  = 100
)

type evalFlags struct {
	model, data        string
	attacks            []string
	eps, epsL2         []float64
	limit              int
	jsonOut, mdOut     string
	plotOut, state     string
	shard              string
	seed               uint64
	batch, checkImages int
	standalone, quiet  bool
}

func newEvalCmd(g *globalOptions) *cobra.Command {
	f := &evalFlags{}
	cmd := &cobra.Command{
		Use:   "eval --model RUN --data NAME --attacks LIST --eps LIST",
		Short: "Measure adversarial robustness with an ensemble of attacks and sanity checks",
		Long: `Evaluate a model's robustness as docs/evaluation.md asks: clean accuracy, every
attack at every budget, the per-image worst case over all attacks, mean and max
perturbation norms, every attack's settings, the threat model, and the sanity
checks (each PASS, WARN or SKIP).

Budgets are on the [0,1] pixel scale (--eps for L-inf attacks, --eps-l2 for the
L2 attacks pgd-l2 and cw-l2); the report also gives them on the model's input
scale. The whole test split is used unless --limit N selects the first N images
(the report says so). Attacks (--attacks) are ` + strings.Join(attack.Names(), ", ") + `,
with options as name:key=value:key=value, e.g. pgd:steps=100:restarts=5.

By default attacks run in cascade: each attack only attacks the images that every
earlier attack failed on (put cheap attacks first), and per-attack accuracy is
cumulative. --standalone runs every attack on every correctly classified image so
that each attack's accuracy is its own. --state FILE makes a long evaluation
resumable: finished units are kept there and skipped when the same command runs
again (also after Ctrl-C).

--shard i/N runs shard i (counted from 0) of N, a contiguous range of whole
batches, into the record file --state, for job arrays (Slurm, Kubernetes
Indexed Jobs); arp merge combines the shards' record files into the report one
process gives, bit for bit (docs/scale.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEval(cmd, g, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.model, "model", "", "model: an arp run directory or a .onnx file (required)")
	fl.StringVar(&f.data, "data", "", "dataset name or path; a name without a :split suffix uses its test split (required)")
	fl.StringSliceVar(&f.attacks, "attacks", strings.Split(evalDefaultAttacks, ","), "attacks to run, in order")
	fl.Float64SliceVar(&f.eps, "eps", nil, "L-inf budgets on the [0,1] pixel scale, e.g. 0.1,0.2,0.3")
	fl.Float64SliceVar(&f.epsL2, "eps-l2", nil, "L2 budgets on the [0,1] pixel scale for pgd-l2 and cw-l2")
	fl.IntVar(&f.limit, "limit", 0, "evaluate only the first N images (stated in the output; default: all)")
	fl.StringVar(&f.jsonOut, "json", "", "write the report as JSON to this file")
	fl.StringVar(&f.mdOut, "markdown", "", "write the report as Markdown to this file")
	fl.StringVar(&f.plotOut, "plot", "", "write the accuracy-vs-eps curves to this PNG file")
	fl.StringVar(&f.state, "state", "", "resumable record file (JSON lines); with --shard the shard's output")
	fl.StringVar(&f.shard, "shard", "", "run only shard i/N (from 0) of the batches; needs --state")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of every random choice of the attacks")
	fl.IntVar(&f.batch, "batch", evalDefaultBatch, "images per batch")
	fl.IntVar(&f.checkImages, "check-images", evalDefaultChecks, "images in the sanity-check subset (unbounded attack; attack comparisons in cascade mode); 0: skip those checks")
	fl.BoolVar(&f.standalone, "standalone", false, "run every attack on every correctly classified image")
	fl.BoolVar(&f.quiet, "quiet", false, "no progress bar")
	return cmd
}

// evalData opens the dataset to evaluate on: the test split unless the
// name says otherwise, and the first limit images.
func evalData(g *globalOptions, spec string, limit int) (*data.Dataset, string, int, error) {
	if spec == "" {
		return nil, "", 0, fmt.Errorf("--data is required (a dataset name such as mnist or fashion-mnist, or a path)")
	}
	if limit < 0 {
		return nil, "", 0, fmt.Errorf("--limit %d must be >= 0", limit)
	}
	dir, err := g.DataDir()
	if err != nil {
		return nil, "", 0, err
	}
	opt := data.Options{DataDir: dir}
	opt.Folder.Limit = limit // image folders (ImageNet) decode only what is used
	d, name, err := data.OpenTest(spec, opt)
	if err != nil {
		return nil, "", 0, err
	}
	total := d.Len()
	if limit > 0 && limit < total {
		d, _ = d.Split(limit)
	}
	return d, name, total, nil
}

// attentionTrained reports whether a model was trained with attention
// losses (ARP and its variants), from its training record.
func attentionTrained(info *nn.Info) bool {
	t, err := train.TrainingOf(info)
	return err == nil && t != nil && defense.UsesAttention(t.Settings.Objective)
}

func runEval(cmd *cobra.Command, g *globalOptions, f *evalFlags) error {
	attacks, err := eval.ParseAttacks(f.attacks)
	if err != nil {
		return err
	}
	if f.batch < 1 {
		return fmt.Errorf("--batch %d must be >= 1", f.batch)
	}
	if f.checkImages < 0 {
		return fmt.Errorf("--check-images %d must be >= 0", f.checkImages)
	}
	sh, err := shard.Parse(f.shard)
	if err != nil {
		return fmt.Errorf("--shard: %v", err)
	}
	if f.shard != "" {
		if f.state == "" {
			return fmt.Errorf("--shard needs --state FILE, the record file the shard writes its results to")
		}
		if f.jsonOut != "" || f.mdOut != "" || f.plotOut != "" {
			return fmt.Errorf("a shard has no report of its own: drop --json, --markdown and --plot, and merge the shards' record files with arp merge")
		}
	}
	for _, p := range []struct{ flag, path, ext string }{{"json", f.jsonOut, ""}, {"markdown", f.mdOut, ""}, {"plot", f.plotOut, ".png"}} {
		if p.path != "" && p.ext != "" && !strings.EqualFold(filepath.Ext(p.path), p.ext) {
			return fmt.Errorf("--%s %s: want a %s file", p.flag, p.path, p.ext)
		}
	}
	lm, err := openModel(f.model)
	if err != nil {
		return err
	}
	d, dataName, total, err := evalData(g, f.data, f.limit)
	if err != nil {
		return err
	}
	in := lm.InputShape()
	if d.C != in[0] || d.H != in[1] || d.W != in[2] {
		return fmt.Errorf("dataset %s has %dx%dx%d images (channels x height x width) but model %s takes %dx%dx%d", dataName, d.C, d.H, d.W, f.model, in[0], in[1], in[2])
	}
	if n := len(d.Classes); n != 0 && n != lm.NumClasses() {
		return fmt.Errorf("dataset %s has %d classes but model %s has %d", dataName, n, f.model, lm.NumClasses())
	}
	checks := f.checkImages
	if checks == 0 {
		checks = -1
	}
	limit := 0
	if d.Len() < total {
		limit = d.Len()
	}
	modelID, err := lm.WeightsSHA256()
	if err != nil {
		return err
	}
	opt := eval.Options{Attacks: attacks, Eps: f.eps, EpsL2: f.epsL2, Standalone: f.standalone, BatchSize: f.batch,
		Seed: f.seed, State: f.state, Model: f.model, ModelID: modelID, Data: dataName, DataImages: total, Limit: limit,
		CheckImages: checks, AttentionTrained: attentionTrained(lm.Meta.Info)}
	bar := &bars{}
	if !f.quiet {
		bar.w = cmd.ErrOrStderr()
		opt.Progress = func(p eval.Progress) {
			desc := fmt.Sprintf("%s %s %g", p.Attack, p.Norm, p.Eps)
			if p.Phase != "main" {
				desc = p.Phase + " check: " + desc
			}
			bar.Update("eval", "units", p.Done, p.Total)
			bar.Describe(desc)
		}
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
	defer stop()
	x := tensor.FromFloat32(d.Images, d.Len(), d.C, d.H, d.W)
	if !sh.Whole() {
		err := eval.RunShard(ctx, lm.Classifier, x, d.Labels, opt, sh)
		bar.Done()
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("interrupted; finished units are kept in %s: run the same command to resume", f.state)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "shard %s done: records in %s; when every shard is done, combine them with arp merge --json eval.json FILES\n", sh, f.state)
		return nil
	}
	rep, err := eval.Run(ctx, lm.Classifier, x, d.Labels, opt)
	bar.Done()
	if err != nil {
		if errors.Is(err, context.Canceled) {
			if f.state != "" {
				return fmt.Errorf("interrupted; finished units are kept in %s: run the same command to resume", f.state)
			}
			return fmt.Errorf("interrupted (use --state FILE to make evaluations resumable)")
		}
		return err
	}
	out := cmd.OutOrStdout()
	if err := rep.Text(out); err != nil {
		return err
	}
	return writeEvalOutputs(out, rep, f)
}

// writeEvalOutputs writes the --json, --markdown and --plot files.
func writeEvalOutputs(out io.Writer, rep *eval.Report, f *evalFlags) error {
	write := func(path string, render func(io.Writer) error) error {
		if path == "" {
			return nil
		}
		var b strings.Builder
		if err := render(&b); err != nil {
			return err
		}
		if err := checkpoint.AtomicWriteFile(path, []byte(b.String()), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(out, "wrote %s\n", path)
		return nil
	}
	if err := write(f.jsonOut, rep.JSON); err != nil {
		return err
	}
	if err := write(f.mdOut, rep.Markdown); err != nil {
		return err
	}
	if f.plotOut != "" {
		if err := rep.WritePlot(f.plotOut); err != nil {
			return err
		}
		fmt.Fprintf(out, "wrote %s\n", f.plotOut)
	}
	return nil
}
