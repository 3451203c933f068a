package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/arp-robustness/arp/bench"
	"github.com/arp-robustness/arp/defense"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/optim"
	"github.com/arp-robustness/arp/tensor"
	"github.com/arp-robustness/arp/train"
	"github.com/spf13/cobra"
)

func init() { register(newBenchCmd) }

func newBenchCmd(*globalOptions) *cobra.Command {
	var cfg bench.Config
	var cases string
	var asJSON bool
	var cpuProfile string
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Time inference, training, Step-LL, the full ARP step and PGD-10",
		Long: `Time the engine on five workloads for one model at one batch size:

  forward  inference (evaluation mode, no graph)
  train    cross-entropy + Adam training step
  stepll   Step-LL adversarial example generation (eval mode, input gradient)
  arp      the full ARP training step: Step-LL examples, Grad-CAM maps of clean
           and adversarial images differentiated through their gradients
           (double backpropagation), L = 8 L_c + 4 L_r + 1 L_p, Adam update
  pgd10    PGD-10 evaluation: random start, 10 steps at eps 8/255, every image
           taking every step, and the forward pass judging the final iterate

Each case runs --warmup untimed steps, then --steps timed ones; the median is
reported with images/s, GFLOP/s (forward and train, counting convolutions
and dense layers), allocations per step and the process's peak RSS.
scripts/bench/compare.py runs the same cases in PyTorch alternately and
prints the ratios.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cases != "" {
				cfg.Cases = strings.Split(cases, ",")
			}
			w := cmd.OutOrStdout()
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			if !asJSON {
				fmt.Fprintf(w, "%-8s %6s %10s %10s %8s %10s %10s %9s\n", "case", "batch", "median_ms", "images/s", "GFLOP/s", "allocs", "alloc_MB", "rss_MB")
			}
			_, err := bench.Run(cmd.Context(), cfg, arpBenchStep, func(r bench.Result) {
				if asJSON {
					b, _ := json.Marshal(r)
					fmt.Fprintln(w, string(b))
					return
				}
				gf := "-"
				if r.GFLOPS > 0 {
					gf = fmt.Sprintf("%.1f", r.GFLOPS)
				}
				fmt.Fprintf(w, "%-8s %6d %10.1f %10.1f %8s %10.0f %10.1f %9.0f\n", r.Name, r.Batch, r.MedianMS, r.ImagesPerS, gf, r.AllocsPerOp, r.AllocMBPerOp, r.PeakRSSMB)
			})
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Arch, "model", "cifarnet", "architecture: "+strings.Join(nn.ArchNames(), ", "))
	f.IntVar(&cfg.Batch, "batch", 50, "batch size")
	f.IntVar(&cfg.Steps, "steps", 10, "timed steps per case (the median is reported)")
	f.IntVar(&cfg.Warmup, "warmup", 3, "untimed steps before timing")
	f.IntVar(&cfg.Threads, "threads", 2, "cores to use (Go workers and BLAS threads)")
	f.BoolVar(&cfg.LRN, "lrn", false, "keep CifarNet's local response normalisation (the PyTorch reference omits it unless --lrn)")
	f.StringVar(&cases, "cases", "", "comma-separated subset of "+strings.Join(bench.Cases(), ","))
	f.BoolVar(&asJSON, "json", false, "print one JSON object per case")
	f.Uint64Var(&cfg.Seed, "seed", 1, "seed of the weights and data")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a Go CPU profile of the run to this file (go tool pprof)")
	return cmd
}

// arpBenchStep is the ARP training step of `arp train --defense arp` with
// the paper's settings, exactly as the training loop runs it.
func arpBenchStep(m *nn.Model, opt optim.Optimizer, x *tensor.Tensor, y []int, seed uint64) (bench.Step, error) {
	obj, err := defense.New("arp", defense.Options{})
	if err != nil {
		return nil, err
	}
	step := 0
	return func() error {
		_, err := train.Step(obj, m, opt, x, y, seed, step)
		step++
		return err
	}, nil
}
