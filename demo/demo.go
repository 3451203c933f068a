package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
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
)

// Config sizes the demo.
type Config struct {
	Steps           int     // training steps per model (batches of 50)
	LR              float64 // Adam learning rate
	EvalLimit       int     // test images evaluated
	EvalEps         []float64
	EvalAttacks     []string
	CheckImages     int     // images of the evaluation's sanity checks
	TrainEval       int     // held-out images evaluated at the end of training
	AnalysisLimit   int     // test images analysed
	AnalysisEps     float64 // budget of the analysis
	AnalysisAttacks []string
	Examples        int // report gallery examples per attack and outcome
}

// The demo's two sizes. Full needs about 70 CPU-seconds (45 s on two idle
// cores); Quick about a third of that.
var (
	Full = Config{Steps: 250, LR: 2e-3, EvalLimit: 200, EvalEps: []float64{0.05, 0.1},
		EvalAttacks: []string{"fgsm", "pgd:steps=10", "square:queries=100", "attention-loss:steps=5"}, CheckImages: 30,
		TrainEval: 200, AnalysisLimit: 1000, AnalysisEps: 0.1, AnalysisAttacks: []string{"fgsm", "step-ll", "iter-ll", "gated-step-ll"}, Examples: 4}
	Quick = Config{Steps: 60, LR: 3e-3, EvalLimit: 100, EvalEps: []float64{0.05, 0.1},
		EvalAttacks: []string{"fgsm", "pgd:steps=5", "square:queries=50"}, CheckImages: 20,
		TrainEval: 100, AnalysisLimit: 200, AnalysisEps: 0.1, AnalysisAttacks: []string{"fgsm", "step-ll", "iter-ll"}, Examples: 3}
)

// Models are the two models the demo trains: their defense names and what
// they are.
var Models = []struct{ Name, What string }{
	{"adv", "Step-LL adversarial training (the baseline)"},
	{"arp", "ARP: adversarial training + attention rectification and preservation"},
}

// Tracker follows the demo's tasks (training, evaluating and analysing
// each model) for a progress display.
type Tracker interface {
	// Update reports done of total units of task ("train adv", ...).
	Update(task, unit string, done, total int)
	// Done says that the task last updated has ended.
	Done()
}

// Options configure Run.
type Options struct {
	Dir     string // output directory: DIR/adv, DIR/arp, DIR/report.html
	Seed    uint64
	Config  Config
	Version string    // arp's version, recorded with the models and analyses
	Out     io.Writer // the demo's account of what it did
	Tracker Tracker   // nil: no progress display
}

// Run runs the demo into opt.Dir, starting over there (it replaces the
// files an earlier demo wrote), and returns the report's absolute path. A
// cancelled context ends it with an error that says so.
func Run(ctx context.Context, opt Options) (string, error) {
	start := time.Now()
	cfg, dir, out := opt.Config, opt.Dir, opt.Out
	if out == nil {
		out = io.Discard
	}
	r := &runner{Options: opt, out: out}
	trainSet, err := data.Open(TrainData, data.Options{})
	if err != nil {
		return "", err
	}
	test, err := data.Open("mnist-mini:test", data.Options{})
	if err != nil {
		return "", err
	}
	// one demo at a time in dir (each run directory is locked by its
	// training, analysis and evaluation too)
	lock, err := rundir.LockDir(dir)
	if err != nil {
		return "", err
	}
	defer lock.Unlock()
	fmt.Fprintf(out, "arp demo: %d training images (mnist-mini:train), %d test images (mnist-mini:test); output in %s\n", trainSet.Len(), test.Len(), dir)
	var runs []string
	for i, dm := range Models {
		run := filepath.Join(dir, dm.Name)
		runs = append(runs, run)
		if err := clean(run); err != nil {
			return "", err
		}
		fmt.Fprintf(out, "\n[%d/%d] %s: %s, mnist-small, %d steps of 50 images\n", i+1, len(Models), dm.Name, dm.What, cfg.Steps)
		m, err := r.train(ctx, dm.Name, run, trainSet)
		if err != nil {
			return "", err
		}
		if err := r.evaluate(ctx, dm.Name, run, m, test); err != nil {
			return "", err
		}
		if err := r.analyse(ctx, dm.Name, run, m, test); err != nil {
			return "", err
		}
	}
	path, err := writeReport(dir, runs, cfg.Examples)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(out, "\nThese are short runs on a 2,000-image subset (%d steps), so the numbers are a demonstration, not results.\n", cfg.Steps)
	fmt.Fprintf(out, "Done in %s. Report: %s\n", since(start), path)
	return path, nil
}

// runner holds what the steps of one Run share.
type runner struct {
	Options
	out io.Writer
}

// update and done drive the tracker, if any.
func (r *runner) update(task, unit string, done, total int) {
	if r.Tracker != nil {
		r.Tracker.Update(task, unit, done, total)
	}
}

func (r *runner) done() {
	if r.Tracker != nil {
		r.Tracker.Done()
	}
}

// The demo's training data: arp train --data TrainData evaluates on
// TrainData's test split.
const TrainData = "mnist-mini:train"

// TrainFlags are the arp train flags that make the demo's run of model
// name (a defense) with cfg and seed: the demo records them with the run,
// so that arp train --resume --out DIR/NAME --steps N extends it as if
// arp train had made it.
func TrainFlags(name string, cfg Config, seed uint64) map[string]string {
	return map[string]string{"model": "mnist-small", "defense": name, "data": TrainData,
		"steps": fmt.Sprint(cfg.Steps), "lr": fmt.Sprint(cfg.LR), "batch": "50", "seed": fmt.Sprint(seed),
		"eval-n": fmt.Sprint(cfg.TrainEval), "eval-every": "0", "log-every": "10", "checkpoint-every": "0"}
}

// train trains model name into run, as arp train with TrainFlags would.
func (r *runner) train(ctx context.Context, name, run string, trainSet *data.Dataset) (*nn.Model, error) {
	t0 := time.Now()
	cfg := r.Config
	heldOut, evalName, trainSet, err := train.EvalData(TrainData, "", "", cfg.TrainEval, r.Seed, data.Options{}, trainSet)
	if err != nil {
		return nil, err
	}
	spec, err := nn.DefaultSpec("mnist-small", trainSet.C, trainSet.H, trainSet.W, len(trainSet.Classes))
	if err != nil {
		return nil, err
	}
	m, err := nn.Build(spec, r.Seed)
	if err != nil {
		return nil, err
	}
	obj, err := defense.New(name, defense.Options{})
	if err != nil {
		return nil, err
	}
	sum, err := train.Run(ctx, m, trainSet, heldOut, train.Config{Objective: obj, LR: cfg.LR, BatchSize: 50, Steps: cfg.Steps, Seed: r.Seed,
		LogEvery: 10, Dir: run, Info: nn.Info{Spec: spec, ClassNames: trainSet.Classes, Dataset: TrainData, Seed: r.Seed, ArpVersion: r.Version},
		Data:     train.DataRecord(TrainData, 0, evalName, cfg.TrainEval, 0, data.DefaultHoldOutSeed, ""),
		Command:  TrainFlags(name, cfg, r.Seed),
		Progress: func(p train.Progress) { r.update("train "+name, "steps", p.Step, p.Steps) }})
	r.done()
	if err != nil {
		return nil, interrupted(err, r.Dir)
	}
	if sum.Eval != nil {
		fmt.Fprintf(r.out, "  trained in %s: held-out clean accuracy %.1f%%, under Step-LL (eps %g) %.1f%% (%d images)\n",
			since(t0), 100*sum.Eval.CleanAcc, sum.Eval.Eps, 100*sum.Eval.StepLLAcc, sum.Eval.N)
	}
	return m, nil
}

// evaluate evaluates model name and writes RUN/eval.json.
func (r *runner) evaluate(ctx context.Context, name, run string, m *nn.Model, test *data.Dataset) error {
	t0 := time.Now()
	cfg := r.Config
	evalSet, _ := test.Split(cfg.EvalLimit)
	atks, err := eval.ParseAttacks(cfg.EvalAttacks)
	if err != nil {
		return err
	}
	x := tensor.FromFloat32(append([]float32(nil), evalSet.Images...), evalSet.Len(), evalSet.C, evalSet.H, evalSet.W)
	rep, err := eval.Run(ctx, m, x, evalSet.Labels, eval.Options{Attacks: atks, Eps: cfg.EvalEps, BatchSize: 100, Seed: r.Seed,
		Model: run, Data: "mnist-mini:test", DataImages: test.Len(), Limit: evalSet.Len(), CheckImages: cfg.CheckImages,
		AttentionTrained: defense.UsesAttention(name),
		Progress:         func(p eval.Progress) { r.update("eval "+name, "units", p.Done, p.Total) }})
	r.done()
	if err != nil {
		return interrupted(err, r.Dir)
	}
	var js bytes.Buffer
	if err := rep.JSON(&js); err != nil {
		return err
	}
	if err := checkpoint.AtomicWriteFile(filepath.Join(run, rundir.Eval), js.Bytes(), 0o644); err != nil {
		return err
	}
	var worst []string
	for _, th := range rep.Threats {
		worst = append(worst, fmt.Sprintf("%.1f%% at eps %g", 100*th.Worst.Accuracy, th.Eps))
	}
	fmt.Fprintf(r.out, "  evaluated in %s on the first %d test images: clean %.1f%%, worst case over %s: %s; %d sanity warning(s)\n",
		since(t0), rep.Images, 100*rep.Clean.Accuracy, strings.Join(cfg.EvalAttacks, ", "), strings.Join(worst, ", "), len(rep.Warnings()))
	return nil
}

// analyse runs the attention study on model name into RUN/analysis.
func (r *runner) analyse(ctx context.Context, name, run string, m *nn.Model, test *data.Dataset) error {
	t0 := time.Now()
	cfg := r.Config
	sha, err := data.FileSHA256(filepath.Join(run, rundir.Weights))
	if err != nil {
		return err
	}
	info, _ := nn.ReadInfo(run)
	st := &analysis.Study{Model: m, ModelRef: analysis.ModelRef{Dir: run, Info: info, WeightsSHA256: sha}, Data: data.FromDataset(test),
		DataSpec: "mnist-mini:test", Dir: rundir.AnalysisDir(run, ""), Version: r.Version,
		Config:   analysis.Config{Attacks: cfg.AnalysisAttacks, Eps: cfg.AnalysisEps, Limit: cfg.AnalysisLimit, Seed: r.Seed, Gallery: cfg.Examples},
		Progress: func(done, total int) { r.update("analyze "+name, "images", done, total) }}
	_, err = st.Run(ctx)
	r.done()
	if err != nil {
		return interrupted(err, r.Dir)
	}
	s, err := analysis.Summarize(st.Dir)
	if err != nil {
		return err
	}
	if err := s.WriteFiles(st.Dir); err != nil {
		return err
	}
	fmt.Fprintf(r.out, "  analysed in %s: %d correctly classified of the first %d test images, eps %g, attacks %s\n",
		since(t0), s.Analysed, s.Images, cfg.AnalysisEps, strings.Join(cfg.AnalysisAttacks, ", "))
	for _, o := range s.Overall {
		fmt.Fprintf(r.out, "    observation %-2s %s: %s\n", o.Observation, o.Status, o.Text)
	}
	return nil
}

// writeReport writes DIR/report.html about runs and returns its absolute
// path.
func writeReport(dir string, runs []string, examples int) (string, error) {
	rs, err := report.Load(runs, false)
	if err != nil {
		return "", err
	}
	var page bytes.Buffer
	title := "arp demo: Step-LL adversarial training vs ARP on the MNIST subset"
	if err := report.Write(&page, rs, report.Options{Title: title, Examples: examples, Command: "arp demo"}); err != nil {
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
	return abs, nil
}

// clean removes what an earlier demo wrote into a run directory.
func clean(run string) error {
	if err := rundir.Remove(run, rundir.TrainingFiles()...); err != nil {
		return err
	}
	if err := rundir.Remove(run, rundir.Eval); err != nil {
		return err
	}
	return rundir.Remove(rundir.AnalysisDir(run, ""), rundir.AnalysisFiles()...)
}

// interrupted words a cancelled demo's error.
func interrupted(err error, dir string) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, train.ErrInterrupted) {
		return fmt.Errorf("demo interrupted; run arp demo again to start over (files so far are in %s)", dir)
	}
	return err
}

func since(t time.Time) string { return time.Since(t).Round(100 * time.Millisecond).String() }
