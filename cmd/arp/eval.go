package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/arp-robustness/arp/attack"
	"github.com/arp-robustness/arp/checkpoint"
	"github.com/arp-robustness/arp/eval"
	"github.com/arp-robustness/arp/job"
	"github.com/spf13/cobra"
)

func init() { register(newEvalCmd) }

func newEvalCmd(g *globalOptions) *cobra.Command {
	f := &job.Eval{}
	var quiet bool
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
			return runEval(cmd, g, f, quiet)
		},
	}
	f.Flags(cmd.Flags())
	cmd.Flags().BoolVar(&quiet, "quiet", false, "no progress bar")
	return cmd
}

func runEval(cmd *cobra.Command, g *globalOptions, f *job.Eval, quiet bool) error {
	if err := f.Check(); err != nil {
		return err
	}
	sh, _ := f.ShardSpec()
	var err error
	if f.DataDir, err = g.DataDir(); err != nil {
		return err
	}
	in, err := f.Open()
	if err != nil {
		return err
	}
	opt := in.Options
	var bar *progress
	if !quiet {
		bar = newProgress(cmd.ErrOrStderr())
		opt.Progress = func(p eval.Progress) {
			desc := fmt.Sprintf("%s %s %g", p.Attack, p.Norm, p.Eps)
			switch p.Phase {
			case "main":
			case "clean":
				desc = "clean images"
			default:
				desc = p.Phase + " check: " + desc
			}
			bar.Report("eval", "units", int64(p.Done), int64(p.Total), desc)
		}
	}
	ctx, stop := onInterrupt(cmdContext(cmd))
	defer stop()
	if sh.Whole() {
		// a quick measurement, so that an evaluation of hours says so
		est, err := eval.EstimateFrom(ctx, in.Model.Classifier, in.Data, opt)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "estimate: %s\n", est)
	}
	if !sh.Whole() {
		err := eval.RunShardFrom(ctx, in.Model.Classifier, in.Data, opt, sh)
		bar.Done()
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("interrupted; finished units are kept in %s: run the same command to resume", f.State)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "shard %s done: records in %s; when every shard is done, combine them with arp merge --json eval.json FILES\n", sh, f.State)
		return nil
	}
	rep, err := eval.RunFrom(ctx, in.Model.Classifier, in.Data, opt)
	bar.Done()
	if err != nil {
		if errors.Is(err, context.Canceled) {
			if f.State != "" {
				return fmt.Errorf("interrupted; finished units are kept in %s: run the same command to resume", f.State)
			}
			return fmt.Errorf("interrupted (use --state FILE to make evaluations resumable)")
		}
		return err
	}
	out := cmd.OutOrStdout()
	if err := rep.Text(out); err != nil {
		return err
	}
	return writeEvalOutputs(out, rep, f.JSON, f.Markdown, f.Plot)
}

// writeEvalOutputs writes the --json, --markdown and --plot files.
func writeEvalOutputs(out io.Writer, rep *eval.Report, jsonOut, mdOut, plotOut string) error {
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
	if err := write(jsonOut, rep.JSON); err != nil {
		return err
	}
	if err := write(mdOut, rep.Markdown); err != nil {
		return err
	}
	if plotOut != "" {
		if err := rep.WritePlot(plotOut); err != nil {
			return err
		}
		fmt.Fprintf(out, "wrote %s\n", plotOut)
	}
	return nil
}
