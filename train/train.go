package train

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/defense"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/optim"
	"github.com/arp-robustness/arp/rundir"
	"github.com/arp-robustness/arp/tensor"
)

// Errors Run returns (wrapped, with details); test with errors.Is.
var (
	// ErrInterrupted: the context was cancelled; the state after the last
	// completed step was saved.
	ErrInterrupted = errors.New("training interrupted")
	// ErrNonFinite: a loss or gradient was NaN or infinite; training stopped
	// without applying it, and no checkpoint was written for that step.
	ErrNonFinite = errors.New("non-finite loss")
	// ErrRunExists: the run directory already holds a run and Resume is not
	// set.
	ErrRunExists = errors.New("run directory is not empty")
)

// Config configures Train. Zero values get the defaults in brackets.
type Config struct {
	Objective defense.Objective // [defense.Standard]
	Optimizer string            // "adam" or "sgd" ["adam"]
	LR        float64           // base learning rate [1e-4, the paper's]
	Momentum  float64           // SGD momentum
	Schedule  Schedule
	BatchSize int // [50]
	Steps     int // number of steps (mini-batches); required
	Seed      uint64
	Flip      bool // random horizontal flips
	// EvalEvery evaluates on the evaluation set every so many steps (and
	// always after the last step) [0: only after the last].
	EvalEvery int
	// EvalEps is the budget of the evaluation's Step-LL attack [defense.DefaultEps].
	EvalEps float64
	// LogEvery writes a metrics line every so many steps (and at each
	// evaluation) [10].
	LogEvery int
	// CheckpointEvery saves a checkpoint every so many steps; one is also
	// saved at the end and when the context is cancelled [0: only then].
	CheckpointEvery int
	// Dir is the run directory; "" writes no files.
	Dir string
	// Info is written to model.json (Run fills in Training).
	Info nn.Info
	// Data describes the data for the record (dataset names, limits); it
	// must match on resume.
	Data map[string]any
	// Command records the command line (not compared on resume).
	Command map[string]string
	// Resume continues from Dir's checkpoint.
	Resume bool
	// Replace starts over in a Dir that holds a run, removing its
	// training files (rundir.TrainingFiles) once Dir is locked.
	Replace bool
	// Lock is the caller's lock on Dir (rundir.LockDir), held from before
	// it looked at Dir until after Run; nil: Run locks Dir for its own
	// duration. Either way, no other process writes Dir while Run does.
	Lock *rundir.Lock
	// Progress, if set, is called after every step.
	Progress func(Progress)
}

// Progress is reported after every step.
type Progress struct {
	Step, Steps int     // completed steps, total
	Epoch       float64 // completed epochs
	// Loss and TrainAcc average the steps since the last metrics line.
	Loss, TrainAcc float64
	LR             float64
	ImagesPerSec   float64
	Elapsed        time.Duration // since this invocation started
	// Eval is set when an evaluation just ran.
	Eval *EvalResult
}

// Summary describes a finished (or interrupted) Run call.
type Summary struct {
	Start, Done, Steps int // first step of this call, completed steps, total
	Eval               *EvalResult
	Elapsed            time.Duration
	// Notes are problems that did not stop the run (a plot that could not
	// be drawn, say).
	Notes []string
}

// NonFiniteError reports a NaN or infinite loss or gradient.
type NonFiniteError struct {
	Step  int    // 1-based step
	What  string // "loss" or "gradient of <parameter>"
	Value float64
	Terms map[string]float64
}

func (e *NonFiniteError) Error() string {
	s := fmt.Sprintf("step %d: the %s is %v", e.Step, e.What, e.Value)
	if len(e.Terms) > 0 {
		s += " (" + formatTerms(e.Terms) + ")"
	}
	return s
}

func (e *NonFiniteError) Is(target error) bool { return target == ErrNonFinite }

// Run trains m on train with cfg, evaluating on eval (which may be nil)
// and writing the run to cfg.Dir. It returns after cfg.Steps steps, when
// ctx is cancelled (after saving a checkpoint; the error wraps
// ErrInterrupted), or on the first error. All randomness (shuffling, flips,
// dropout, attacks) is derived from cfg.Seed and the step number, so a run
// resumed from a checkpoint repeats the uninterrupted run exactly.
func Run(ctx context.Context, m *nn.Model, train, eval *data.Dataset, cfg Config) (*Summary, error) {
	t0 := time.Now()
	if cfg.Objective == nil {
		cfg.Objective = defense.Standard{}
	}
	if cfg.Optimizer == "" {
		cfg.Optimizer = "adam"
	}
	if cfg.LR == 0 {
		cfg.LR = 1e-4
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 50
	}
	if cfg.EvalEps == 0 {
		cfg.EvalEps = defense.DefaultEps
	}
	if cfg.LogEvery == 0 {
		cfg.LogEvery = 10
	}
	if cfg.Schedule.Kind == "" {
		cfg.Schedule.Kind = "constant"
	}
	switch {
	case cfg.Steps < 1:
		return nil, fmt.Errorf("the number of steps must be positive, got %d", cfg.Steps)
	case cfg.BatchSize < 1:
		return nil, fmt.Errorf("batch size %d must be positive", cfg.BatchSize)
	case !(cfg.LR > 0) || math.IsInf(cfg.LR, 0):
		return nil, fmt.Errorf("learning rate %g must be positive", cfg.LR)
	case !(cfg.Momentum >= 0 && cfg.Momentum < 1):
		return nil, fmt.Errorf("momentum %g outside [0,1)", cfg.Momentum)
	case cfg.EvalEvery < 0:
		return nil, fmt.Errorf("evaluation interval %d must be >= 0", cfg.EvalEvery)
	case cfg.LogEvery < 0:
		return nil, fmt.Errorf("logging interval %d must be >= 0", cfg.LogEvery)
	case cfg.CheckpointEvery < 0:
		return nil, fmt.Errorf("checkpoint interval %d must be >= 0", cfg.CheckpointEvery)
	case !(cfg.EvalEps > 0) || cfg.EvalEps > 1:
		return nil, fmt.Errorf("evaluation eps %g must be in (0,1]", cfg.EvalEps)
	}
	if err := cfg.Schedule.Validate(); err != nil {
		return nil, err
	}
	if c, ok := cfg.Objective.(defense.ModelChecker); ok {
		if err := c.CheckModel(m); err != nil {
			return nil, err
		}
	}
	if err := nn.CheckInput(m, []int{1, train.C, train.H, train.W}); err != nil {
		return nil, fmt.Errorf("training data %s: %v", train.Name, err)
	}
	for i, l := range train.Labels {
		if l < 0 || l >= m.NumClasses() {
			return nil, fmt.Errorf("training data %s: image %d has label %d, the model has %d classes", train.Name, i, l, m.NumClasses())
		}
	}
	if eval != nil {
		if err := nn.CheckInput(m, []int{1, eval.C, eval.H, eval.W}); err != nil {
			return nil, fmt.Errorf("evaluation data %s: %v", eval.Name, err)
		}
	}
	perEpoch := train.Len() / cfg.BatchSize
	if perEpoch == 0 {
		return nil, fmt.Errorf("batch size %d is larger than the %d training images", cfg.BatchSize, train.Len())
	}

	// optimiser with the model's per-parameter L2 coefficients
	params, wd := m.Trainable()
	var names []string
	for _, p := range m.Params() {
		if !p.Buffer {
			names = append(names, p.Name)
		}
	}
	wdScale := 1.0
	if s, ok := cfg.Objective.(defense.WeightDecayScaler); ok {
		wdScale = s.WeightDecayScale()
	}
	anyWD := false
	for i := range wd {
		wd[i] *= wdScale
		anyWD = anyWD || wd[i] != 0
	}
	if !anyWD {
		wd = nil
	}
	var opt optim.Optimizer
	switch cfg.Optimizer {
	case "adam":
		a := optim.NewAdam(params, cfg.LR)
		a.WeightDecay = wd
		opt = a
	case "sgd":
		s := optim.NewSGD(params, cfg.LR, cfg.Momentum)
		s.WeightDecay = wd
		opt = s
	default:
		return nil, fmt.Errorf("unknown optimizer %q; known: adam, sgd", cfg.Optimizer)
	}

	rec := Record{Arch: m.Spec.Arch, Objective: cfg.Objective.Name(), ObjectiveSettings: cfg.Objective.Settings(),
		Optimizer: cfg.Optimizer, LR: cfg.LR, WeightDecayScale: wdScale, Schedule: cfg.Schedule,
		BatchSize: cfg.BatchSize, Steps: cfg.Steps, StepsPerEpoch: perEpoch, Seed: cfg.Seed, Flip: cfg.Flip,
		TrainImages: train.Len(), EvalEvery: cfg.EvalEvery, EvalEps: cfg.EvalEps, LogEvery: cfg.LogEvery,
		CheckpointEvery: cfg.CheckpointEvery, Data: cfg.Data, Command: cfg.Command}
	if cfg.Optimizer == "sgd" {
		rec.Momentum = cfg.Momentum
	}
	if eval != nil {
		rec.EvalImages = eval.Len()
	}

	if cfg.Dir != "" {
		release, err := rundir.Hold(cfg.Lock, cfg.Dir)
		if err != nil {
			return nil, err
		}
		defer release()
	}
	r := &runner{cfg: cfg, m: m, opt: opt, rec: rec, train: train, eval: eval, perEpoch: perEpoch, t0: t0}
	if err := r.open(); err != nil {
		return nil, err
	}
	defer r.close()
	sum, err := r.loop(ctx, params, names)
	if r.curvesErr != nil {
		sum.Notes = append(sum.Notes, fmt.Sprintf("%s was not drawn (the run is unaffected): %v", r.path(rundir.Curves), r.curvesErr))
	}
	return sum, err
}

// newStep builds step number step (0-based) of a run with seed: its
// dropout source and attack seed derive from (seed, step), and its Update
// checks the loss and gradients before applying opt.
func newStep(m *nn.Model, params []*autograd.Var, names []string, opt optim.Optimizer, x *tensor.Tensor, y []int, seed uint64, step int) *defense.Step {
	update := func(l *defense.Loss) error {
		if v := l.Total.Item(); !finite(v) {
			return &NonFiniteError{Step: step + 1, What: "loss", Value: v, Terms: l.Terms}
		}
		grads, err := autograd.Grad([]*autograd.Var{l.Total}, nil, params, false)
		if err != nil {
			return err
		}
		for i, g := range grads {
			if j, v := g.Value().NonFinite(); j >= 0 {
				return &NonFiniteError{Step: step + 1, What: "gradient of " + names[i], Value: v, Terms: l.Terms}
			}
		}
		return opt.Step(grads)
	}
	return &defense.Step{Ctx: context.Background(), Model: m, X: x, Y: y,
		Mode:   nn.Mode{Train: true, Rng: newRand(seed, streamDropout, uint64(step))},
		Seed:   derive(seed, streamAttack, uint64(step)),
		Update: update}
}

// Step runs training step number step (0-based) of a run with seed on
// the batch (x, y) with optimiser opt over m's trainable parameters (in
// the order of m.Trainable): the computation Run performs for that step.
// It is meant for benchmarks and custom loops.
func Step(obj defense.Objective, m *nn.Model, opt optim.Optimizer, x *tensor.Tensor, y []int, seed uint64, step int) (*defense.Result, error) {
	params, _ := m.Trainable()
	var names []string
	for _, p := range m.Params() {
		if !p.Buffer {
			names = append(names, p.Name)
		}
	}
	if x.DType() != tensor.Float32 {
		x = x.AsType(tensor.Float32)
	}
	return runStep(obj, newStep(m, params, names, opt, x, y, seed, step))
}

// runStep runs one training step inside an arena (autograd.OpenArena):
// its forward passes, gradients and attacks' working memory are recycled
// from step to step. Nothing computed in a step outlives it but the
// parameters and the optimiser's state, which are updated in place (their
// storage is not the arena's), and the scalars of the result.
func runStep(obj defense.Objective, s *defense.Step) (*defense.Result, error) {
	a := autograd.OpenArena()
	defer a.Close()
	return obj.Step(s)
}

// finite reports whether v is neither NaN nor infinite.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// formatTerms renders terms sorted by name, for messages.
func formatTerms(t map[string]float64) string {
	keys := slices.Sorted(maps.Keys(t))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%.4g", k, t[k])
	}
	return strings.Join(parts, " ")
}
