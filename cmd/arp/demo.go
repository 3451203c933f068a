package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/arp-robustness/arp/analysis"
	"github.com/arp-robustness/arp/checkpoint"
	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/defense"
	"github.com/arp-robustness/arp/eval"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/report"
	"github.com/arp-robustness/arp/rundir"
	"github.com/arp-robustness/arp/tensor"
	"github.com/arp-robustness/arp/train"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
)

func init() { register(newDemoCmd) }

// demoConfig sizes the demo.
type demoConfig struct {
	steps       int     // training steps per model (batches of 50)
	lr          float64 // Adam learning rate
	evalLimit   int     // test images evaluated
	evalEps     []float64
	evalAttacks []string
	checkImages int
	trainEval   int     // held-out images evaluated at the end of training
	anLimit     int     // test images analysed
	anEps       float64 // budget of the analysis
	anAttacks   []string
	examples    int
}

// The demo's two sizes. The full one needs about 70 CPU-seconds (45 s on
// two idle cores); --quick about a third of that.
var (
	demoFull = demoConfig{steps: 250, lr: 2e-3, evalLimit: 200, evalEps: []float64{0.05, 0.1},
		evalAttacks: []string{"fgsm", "pgd:steps=10", "square:queries=100", "attention-loss:steps=5"}, checkImages: 30,
		trainEval: 200, anLimit: 1000, anEps: 0.1, anAttacks: []string{"fgsm", "step-ll", "iter-ll", "gated-step-ll"}, examples: 4}
	demoQuick = demoConfig{steps: 60, lr: 3e-3, evalLimit: 100, evalEps: []float64{0.05, 0.1},
		evalAttacks: []string{"fgsm", "pgd:steps=5", "square:queries=50"}, checkImages: 20,
		trainEval: 100, anLimit: 200, anEps: 0.1, anAttacks: []string{"fgsm", "step-ll", "iter-ll"}, examples: 3}
)

// demoModels are the two models the demo trains.
var demoModels = []struct{ name, what string }{
	{"adv", "Step-LL adversarial training (the baseline)"},
	{"arp", "ARP: adversarial training + attention rectification and preservation"},
}

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
eval.json and analysis/, so the arp commands can be re-run on it. The demo
starts over each time (it replaces the files it wrote before). The numbers are
those of short runs on a small subset, stated as such in the output; see
docs/analysis.md for the full-dataset experiments.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmdContext(cmd), os.Interrupt, syscall.SIGTERM)
			defer stop()
			cfg := demoFull
			if quick {
				cfg = demoQuick
			}
			var progress io.Writer = cmd.ErrOrStderr()
			if quiet {
				progress = nil
			}
			_, err := runDemo(ctx, cmd.OutOrStdout(), progress, out, seed, cfg)
			return err
		},
	}
	cmd.Flags().StringVar(&out, "out", "arp-demo", "output directory")
	cmd.Flags().BoolVar(&quick, "quick", false, "a smaller demo (about a quarter of the time)")
	cmd.Flags().BoolVar(&quiet, "quiet", false, "no progress bars")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed of every random choice")
	return cmd
}

// bar makes a progress bar on w (nil when w is nil).
func bar(w io.Writer, total int, desc, unit string) *progressbar.ProgressBar {
	if w == nil {
		return nil
	}
	return progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionShowCount(),
		progressbar.OptionShowIts(), progressbar.OptionSetItsString(unit),
		progressbar.OptionSetPredictTime(true), progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionSetWidth(24),
		progressbar.OptionSetDescription(desc), progressbar.OptionClearOnFinish())
}

func setBar(b *progressbar.ProgressBar, n int) {
	if b != nil {
		_ = b.Set(n)
	}
}

func finishBar(b *progressbar.ProgressBar) {
	if b != nil {
		_ = b.Finish()
	}
}

// runDemo runs the demo into dir and returns the report's path.
func runDemo(ctx context.Context, out, progress io.Writer, dir string, seed uint64, cfg demoConfig) (string, error) {
	start := time.Now()
	// The demo allocates many short-lived tensors; trading memory for less
	// garbage collection makes it noticeably faster.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	trainSet, err := data.Open("mnist-mini:train", data.Options{})
	if err != nil {
		return "", err
	}
	test, err := data.Open("mnist-mini:test", data.Options{})
	if err != nil {
		return "", err
	}
	heldOut, _ := test.Split(cfg.trainEval)
	evalSet, _ := test.Split(cfg.evalLimit)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	fmt.Fprintf(out, "arp demo: %d training images (mnist-mini:train), %d test images (mnist-mini:test); output in %s\n", trainSet.Len(), test.Len(), dir)
	spec, err := nn.DefaultSpec("mnist-small", trainSet.C, trainSet.H, trainSet.W, len(trainSet.Classes))
	if err != nil {
		return "", err
	}
	var runs []string
	for i, dm := range demoModels {
		run := filepath.Join(dir, dm.name)
		runs = append(runs, run)
		if err := cleanDemoRun(run); err != nil {
			return "", err
		}
		// 1. Train.
		t0 := time.Now()
		fmt.Fprintf(out, "\n[%d/%d] %s: %s, mnist-small, %d steps of 50 images\n", i+1, len(demoModels), dm.name, dm.what, cfg.steps)
		m, err := nn.Build(spec, seed)
		if err != nil {
			return "", err
		}
		obj, err := defense.New(dm.name, defense.Options{})
		if err != nil {
			return "", err
		}
		b := bar(progress, cfg.steps, "train "+dm.name, "steps")
		sum, err := train.Run(ctx, m, trainSet, heldOut, train.Config{Objective: obj, LR: cfg.lr, BatchSize: 50, Steps: cfg.steps, Seed: seed,
			LogEvery: 10, Dir: run, Info: nn.Info{Spec: spec, ClassNames: trainSet.Classes, Dataset: "mnist-mini", Seed: seed, ArpVersion: arpVersion()},
			Data:     map[string]any{"train": "mnist-mini:train", "eval": fmt.Sprintf("mnist-mini:test (first %d)", heldOut.Len())},
			Command:  map[string]string{"command": "arp demo"},
			Progress: func(p train.Progress) { setBar(b, p.Step) }})
		finishBar(b)
		if err != nil {
			return "", demoErr(err, dir)
		}
		if sum.Eval != nil {
			fmt.Fprintf(out, "  trained in %s: held-out clean accuracy %.1f%%, under Step-LL (eps %g) %.1f%% (%d images)\n",
				since(t0), 100*sum.Eval.CleanAcc, sum.Eval.Eps, 100*sum.Eval.StepLLAcc, sum.Eval.N)
		}
		// 2. Evaluate.
		t0 = time.Now()
		atks, err := eval.ParseAttacks(cfg.evalAttacks)
		if err != nil {
			return "", err
		}
		x := tensor.FromFloat32(append([]float32(nil), evalSet.Images...), evalSet.Len(), evalSet.C, evalSet.H, evalSet.W)
		var eb *progressbar.ProgressBar
		rep, err := eval.Run(ctx, m, x, evalSet.Labels, eval.Options{Attacks: atks, Eps: cfg.evalEps, BatchSize: 100, Seed: seed,
			Model: run, Data: "mnist-mini:test", DataImages: test.Len(), Limit: evalSet.Len(), CheckImages: cfg.checkImages,
			AttentionTrained: defense.UsesAttention(dm.name),
			Progress: func(p eval.Progress) {
				if eb == nil {
					eb = bar(progress, p.Total, "eval "+dm.name, "units")
				}
				setBar(eb, p.Done)
			}})
		finishBar(eb)
		if err != nil {
			return "", demoErr(err, dir)
		}
		var js bytes.Buffer
		if err := rep.JSON(&js); err != nil {
			return "", err
		}
		if err := checkpoint.AtomicWriteFile(filepath.Join(run, rundir.Eval), js.Bytes(), 0o644); err != nil {
			return "", err
		}
		var worst []string
		for _, th := range rep.Threats {
			worst = append(worst, fmt.Sprintf("%.1f%% at eps %g", 100*th.Worst.Accuracy, th.Eps))
		}
		fmt.Fprintf(out, "  evaluated in %s on the first %d test images: clean %.1f%%, worst case over %s: %s; %d sanity warning(s)\n",
			since(t0), rep.Images, 100*rep.Clean.Accuracy, strings.Join(cfg.evalAttacks, ", "), strings.Join(worst, ", "), len(rep.Warnings()))
		// 3. Analyse.
		t0 = time.Now()
		sha, err := data.FileSHA256(filepath.Join(run, rundir.Weights))
		if err != nil {
			return "", err
		}
		info, _ := nn.ReadInfo(run)
		var ab *progressbar.ProgressBar
		st := &analysis.Study{Model: m, ModelRef: analysis.ModelRef{Dir: run, Info: info, WeightsSHA256: sha}, Data: test,
			DataSpec: "mnist-mini:test", Dir: rundir.AnalysisDir(run, ""), Version: arpVersion(),
			Config: analysis.Config{Attacks: cfg.anAttacks, Eps: cfg.anEps, Limit: cfg.anLimit, Seed: seed, Gallery: cfg.examples},
			Progress: func(done, total int) {
				if ab == nil {
					ab = bar(progress, total, "analyze "+dm.name, "images")
				}
				setBar(ab, done)
			}}
		if _, err := st.Run(ctx); err != nil {
			finishBar(ab)
			return "", demoErr(err, dir)
		}
		finishBar(ab)
		s, err := analysis.Summarize(st.Dir)
		if err != nil {
			return "", err
		}
		if err := s.WriteFiles(st.Dir); err != nil {
			return "", err
		}
		fmt.Fprintf(out, "  analysed in %s: %d correctly classified of the first %d test images, eps %g, attacks %s\n",
			since(t0), s.Analysed, s.Images, cfg.anEps, strings.Join(cfg.anAttacks, ", "))
		for _, o := range s.Overall {
			fmt.Fprintf(out, "    observation %-2s %s: %s\n", o.Observation, o.Status, o.Text)
		}
	}
	// 4. Report.
	rs, err := report.Load(runs, false)
	if err != nil {
		return "", err
	}
	var page bytes.Buffer
	title := "arp demo: Step-LL adversarial training vs ARP on the MNIST subset"
	if err := report.Write(&page, rs, report.Options{Title: title, Examples: cfg.examples, Command: "arp demo"}); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "report.html")
	if err := checkpoint.AtomicWriteFile(path, page.Bytes(), 0o644); err != nil {
		return "", err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	fmt.Fprintf(out, "\nThese are short runs on a 2,000-image subset (%d steps), so the numbers are a demonstration, not results.\n", cfg.steps)
	fmt.Fprintf(out, "Done in %s. Report: %s\n", since(start), abs)
	return abs, nil
}

// cleanDemoRun removes what an earlier demo wrote into a run directory.
func cleanDemoRun(run string) error {
	if err := rundir.Remove(run, rundir.TrainingFiles()...); err != nil {
		return err
	}
	if err := rundir.Remove(run, rundir.Eval); err != nil {
		return err
	}
	return rundir.Remove(rundir.AnalysisDir(run, ""), rundir.AnalysisFiles()...)
}

func demoErr(err error, dir string) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, train.ErrInterrupted) {
		return fmt.Errorf("demo interrupted; run arp demo again to start over (files so far are in %s)", dir)
	}
	return err
}

func since(t time.Time) string { return time.Since(t).Round(100 * time.Millisecond).String() }
