package main

import (
	"fmt"
	"os"

	"github.com/arp-robustness/arp/analysis"
	"github.com/arp-robustness/arp/eval"
	"github.com/arp-robustness/arp/job"
	"github.com/arp-robustness/arp/rundir"
	"github.com/spf13/cobra"
)

func init() { register(newMergeCmd) }

func newMergeCmd(g *globalOptions) *cobra.Command {
	var jsonOut, mdOut, plotOut, outDir string
	cmd := &cobra.Command{
		Use:   "merge [--json F] [--markdown F] [--plot F.png] RECORD_FILE... | merge --out DIR SHARD_DIR...",
		Short: "Combine the shards of an evaluation or an analysis",
		Long: `Combine the shards of one evaluation or one analysis into the result one
process gives for the whole of it.

Evaluations: the record files of arp eval --shard i/N --state FILE (one per
shard) become the report: the same clean accuracy, per-attack and worst-case
accuracies, norms and sanity checks, bit for bit (times aside), printed and
written to --json, --markdown and --plot.

Analyses: the directories of arp analyze --shard i/N --out SHARD_DIR become the
analysis in --out DIR: analysis.json, records.jsonl (the same bytes one process
writes), summary.json and summary.md.

The shards must come from the same run, hold every batch exactly once between
them and be complete; otherwise the error names the file or directory, or the
missing images, and nothing is written, so a result already merged is never
replaced by a partial one. Files are written atomically.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dirs := 0
			for _, a := range args {
				if fi, err := os.Stat(a); err == nil && fi.IsDir() {
					dirs++
				}
			}
			switch {
			case dirs > 0 && dirs < len(args):
				return fmt.Errorf("give either the record files of an evaluation's shards or the directories of an analysis's shards, not both")
			case dirs > 0:
				if jsonOut != "" || mdOut != "" || plotOut != "" {
					return fmt.Errorf("--json, --markdown and --plot are for evaluations; an analysis merges into --out DIR")
				}
				if outDir == "" {
					return fmt.Errorf("--out DIR is required: the directory the merged analysis goes to")
				}
				if err := job.CheckOutputs(job.Output{Flag: "out", Path: outDir, Dir: true}); err != nil {
					return err
				}
				lock, err := rundir.LockDir(outDir)
				if err != nil {
					return err
				}
				defer lock.Unlock()
				if _, err := analysis.Merge(outDir, args); err != nil {
					return err
				}
				s, err := analysis.Summarize(outDir)
				if err != nil {
					return err
				}
				if err := s.WriteFiles(outDir); err != nil {
					return err
				}
				printVerdicts(cmd.OutOrStdout(), s, outDir)
				return nil
			}
			if outDir != "" {
				return fmt.Errorf("--out is for analyses (directories); an evaluation's report goes to --json, --markdown and --plot")
			}
			if err := job.CheckReportPaths(jsonOut, mdOut, plotOut); err != nil {
				return err
			}
			rep, err := eval.Merge(args)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if err := rep.Text(out); err != nil {
				return err
			}
			return writeEvalOutputs(out, rep, jsonOut, mdOut, plotOut)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&jsonOut, "json", "", "evaluations: write the report as JSON to this file")
	fl.StringVar(&mdOut, "markdown", "", "evaluations: write the report as Markdown to this file")
	fl.StringVar(&plotOut, "plot", "", "evaluations: write the accuracy-vs-eps curves to this PNG file")
	fl.StringVar(&outDir, "out", "", "analyses: the directory the merged analysis goes to")
	return cmd
}
