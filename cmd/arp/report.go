package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/arp-robustness/arp/analysis"
	"github.com/arp-robustness/arp/checkpoint"
	"github.com/arp-robustness/arp/eval"
	"github.com/arp-robustness/arp/job"
	"github.com/arp-robustness/arp/limits"
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
	cmd.AddCommand(newReportSeedsCmd(), newReportVerdictsCmd())
	return cmd
}

func newReportVerdictsCmd() *cobra.Command {
	f := &seedsFlags{}
	cmd := &cobra.Command{
		Use:   "verdicts GROUP=ANALYSIS[,ANALYSIS...]...",
		Short: "Line up the attention analysis's verdicts over training seeds",
		Long: `Line up the verdicts of arp analyze over the training seeds of each recipe:
per observation and attack, each seed's outcome (holds, negligible, opposite,
inconclusive, not tested) with its effect size and 90% interval, the mean effect
over seeds with its 95% t interval, and whether the outcome repeats on every
seed; then the clean attention's coverage of the object per seed. Each ANALYSIS
is an arp analyze directory or its summary.json. Every analysis must have run
the same attacks at the same budget, with the same attention method and layer,
on the same data; otherwise the command says how two of them differ.`,
		Example: `  arp report verdicts \
    mnist-adv=a/mnist-adv-s1,a/mnist-adv-s2,a/mnist-adv-s3 \
    mnist-arp=a/mnist-arp-s1,a/mnist-arp-s2,a/mnist-arp-s3 --markdown verdicts.md`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runReportVerdicts(cmd, args, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.jsonOut, "json", "", "write the comparison as JSON to this file")
	fl.StringVar(&f.mdOut, "markdown", "", "write the comparison as Markdown to this file (default: standard output)")
	return cmd
}

func runReportVerdicts(cmd *cobra.Command, args []string, f *seedsFlags) error {
	if err := job.CheckOutputs(job.Output{Flag: "json", Path: f.jsonOut}, job.Output{Flag: "markdown", Path: f.mdOut}); err != nil {
		return err
	}
	parsed, err := parseGroups(args, "ANALYSIS", analysis.ReadSummary)
	if err != nil {
		return err
	}
	var groups []analysis.SeedGroup
	for _, g := range parsed {
		groups = append(groups, analysis.SeedGroup{Name: g.name, Summaries: g.items})
	}
	c, err := analysis.CompareSeedVerdicts(groups)
	if err != nil {
		return err
	}
	return writeComparison(cmd, f, c.Markdown, c)
}

// group is one GROUP=FILE[,FILE...] argument of the report subcommands,
// each file read.
type group[T any] struct {
	name  string
	items []T
}

// parseGroups reads GROUP=FILE[,FILE...] arguments; what names the kind
// of file in the one-line error for a malformed argument.
func parseGroups[T any](args []string, what string, read func(string) (T, error)) ([]group[T], error) {
	var out []group[T]
	for _, a := range args {
		name, files, ok := strings.Cut(a, "=")
		if !ok || name == "" || files == "" {
			return nil, fmt.Errorf("%q: want GROUP=%s[,%s...]", a, what, what)
		}
		g := group[T]{name: name}
		for _, p := range strings.Split(files, ",") {
			v, err := read(p)
			if err != nil {
				return nil, err
			}
			g.items = append(g.items, v)
		}
		out = append(out, g)
	}
	return out, nil
}

// writeComparison writes a comparison's Markdown (to --markdown, else
// standard output) and JSON (to --json).
func writeComparison(cmd *cobra.Command, f *seedsFlags, markdown func(io.Writer) error, v any) error {
	var md bytes.Buffer
	if err := markdown(&md); err != nil {
		return err
	}
	if f.mdOut == "" {
		if _, err := cmd.OutOrStdout().Write(md.Bytes()); err != nil {
			return err
		}
	}
	return writeMarkdownJSON(cmd.OutOrStdout(), f.mdOut, md.Bytes(), f.jsonOut, v)
}

type seedsFlags struct {
	diffs          []string
	jsonOut, mdOut string
}

func newReportSeedsCmd() *cobra.Command {
	f := &seedsFlags{}
	cmd := &cobra.Command{
		Use:   "seeds GROUP=EVAL.json|STATE[,...]... [--diff A,B]...",
		Short: "Compare training recipes over their seeds: mean and 95% interval per cell, paired differences",
		Long: `Compare training recipes, each trained with several seeds and evaluated by
arp eval --json on the same images (use --subset N --subset-seed S, the same for
every model), cell by cell: the clean accuracy, every attack's accuracy and the
worst case at every budget. For each group (a name and its eval reports, one per
seed) it gives the mean accuracy over seeds with a 95% Student t interval; each
--diff A,B adds the paired difference A - B, seed by seed, with its mean and 95%
t interval. Seeds pair by the training seed each report records (arp eval reads
it from model.json), else by the order of the files. Each difference is also
taken image by image on each seed (the clean accuracy and every worst case:
Newcombe's 95% interval for paired proportions, the exact McNemar test) where
both reports carry per-image outcomes: reports of this version do, and an
evaluation's record file (arp eval --state) may be given in place of its report.

Every report must have evaluated the same images with the same attacks, budgets
and mode; otherwise the command says how two of them differ.`,
		Example: `  arp report seeds --diff arp,adv \
    none=e/mnist-none-s1.json,e/mnist-none-s2.json,e/mnist-none-s3.json \
    adv=e/mnist-adv-s1.json,e/mnist-adv-s2.json,e/mnist-adv-s3.json \
    arp=e/mnist-arp-s1.json,e/mnist-arp-s2.json,e/mnist-arp-s3.json --markdown seeds.md`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runReportSeeds(cmd, args, f) },
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.diffs, "diff", nil, "A,B: add the paired difference of groups A and B (A - B); repeatable")
	fl.StringVar(&f.jsonOut, "json", "", "write the comparison as JSON to this file")
	fl.StringVar(&f.mdOut, "markdown", "", "write the comparison as Markdown to this file (default: standard output)")
	return cmd
}

func runReportSeeds(cmd *cobra.Command, args []string, f *seedsFlags) error {
	if err := job.CheckOutputs(job.Output{Flag: "json", Path: f.jsonOut}, job.Output{Flag: "markdown", Path: f.mdOut}); err != nil {
		return err
	}
	parsed, err := parseGroups(args, "EVAL.json", eval.ReadReport)
	if err != nil {
		return err
	}
	var groups []eval.SeedGroup
	for _, g := range parsed {
		groups = append(groups, eval.SeedGroup{Name: g.name, Reports: g.items})
	}
	var diffs [][2]string
	for _, d := range f.diffs {
		a, b, ok := strings.Cut(d, ",")
		if !ok || a == "" || b == "" || strings.Contains(b, ",") {
			return fmt.Errorf("--diff %q: want A,B (two group names)", d)
		}
		diffs = append(diffs, [2]string{a, b})
	}
	c, err := eval.CompareSeeds(groups, diffs)
	if err != nil {
		return err
	}
	return writeComparison(cmd, f, c.Markdown, c)
}

// writeMarkdownJSON writes md to mdPath and v as indented JSON to
// jsonPath (each skipped when its path is ""), atomically, and says so.
func writeMarkdownJSON(out io.Writer, mdPath string, md []byte, jsonPath string, v any) error {
	if mdPath != "" {
		if err := checkpoint.AtomicWriteFile(mdPath, md, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(out, "wrote %s\n", mdPath)
	}
	if jsonPath != "" {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		if err := checkpoint.AtomicWriteFile(jsonPath, append(b, '\n'), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(out, "wrote %s\n", jsonPath)
	}
	return nil
}

func writeReport(cmd *cobra.Command, args []string, f *reportFlags) error {
	if err := limits.Int("--examples", f.examples, 0, 1000, "gallery examples per attack and outcome; 0: no galleries"); err != nil {
		return err
	}
	if err := job.CheckOutputs(job.Output{Flag: "out", Path: f.out}); err != nil {
		return err
	}
	runs, err := report.Load(args, f.allowMixed)
	if err != nil {
		return err
	}
	ex := f.examples
	if ex == 0 {
		ex = -1 // report's "none"
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
