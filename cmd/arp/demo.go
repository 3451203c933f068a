package main

import (
	"runtime/debug"

	"github.com/arp-robustness/arp/demo"
	"github.com/arp-robustness/arp/job"
	"github.com/spf13/cobra"
)

func init() { register(newDemoCmd) }

func newDemoCmd(g *globalOptions) *cobra.Command {
	var out string
	var quick, quiet bool
	var seed uint64
	cmd := &cobra.Command{
		Use:   "demo [--out DIR] [--quick]",
		Short: "Train an adv and an arp model on the built-in MNIST subset, evaluate, analyse and report",
		Long: `The main job, end to end, on the MNIST subset built into arp (no download):

  1. train two small CNNs (mnist-small) on mnist-mini:train (2,000 images):
     "adv", Step-LL adversarial training (eps 0.075 on the [0,1] scale, the
     paper's 0.15 on [-1,1]), and "arp", the same plus attention rectification
     and preservation (a, b, c = 8, 4, 1);
  2. evaluate both on the first test images of mnist-mini:test with an attack
     ensemble (FGSM, Step-LL, PGD, the black-box Square attack and the adaptive
     attention-loss attack) at two budgets, with the sanity checks;
  3. run the attention-under-attack analysis on both (eps 0.1);
  4. write DIR/report.html comparing the two, and print where it is.

Every run directory (DIR/adv, DIR/arp) holds the model, its training metrics,
eval.json and analysis/, so the arp commands can be re-run on it; a run is
extended as any other, e.g. arp train --resume --out DIR/arp --steps 1000
(then re-run arp eval and arp analyze on it). The demo starts over each time
(it replaces the files it wrote before). The numbers are
those of short runs on a small subset, stated as such in the output; see
docs/analysis.md for the full-dataset experiments.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := job.CheckOutputs(job.Output{Flag: "out", Path: out, Dir: true}); err != nil {
				return err
			}
			ctx, stop := onInterrupt(cmdContext(cmd))
			defer stop()
			opt := demo.Options{Dir: out, Seed: seed, Config: demo.Full, Version: arpVersion(), Out: cmd.OutOrStdout()}
			if quick {
				opt.Config = demo.Quick
			}
			if !quiet {
				opt.Tracker = newProgress(cmd.ErrOrStderr())
			}
			// The demo allocates many short-lived tensors; trading memory
			// for less garbage collection makes it noticeably faster.
			defer debug.SetGCPercent(debug.SetGCPercent(400))
			_, err := demo.Run(ctx, opt)
			return err
		},
	}
	cmd.Flags().StringVar(&out, "out", "arp-demo", "output directory")
	cmd.Flags().BoolVar(&quick, "quick", false, "a smaller demo (about a quarter of the time)")
	cmd.Flags().BoolVar(&quiet, "quiet", false, "no progress bars")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed of every random choice")
	return cmd
}
