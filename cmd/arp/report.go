package main

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/arp-robustness/arp/checkpoint"
	"github.com/arp-robustness/arp/report"
	"github.com/spf13/cobra"
)

func init() { register(newReportCmd) }

type reportFlags struct {
	out, title string
	examples   int
	allowMixed bool
}

func newReportCmd(g *globalOptions) *cobra.Command {
	f := &reportFlags{}
	cmd := &cobra.Command{
		Use:   "report RUN_OR_DIR... [--out report.html]",
		Short: "Write one self-contained HTML report of one or more runs",
		Long: `Write one self-contained HTML page (inline style, images as data: URIs, no
requests elsewhere) about the given runs, side by side: model and training
settings, the robustness evaluation (RUN/eval.json from
arp eval --json RUN/eval.json: accuracy tables, sanity checks, accuracy against
eps), training curves (RUN/metrics.jsonl), the attention-under-attack statistics
and verdicts (RUN/analysis*/ from arp analyze) with histograms, success rate by
completeness, per-step curves, and galleries of examples.

Each argument is a run directory (with model.json) or an analysis directory
(with analysis.json). Missing files are reported and their sections skipped.
Runs evaluated on different datasets are refused unless --allow-mixed is given.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return writeReport(cmd, args, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.out, "out", "report.html", "output HTML file")
	fl.StringVar(&f.title, "title", "", "page title (default \"arp report\")")
	fl.IntVar(&f.examples, "examples", 4, "gallery examples per attack and outcome (0: no galleries)")
	fl.BoolVar(&f.allowMixed, "allow-mixed", false, "allow runs evaluated on different datasets in one report")
	return cmd
}

func writeReport(cmd *cobra.Command, args []string, f *reportFlags) error {
	runs, err := report.Load(args, f.allowMixed)
	if err != nil {
		return err
	}
	ex := f.examples
	if ex == 0 {
		ex = -1
	}
	var b bytes.Buffer
	opt := report.Options{Title: f.title, Examples: ex, Command: "arp report " + strings.Join(args, " ")}
	if err := report.Write(&b, runs, opt); err != nil {
		return err
	}
	if err := checkpoint.AtomicWriteFile(f.out, b.Bytes(), 0o644); err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	for _, r := range runs {
		for _, n := range r.Notes {
			fmt.Fprintf(cmd.ErrOrStderr(), "note: %s\n", n)
		}
	}
	fmt.Fprintf(out, "wrote %s (%d run(s), %.1f MB)\n", f.out, len(runs), float64(b.Len())/1e6)
	return nil
}
