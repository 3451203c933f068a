package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/arp-robustness/arp/eval"
	"github.com/spf13/cobra"
)

func init() { register(newMergeCmd) }

func newMergeCmd(g *globalOptions) *cobra.Command {
	f := &evalFlags{}
	cmd := &cobra.Command{
		Use:   "merge [--json F] [--markdown F] [--plot F.png] RECORD_FILE...",
		Short: "Combine the shards of an evaluation into its report",
		Long: `Combine the record files written by the shards of one evaluation
(arp eval --shard i/N --state FILE, one per shard) into the report one process
would have given for the whole evaluation: the same clean accuracy, per-attack
and worst-case accuracies, norms and sanity checks, bit for bit (times aside).

The files must come from the same evaluation, hold every batch exactly once
between them, and be complete; otherwise the error names the file or the
missing images, and no output is written, so a report already merged is never
replaced by a partial one. Outputs are written atomically.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, p := range []struct{ flag, path, ext string }{{"json", f.jsonOut, ""}, {"markdown", f.mdOut, ""}, {"plot", f.plotOut, ".png"}} {
				if p.path != "" && p.ext != "" && !strings.EqualFold(filepath.Ext(p.path), p.ext) {
					return fmt.Errorf("--%s %s: want a %s file", p.flag, p.path, p.ext)
				}
			}
			for _, a := range args {
				if fi, err := os.Stat(a); err == nil && fi.IsDir() {
					return fmt.Errorf("%s is a directory; arp merge takes the record files of arp eval --shard (files)", a)
				}
			}
			rep, err := eval.Merge(args)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if err := rep.Text(out); err != nil {
				return err
			}
			return writeEvalOutputs(out, rep, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.jsonOut, "json", "", "write the report as JSON to this file")
	fl.StringVar(&f.mdOut, "markdown", "", "write the report as Markdown to this file")
	fl.StringVar(&f.plotOut, "plot", "", "write the accuracy-vs-eps curves to this PNG file")
	return cmd
}
