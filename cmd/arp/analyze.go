package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/arp-robustness/arp/analysis"
	"github.com/arp-robustness/arp/job"
	"github.com/arp-robustness/arp/limits"
	"github.com/arp-robustness/arp/rundir"
	"github.com/spf13/cobra"
)

func init() { register(newAnalyzeCmd) }

func newAnalyzeCmd(g *globalOptions) *cobra.Command {
	f := &job.Analyze{}
	var restart, quiet bool
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
			ctx, stop := onInterrupt(cmdContext(cmd))
			defer stop()
			var show io.Writer = cmd.ErrOrStderr()
			if quiet {
				show = nil
			}
			s, dir, err := runAnalyze(ctx, g, f, restart, show)
			if err != nil {
				return err
			}
			if s == nil {
				fmt.Fprintf(cmd.OutOrStdout(), "shard %s done: records in %s; when every shard is done, combine them with arp merge --out DIR SHARD_DIR...\n", f.Shard, dir)
				return nil
			}
			printVerdicts(cmd.OutOrStdout(), s, dir)
			return nil
		},
	}
	f.Flags(cmd.Flags())
	cmd.Flags().BoolVar(&restart, "restart", false, "discard the analysis files already in the output directory and start over")
	cmd.Flags().BoolVar(&quiet, "quiet", false, "no progress bar")
	return cmd
}

// cmdContext returns the command's context, or a background one.
func cmdContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

// runAnalyze runs (or resumes) an analysis and writes its summary. show
// receives its progress (nil: none).
//
// With --shard it analyses that shard's batches and returns a nil summary.
func runAnalyze(ctx context.Context, g *globalOptions, f *job.Analyze, restart bool, show io.Writer) (*analysis.Summary, string, error) {
	sh, err := f.ShardSpec()
	if err != nil {
		return nil, "", err
	}
	if f.DataDir, err = g.DataDir(); err != nil {
		return nil, "", err
	}
	st, err := f.Open()
	if err != nil {
		return nil, "", err
	}
	out := st.Dir
	// The analysis directory is ours until the summary is written.
	lock, err := rundir.LockDir(out)
	if err != nil {
		return nil, "", err
	}
	defer lock.Unlock()
	st.Lock = lock
	if restart {
		if err := rundir.Remove(out, rundir.AnalysisFiles()...); err != nil {
			return nil, "", err
		}
	}
	if show != nil {
		// a quick measurement on the first images, so that an analysis of
		// hours says so
		total, per, err := st.Estimate(ctx, 4)
		if err != nil {
			return nil, "", err
		}
		fmt.Fprintf(show, "estimate: at most about %s for the whole analysis (measured on its first images, in a batch of 4, slower per image than the full batches: %s per image; images already recorded are skipped)\n",
			limits.Duration(total), per.Round(time.Millisecond))
	}
	bar := newProgress(show)
	if show != nil {
		task := "analyze " + filepath.Base(filepath.Clean(f.Model))
		started := false
		st.Progress = func(done, total int) {
			if !started { // a resumed analysis starts where it stopped
				bar.Start(task, "images", int64(done), int64(total))
				started = true
			}
			bar.Update(task, "images", done, total)
		}
	}
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
	s.Verdicts(w)
	fmt.Fprintf(w, "wrote %s, %s, %s\n", filepath.Join(dir, rundir.AnalysisRecords), filepath.Join(dir, rundir.AnalysisJSON), filepath.Join(dir, rundir.AnalysisMD))
}
