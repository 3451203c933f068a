package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/arp-robustness/arp/analysis"
	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/rundir"
	"github.com/arp-robustness/arp/shard"
	"github.com/spf13/cobra"
)

func init() { register(newAnalyzeCmd) }

type analyzeFlags struct {
	model, data, out     string
	method, layer        string
	camScale             string
	iterSchedule         string
	attacks              []string
	eps, stepSize        float64
	limit, topk, batch   int
	steps, gallery       int
	limeSamples, limeSeg int
	seed                 uint64
	restart, quiet       bool
	shard                string
}

func newAnalyzeCmd(g *globalOptions) *cobra.Command {
	f := &analyzeFlags{}
	cmd := &cobra.Command{
		Use:   "analyze --model RUN [--data NAME] [--attacks LIST] [--out DIR]",
		Short: "Study how attacks change attention: per-image records, statistics and verdicts",
		Long: `Run the attention-under-attack study (docs/analysis.md) on every correctly
classified test image: each attack's outcome and confidences, the clean and
adversarial attention maps, how completely the clean attention covers the object
(coverage and IoU against the ground-truth mask), how much the attack moves and
scatters the attention (clean/adversarial IoU with mean-threshold and top-k
masks, connected pieces, entropy, centroid shift, rank correlation) and, for the
iterative attacks iter-ll, bim and gated-step-ll, the IoU and success after each
step.

Results stream to DIR/records.jsonl, one line per image, a batch at a time.
An interrupted analysis (Ctrl-C, or a crash) resumes where it stopped when the
same command runs again. At the end the statistics (attacked vs resisted images:
means, medians, bootstrap CIs, Mann-Whitney U, success by completeness with
Wilson CIs, a logistic fit, per-step curves) and a plain-language verdict per
observation go to DIR/summary.json and DIR/summary.md.

--shard i/N analyses only shard i (counted from 0) of N, a contiguous range of
whole batches, into --out, for job arrays (Slurm, Kubernetes Indexed Jobs); arp
merge --out DIR combines the shards' directories into the analysis one process
writes, records bit for bit (docs/scale.md).

Budgets are L-inf on the [0,1] pixel scale (the paper's eps 0.15 on [-1,1] is
0.075). Attacks are ` + strings.Join(analysis.Attacks(), ", ") + `, with options
as name:key=value (see arp eval --help).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmdContext(cmd), os.Interrupt, syscall.SIGTERM)
			defer stop()
			var progress io.Writer = cmd.ErrOrStderr()
			if f.quiet {
				progress = nil
			}
			s, dir, err := runAnalyze(ctx, g, f, progress)
			if err != nil {
				return err
			}
			if s == nil {
				fmt.Fprintf(cmd.OutOrStdout(), "shard %s done: records in %s; when every shard is done, combine them with arp merge --out DIR SHARD_DIR...\n", f.shard, dir)
				return nil
			}
			printVerdicts(cmd.OutOrStdout(), s, dir)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.model, "model", "", "model: an arp run directory or a .onnx file (required)")
	fl.StringVar(&f.data, "data", "", "dataset name or path (default: the test split of the model's training dataset)")
	fl.StringSliceVar(&f.attacks, "attacks", analysis.DefaultAttacks, "attacks to study")
	fl.Float64Var(&f.eps, "eps", analysis.DefaultEps, "L-inf budget on the [0,1] pixel scale")
	fl.StringVar(&f.method, "method", "gradcam-arp", "attention method: "+strings.Join(analysis.Methods(), ", "))
	fl.StringVar(&f.camScale, "cam-scale", "max", "gradcam, gradcam++: divide the ReLU map by its maximum (max) or subtract its minimum first as pytorch-grad-cam does (min-max)")
	fl.StringVar(&f.iterSchedule, "iter-schedule", analysis.IterFine, "Iter-LL's schedule: fine (--steps projected steps of --step-size, default 10 of eps/4) or paper (the ARP paper's 2 unprojected steps of eps)")
	fl.StringVar(&f.layer, "layer", "", "attention layer (default: the model's)")
	fl.IntVar(&f.topk, "topk", 0, "cells of the top-k mask (default: 7/64 of the map, the paper's 7 of 8x8; LIME: 10 superpixels)")
	fl.IntVar(&f.limit, "limit", 0, "analyse only the first N test images (default: all)")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the attacks, LIME and the bootstrap")
	fl.IntVar(&f.batch, "batch", 100, "images per batch (the unit of resumption)")
	fl.IntVar(&f.steps, "steps", 10, "steps of the iterative attacks when their spec does not say")
	fl.Float64Var(&f.stepSize, "step-size", 0, "step size of the iterative attacks on the [0,1] scale (default eps/4)")
	fl.IntVar(&f.gallery, "gallery", 8, "example images kept per attack and outcome for the report (0: none)")
	fl.IntVar(&f.limeSamples, "lime-samples", 500, "LIME: perturbed samples per explanation")
	fl.IntVar(&f.limeSeg, "lime-segments", 36, "LIME: SLIC superpixels per image")
	fl.StringVar(&f.out, "out", "", "output directory (default RUN/analysis, or RUN/analysis-METHOD; for NAME.onnx NAME-analysis)")
	fl.BoolVar(&f.restart, "restart", false, "discard the analysis files already in the output directory and start over")
	fl.BoolVar(&f.quiet, "quiet", false, "no progress bar")
	fl.StringVar(&f.shard, "shard", "", "analyse only shard i/N (from 0) of the batches into --out (required); arp merge combines the shards")
	return cmd
}

// cmdContext returns the command's context, or a background one.
func cmdContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

// runAnalyze runs (or resumes) an analysis and writes its summary. progress
// receives the progress bar (nil: none).
//
// With --shard it analyses that shard's batches and returns a nil summary.
func runAnalyze(ctx context.Context, g *globalOptions, f *analyzeFlags, progress io.Writer) (*analysis.Summary, string, error) {
	sh, err := shard.Parse(f.shard)
	if err != nil {
		return nil, "", fmt.Errorf("--shard: %v", err)
	}
	if !sh.Whole() && f.out == "" {
		return nil, "", fmt.Errorf("--shard needs --out DIR, a directory of its own for the shard's records")
	}
	lm, err := openModel(f.model)
	if err != nil {
		return nil, "", err
	}
	spec := f.data
	if spec == "" {
		if lm.Dataset == "" {
			return nil, "", fmt.Errorf("--data is required: model %s does not record its dataset", f.model)
		}
		spec, _ = data.SplitSpec(lm.Dataset)
	}
	d, dataName, _, err := evalData(g, spec, 0)
	if err != nil {
		return nil, "", err
	}
	in := lm.InputShape()
	if d.C != in[0] || d.H != in[1] || d.W != in[2] {
		return nil, "", fmt.Errorf("dataset %s has %dx%dx%d images (channels x height x width) but model %s takes %dx%dx%d", dataName, d.C, d.H, d.W, f.model, in[0], in[1], in[2])
	}
	if f.limit < 0 {
		return nil, "", fmt.Errorf("--limit %d must be >= 0", f.limit)
	}
	if f.gallery == 0 {
		f.gallery = -1
	}
	if f.camScale == "max" {
		f.camScale = "" // the default, recorded as none
	}
	cfg := analysis.Config{Attacks: f.attacks, Eps: f.eps, Method: f.method, CAMScale: f.camScale, IterSchedule: f.iterSchedule, Layer: f.layer, TopK: f.topk, Limit: f.limit,
		Seed: f.seed, BatchSize: f.batch, Steps: f.steps, StepSize: f.stepSize, Gallery: f.gallery,
		LIMESamples: f.limeSamples, LIMESegments: f.limeSeg}
	if cfg.Layer == "" && cfg.Method != "lime" {
		cfg.Layer = lm.Meta.AttentionLayer
	}
	if err := cfg.WithDefaults().Validate(); err != nil {
		return nil, "", err
	}
	out := f.out
	if out == "" {
		out = rundir.AnalysisDir(f.model, f.method)
		if lm.Format == "onnx" {
			out = strings.TrimSuffix(f.model, filepath.Ext(f.model)) + "-" + filepath.Base(out)
		}
	}
	if f.restart {
		if err := rundir.Remove(out, rundir.AnalysisFiles()...); err != nil {
			return nil, "", err
		}
	}
	ref := analysis.ModelRef{Dir: f.model, Info: lm.Meta.Info}
	if ref.WeightsSHA256, err = lm.WeightsSHA256(); err != nil {
		return nil, "", err
	}
	st := &analysis.Study{Model: lm.Classifier, ModelRef: ref, Data: d, DataSpec: dataName, Config: cfg, Dir: out, Version: arpVersion()}
	bar := &bars{w: progress}
	if progress != nil {
		start, desc := -1, ""
		st.Progress = func(done, total int) {
			if start < 0 {
				// Resumed runs count only this run's images, so that the
				// rate and the ETA are right.
				start, desc = done, "analyze "+filepath.Base(filepath.Clean(f.model))
				if done > 0 {
					desc += fmt.Sprintf(" (resumed, %d of %d done before)", done, total)
				}
			}
			bar.Update(desc, "images", done-start, total-start)
		}
	}
	st.Shard = sh
	_, err = st.Run(ctx)
	bar.Done()
	if err != nil {
		return nil, "", err
	}
	if !sh.Whole() {
		return nil, out, nil
	}
	s, err := analysis.Summarize(out)
	if err != nil {
		return nil, "", err
	}
	if err := s.WriteFiles(out); err != nil {
		return nil, "", err
	}
	return s, out, nil
}

// printVerdicts prints the verdicts and where the files are.
func printVerdicts(w io.Writer, s *analysis.Summary, dir string) {
	fmt.Fprintf(w, "%s\n", s.Describe())
	for _, a := range s.Attacks {
		fmt.Fprintf(w, "  %-16s success %d/%d (%.1f%%)\n", a.Key, a.Succeeded, a.N, 100*a.SuccessRate.Est.F())
	}
	for _, o := range s.Overall {
		fmt.Fprintf(w, "observation %-2s %s: %s\n", o.Observation, o.Status, o.Text)
	}
	fmt.Fprintf(w, "wrote %s, %s, %s\n", filepath.Join(dir, rundir.AnalysisRecords), filepath.Join(dir, rundir.AnalysisJSON), filepath.Join(dir, rundir.AnalysisMD))
}
