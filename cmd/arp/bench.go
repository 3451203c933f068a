package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/arp-robustness/arp/bench"
	"github.com/arp-robustness/arp/defense"
	"github.com/arp-robustness/arp/job"
	"github.com/arp-robustness/arp/kernels"
	"github.com/arp-robustness/arp/limits"
	"github.com/arp-robustness/arp/modelio"
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
	var cpuProfile, memProfile string
	var peak bool
	var peakCfg bench.PeakConfig
	var peakPaths string
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Time inference, training, Step-LL, the full ARP step, PGD-10 and Grad-CAM",
		Long: `Time the engine on six workloads for one model at one batch size:

  forward  inference (evaluation mode, no graph)
  train    cross-entropy + Adam training step
  stepll   Step-LL adversarial example generation (eval mode, input gradient)
  arp      the full ARP training step: Step-LL examples, Grad-CAM maps of clean
           and adversarial images differentiated through their gradients
           (double backpropagation), L = 8 L_c + 4 L_r + 1 L_p, Adam update
  pgd10    PGD-10 evaluation: random start, 10 steps at eps 8/255, every image
           taking every step, and the forward pass judging the final iterate
  gradcam  Grad-CAM maps of a batch as arp explain and arp analyze compute
           them: gradcam-arp maps of the predicted classes at the attention
           layer, resized to the input, with the class probabilities

--model FILE.onnx (or an arp run directory) times that model on forward,
stepll, pgd10 and (when it names an attention layer) gradcam at its own
input size, e.g. Inception v3 at 299x299;
scripts/bench/compare.py --model inception_v3 runs PyTorch's torchvision
Inception v3 the same way.

Each case runs --warmup untimed steps, then --steps timed ones; the median is
reported with images/s, GFLOP/s (forward and train, counting convolutions
and dense layers), allocations per step and the process's peak RSS.
scripts/bench/compare.py runs the same cases in PyTorch alternately and
prints the ratios.

With --peak it measures instead what the CPU can do and how close the
engine's kernels come: for each kernel path (avx512, avx2, go; ARP_CPU
chooses the default one, see arp version) the FMA peak (12 independent
chains of 512-bit or 256-bit FMAs per thread on --threads threads, each
thread's rate in its uninterrupted 7 µs slices, with the clock rate and
FMAs per cycle), then the forward pass, input gradient and weight gradient
of every convolution and dense layer of --model at --batch (each
convolution also one image at a time, as the fused convolution+ReLU+pool
ops run it: outputs consumed and output gradients made in the cache), and
square GEMMs, each in GFLOP/s (of its fastest repetition) and as a share
of that path's peak. FLOPs are always the direct convolution's: layers
computed as Winograd convolutions (ARP_CONV, see arp version) show their
effective rate, whose share of the peak can pass 100%.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (rerr error) {
			if cases != "" {
				cfg.Cases = strings.Split(cases, ",")
			}
			if err := checkBenchFlags(cfg, peakCfg); err != nil {
				return err
			}
			if err := job.CheckOutputs(job.Output{Flag: "cpuprofile", Path: cpuProfile}, job.Output{Flag: "memprofile", Path: memProfile}); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if !slices.Contains(nn.ArchNames(), cfg.Arch) {
				// A file or run directory: time that model (inference cases).
				if peak {
					return fmt.Errorf("--peak takes an architecture name, not --model %s", cfg.Arch)
				}
				c, _, err := modelio.Open(cfg.Arch)
				if err != nil {
					return fmt.Errorf("--model %s: not an architecture (%s) and %w", cfg.Arch, strings.Join(nn.ArchNames(), ", "), err)
				}
				cfg.Model = c
			}
			if peak {
				return runPeak(cmd, cfg, peakCfg, peakPaths, asJSON)
			}
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
			if memProfile != "" {
				runtime.MemProfileRate = 64 << 10
				defer func() {
					f, err := os.Create(memProfile)
					if err == nil {
						err = pprof.Lookup("allocs").WriteTo(f, 0)
						if cerr := f.Close(); err == nil {
							err = cerr
						}
					}
					if err != nil && rerr == nil {
						rerr = fmt.Errorf("--memprofile: %w", err)
					}
				}()
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
	f.StringVar(&cfg.Arch, "model", "cifarnet", "architecture ("+strings.Join(nn.ArchNames(), ", ")+"), or a FILE.onnx or run directory to time on the cases "+strings.Join(bench.InferenceCases(), ","))
	f.IntVar(&cfg.Batch, "batch", 50, "batch size")
	f.IntVar(&cfg.Steps, "steps", 10, "timed steps per case (the median is reported)")
	f.IntVar(&cfg.Warmup, "warmup", 3, "untimed steps before timing")
	f.IntVar(&cfg.Threads, "threads", 2, "cores to use (Go workers and BLAS threads)")
	f.BoolVar(&cfg.LRN, "lrn", false, "keep CifarNet's local response normalisation (the PyTorch reference omits it unless --lrn)")
	f.StringVar(&cases, "cases", "", "comma-separated subset of "+strings.Join(bench.Cases(), ","))
	f.BoolVar(&asJSON, "json", false, "print one JSON object per case")
	f.Uint64Var(&cfg.Seed, "seed", 1, "seed of the weights and data")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a Go CPU profile of the run to this file (go tool pprof)")
	f.StringVar(&memProfile, "memprofile", "", "write a Go allocation profile of the run to this file (go tool pprof -sample_index=alloc_space)")
	f.BoolVar(&peak, "peak", false, "measure the FMA peak and each layer's and GEMM's share of it instead of the cases")
	f.StringVar(&peakPaths, "paths", "", "with --peak: comma-separated kernel paths to measure (avx512, avx2, go; default every one this CPU supports)")
	f.DurationVar(&peakCfg.MinTime, "min-time", 300*time.Millisecond, "with --peak: how long each operation is repeated at least")
	return cmd
}

// runPeak is arp bench --peak.
func runPeak(cmd *cobra.Command, cfg bench.Config, pc bench.PeakConfig, paths string, asJSON bool) error {
	pc.Arch, pc.Batch, pc.Threads, pc.Seed = cfg.Arch, cfg.Batch, cfg.Threads, cfg.Seed
	if paths != "" {
		for _, s := range strings.Split(paths, ",") {
			p, err := kernels.ParsePath(s)
			if err != nil {
				return fmt.Errorf("--paths: %w", err)
			}
			if !kernels.Supported(p) {
				return fmt.Errorf("--paths: this CPU does not support %s", p)
			}
			pc.Paths = append(pc.Paths, p)
		}
	}
	w := cmd.OutOrStdout()
	_, err := bench.Peak(cmd.Context(), pc, func(pp bench.PeakPath) {
		if asJSON {
			b, _ := json.Marshal(pp)
			fmt.Fprintln(w, string(b))
			return
		}
		if pp.PeakGFLOPS > 0 {
			fmt.Fprintf(w, "path %s: FMA peak %.0f GFLOP/s on %d threads (clock %.2f GHz, %.2f vector FMAs per cycle per thread)\n",
				pp.Path, pp.PeakGFLOPS, pp.Threads, pp.ClockGHz, pp.FMAPerCycle)
		} else {
			fmt.Fprintf(w, "path %s: no vector FMA peak (shares not defined)\n", pp.Path)
		}
		fmt.Fprintf(w, "  %-8s %-22s %-34s %8s %9s %9s %8s %6s\n", "layer", "op", "shape", "GFLOP", "median ms", "min ms", "GFLOP/s", "peak")
		for _, r := range pp.Rows {
			share := "-"
			if r.Share > 0 {
				share = fmt.Sprintf("%.0f%%", 100*r.Share)
			}
			fmt.Fprintf(w, "  %-8s %-22s %-34s %8.3f %9.3f %9.3f %8.1f %6s\n", r.Layer, r.Op, r.Shape, r.GFLOP, r.MS, r.MinMS, r.GFLOPS, share)
		}
	})
	return err
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

// checkBenchFlags refuses counts outside their ranges (0 would be replaced
// by bench's defaults), one flag per message.
func checkBenchFlags(cfg bench.Config, pc bench.PeakConfig) error {
	for _, c := range []struct {
		flag      string
		v, lo, hi int
		meaning   string
	}{
		{"batch", cfg.Batch, 1, 10000, "images per step"},
		{"steps", cfg.Steps, 1, 100000, "timed steps"},
		{"warmup", cfg.Warmup, 0, 100000, "untimed steps"},
		{"threads", cfg.Threads, 1, 1024, "cores"},
	} {
		if err := limits.Int("--"+c.flag, c.v, c.lo, c.hi, c.meaning); err != nil {
			return err
		}
	}
	if pc.MinTime <= 0 || pc.MinTime > time.Hour {
		return fmt.Errorf("--min-time %v: want a duration above 0 and at most 1h", pc.MinTime)
	}
	return nil
}
