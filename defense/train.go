package defense

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/arp-robustness/arp/attack"
	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/checkpoint"
	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/optim"
	"github.com/arp-robustness/arp/tensor"
)

// Errors Train returns (wrapped, with details); test with errors.Is.
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
	Objective Objective // [Standard]
	Optimizer string    // "adam" or "sgd" ["adam"]
	LR        float64   // base learning rate [1e-4, the paper's]
	Momentum  float64   // SGD momentum
	Schedule  Schedule
	BatchSize int // [50]
	Steps     int // number of steps (mini-batches); required
	Seed      uint64
	Flip      bool // random horizontal flips
	// EvalEvery evaluates on the evaluation set every so many steps (and
	// always after the last step) [0: only after the last].
	EvalEvery int
	// EvalEps is the budget of the evaluation's Step-LL attack [DefaultEps].
	EvalEps float64
	// LogEvery writes a metrics line every so many steps (and at each
	// evaluation) [10].
	LogEvery int
	// CheckpointEvery saves a checkpoint every so many steps; one is also
	// saved at the end and when the context is cancelled [0: only then].
	CheckpointEvery int
	// Dir is the run directory; "" writes no files.
	Dir string
	// Info is written to model.json (Train fills in Training).
	Info nn.Info
	// Data describes the data for the record (dataset names, limits); it
	// must match on resume.
	Data map[string]any
	// Command records the command line (not compared on resume).
	Command map[string]string
	// Resume continues from Dir's checkpoint.
	Resume bool
	// Progress, if set, is called after every step.
	Progress func(Progress)
}

// Record is the settings of a run as stored in the checkpoint and in
// model.json ("training"."settings").
type Record struct {
	Arch              string            `json:"arch"`
	Objective         string            `json:"defense"`
	ObjectiveSettings map[string]any    `json:"objective"`
	Optimizer         string            `json:"optimizer"`
	LR                float64           `json:"lr"`
	Momentum          float64           `json:"momentum,omitempty"`
	WeightDecayScale  float64           `json:"weight_decay_scale"`
	Schedule          Schedule          `json:"lr_schedule"`
	BatchSize         int               `json:"batch_size"`
	Steps             int               `json:"steps"`
	StepsPerEpoch     int               `json:"steps_per_epoch"`
	Seed              uint64            `json:"seed"`
	Flip              bool              `json:"flip"`
	TrainImages       int               `json:"train_images"`
	EvalImages        int               `json:"eval_images"`
	EvalEvery         int               `json:"eval_every"`
	EvalEps           float64           `json:"eval_eps"`
	LogEvery          int               `json:"log_every"`
	CheckpointEvery   int               `json:"checkpoint_every"`
	Data              map[string]any    `json:"data,omitempty"`
	Command           map[string]string `json:"command,omitempty"`
}

// resumeFree lists the Record fields that may change when a run is resumed.
var resumeFree = map[string]bool{"steps": true, "eval_every": true, "log_every": true, "checkpoint_every": true, "command": true}

// differences lists the fields of old and cur that differ (except
// resumeFree), as "field old -> new".
func differences(old, cur Record) []string {
	toMap := func(r Record) map[string]json.RawMessage {
		b, _ := json.Marshal(r)
		var m map[string]json.RawMessage
		_ = json.Unmarshal(b, &m)
		return m
	}
	a, b := toMap(old), toMap(cur)
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var diffs []string
	for k := range keys {
		if resumeFree[k] {
			continue
		}
		va, vb := normJSON(a[k]), normJSON(b[k])
		if va != vb {
			diffs = append(diffs, fmt.Sprintf("%s %s (checkpoint) vs %s (now)", k, orNone(va), orNone(vb)))
		}
	}
	sort.Strings(diffs)
	return diffs
}

func normJSON(r json.RawMessage) string {
	if len(r) == 0 {
		return ""
	}
	var v any
	if json.Unmarshal(r, &v) != nil {
		return string(r)
	}
	b, _ := json.Marshal(v) // sorts keys, normalises numbers
	return string(b)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
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

// EvalResult is an evaluation on the held-out images.
type EvalResult struct {
	Step      int     `json:"step"`
	N         int     `json:"n"`
	CleanAcc  float64 `json:"clean_acc"`
	StepLLAcc float64 `json:"step_ll_acc"`
	Eps       float64 `json:"eps"`
}

// Summary describes a finished (or interrupted) Train call.
type Summary struct {
	Start, Done, Steps int // first step of this call, completed steps, total
	Eval               *EvalResult
	Elapsed            time.Duration
}

// trainingInfo is model.json's "training".
type trainingInfo struct {
	Settings  Record      `json:"settings"`
	StepsDone int         `json:"steps_done"`
	Complete  bool        `json:"complete"`
	LastEval  *EvalResult `json:"last_eval,omitempty"`
}

// Evaluate returns the clean accuracy and the accuracy under Step-LL with
// budget eps of m on d (evaluation mode, batches of batch images).
func Evaluate(ctx context.Context, m nn.Classifier, d *data.Dataset, eps float64, batch int) (*EvalResult, error) {
	if batch < 1 {
		batch = 100
	}
	if err := nn.CheckInput(m, []int{1, d.C, d.H, d.W}); err != nil {
		return nil, fmt.Errorf("evaluation data %s: %v", d.Name, err)
	}
	r := &EvalResult{N: d.Len(), Eps: eps}
	if d.Len() == 0 {
		return r, nil
	}
	atk := attack.NewStepLL(eps)
	clean, adv := 0, 0
	per := d.ImageSize()
	for lo := 0; lo < d.Len(); lo += batch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(d.Len(), lo+batch)
		x := tensor.FromFloat32(append([]float32(nil), d.Images[lo*per:hi*per]...), hi-lo, d.C, d.H, d.W)
		y := d.Labels[lo:hi]
		xa, err := atk.Perturb(ctx, m, x, y)
		if err != nil {
			return nil, err
		}
		for _, pair := range []struct {
			x *tensor.Tensor
			n *int
		}{{x, &clean}, {xa, &adv}} {
			var pred []int
			var ferr error
			autograd.NoGrad(func() {
				ferr = autograd.Try(func() {
					l, _ := m.Forward(autograd.Const(pair.x), nn.Eval)
					pred = autograd.ArgMax(l, 1)
				})
			})
			if ferr != nil {
				return nil, ferr
			}
			for i, p := range pred {
				if p == y[i] {
					*pair.n++
				}
			}
		}
	}
	r.CleanAcc = float64(clean) / float64(d.Len())
	r.StepLLAcc = float64(adv) / float64(d.Len())
	return r, nil
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

// Train trains m on train with cfg, evaluating on eval (which may be nil)
// and writing the run to cfg.Dir. It returns after cfg.Steps steps, when
// ctx is cancelled (after saving a checkpoint; the error wraps
// ErrInterrupted), or on the first error. All randomness (shuffling, flips,
// dropout, attacks) is derived from cfg.Seed and the step number, so a run
// resumed from a checkpoint repeats the uninterrupted run exactly.
func Train(ctx context.Context, m *nn.Model, train, eval *data.Dataset, cfg Config) (*Summary, error) {
	t0 := time.Now()
	if cfg.Objective == nil {
		cfg.Objective = Standard{}
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
		cfg.EvalEps = DefaultEps
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
	case cfg.Momentum < 0 || cfg.Momentum >= 1:
		return nil, fmt.Errorf("momentum %g outside [0,1)", cfg.Momentum)
	case cfg.EvalEvery < 0 || cfg.LogEvery < 0 || cfg.CheckpointEvery < 0:
		return nil, fmt.Errorf("eval, log and checkpoint intervals must be >= 0")
	case !(cfg.EvalEps > 0) || cfg.EvalEps > 1:
		return nil, fmt.Errorf("evaluation eps %g must be in (0,1]", cfg.EvalEps)
	}
	if err := cfg.Schedule.Validate(); err != nil {
		return nil, err
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
	if s, ok := cfg.Objective.(WeightDecayScaler); ok {
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

	r := &runner{cfg: cfg, m: m, opt: opt, rec: rec, train: train, eval: eval, perEpoch: perEpoch, t0: t0}
	if err := r.open(); err != nil {
		return nil, err
	}
	defer r.close()
	return r.loop(ctx, params, names)
}

// newStep builds step number step (0-based) of a run with seed: its
// dropout source and attack seed derive from (seed, step), and its Update
// checks the loss and gradients before applying opt.
func newStep(m *nn.Model, params []*autograd.Var, names []string, opt optim.Optimizer, x *tensor.Tensor, y []int, seed uint64, step int) *Step {
	update := func(l *Loss) error {
		if v := l.Total.Item(); !finite(v) {
			return &NonFiniteError{Step: step + 1, What: "loss", Value: v, Terms: l.Terms}
		}
		grads, err := autograd.Grad([]*autograd.Var{l.Total}, nil, params, false)
		if err != nil {
			return err
		}
		for i, g := range grads {
			for _, v := range g.Value().Float32s() {
				if !finite(float64(v)) {
					return &NonFiniteError{Step: step + 1, What: "gradient of " + names[i], Value: float64(v), Terms: l.Terms}
				}
			}
		}
		return opt.Step(grads)
	}
	return &Step{Ctx: context.Background(), Model: m, X: x, Y: y,
		Mode:   nn.Mode{Train: true, Rng: newRand(seed, streamDropout, uint64(step))},
		Seed:   derive(seed, streamAttack, uint64(step)),
		Update: update}
}

// TrainStep runs training step number step (0-based) of a run with seed on
// the batch (x, y) with optimiser opt over m's trainable parameters (in
// the order of m.Trainable): the computation Train performs for that step.
// It is meant for benchmarks and custom loops.
func TrainStep(obj Objective, m *nn.Model, opt optim.Optimizer, x *tensor.Tensor, y []int, seed uint64, step int) (*Result, error) {
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
	return obj.Step(newStep(m, params, names, opt, x, y, seed, step))
}

// runner holds the state of one Train call.
type runner struct {
	cfg      Config
	m        *nn.Model
	opt      optim.Optimizer
	rec      Record
	train    *data.Dataset
	eval     *data.Dataset
	perEpoch int
	t0       time.Time

	start int
	win   window
	// throughput since the last metrics line (evaluations excluded)
	winTime     time.Duration
	timedImages int
	history     []map[string]any
	metrics     *os.File
	lastEval    *EvalResult
	lastSave    int // step of the last checkpoint on disk (-1: none)
}

func (r *runner) path(name string) string { return filepath.Join(r.cfg.Dir, name) }

// open prepares the run directory, loading the checkpoint when resuming.
func (r *runner) open() error {
	r.lastSave = -1
	dir := r.cfg.Dir
	if dir == "" {
		if r.cfg.Resume {
			return fmt.Errorf("resuming needs a run directory")
		}
		return nil
	}
	if !r.cfg.Resume {
		if found := RunExists(dir); len(found) > 0 {
			return fmt.Errorf("%s holds a run already (%s): %w", dir, strings.Join(found, ", "), ErrRunExists)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(r.path(MetricsFile), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		r.metrics = f
		return nil
	}
	ck, err := ReadCheckpoint(r.path(CheckpointFile))
	if err != nil {
		return err
	}
	if ck.Record.Arch != r.rec.Arch {
		return fmt.Errorf("%s is a checkpoint of architecture %s, not %s", r.path(CheckpointFile), ck.Record.Arch, r.rec.Arch)
	}
	if d := differences(ck.Record, r.rec); len(d) > 0 {
		return fmt.Errorf("%s was written with other settings: %s", r.path(CheckpointFile), strings.Join(d, "; "))
	}
	if ck.Step > r.cfg.Steps {
		return fmt.Errorf("%s is at step %d, beyond the %d steps asked for", r.path(CheckpointFile), ck.Step, r.cfg.Steps)
	}
	if err := r.m.LoadState(ck.Model); err != nil {
		return fmt.Errorf("%s: %v", r.path(CheckpointFile), err)
	}
	if err := r.opt.LoadState(ck.Optim); err != nil {
		return fmt.Errorf("%s: %v", r.path(CheckpointFile), err)
	}
	r.start, r.win, r.lastSave = ck.Step, ck.win, ck.Step
	// keep the metrics up to the checkpoint; later lines are redone
	kept, err := readMetrics(r.path(MetricsFile), ck.Step)
	if err != nil {
		return err
	}
	r.history = kept
	var buf bytes.Buffer
	for _, h := range kept {
		b, _ := json.Marshal(h)
		buf.Write(append(b, '\n'))
	}
	if err := checkpoint.AtomicWriteFile(r.path(MetricsFile), buf.Bytes(), 0o644); err != nil {
		return err
	}
	f, err := os.OpenFile(r.path(MetricsFile), os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	r.metrics = f
	for i := len(kept) - 1; i >= 0; i-- {
		if _, ok := kept[i]["eval_clean_acc"]; ok {
			r.lastEval = evalFromLine(kept[i])
			break
		}
	}
	return nil
}

func (r *runner) close() {
	if r.metrics != nil {
		r.metrics.Close()
	}
}

// readMetrics returns the metrics lines with step <= upTo; a missing file
// is empty and an unreadable last line (a crash mid-write) is dropped.
func readMetrics(path string, upTo int) ([]map[string]any, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		if s, ok := m["step"].(float64); ok && int(s) <= upTo {
			out = append(out, m)
		}
	}
	return out, nil
}

func evalFromLine(m map[string]any) *EvalResult {
	f := func(k string) float64 { v, _ := m[k].(float64); return v }
	return &EvalResult{Step: int(f("step")), N: int(f("eval_n")), CleanAcc: f("eval_clean_acc"), StepLLAcc: f("eval_step_ll_acc"), Eps: f("eval_eps")}
}

func (r *runner) loop(ctx context.Context, params []*autograd.Var, names []string) (*Summary, error) {
	cfg := r.cfg
	sum := &Summary{Start: r.start, Done: r.start, Steps: cfg.Steps}
	var it *data.BatchIterator
	epoch := -1
	stepCtx := context.WithoutCancel(ctx) // steps always complete
	for step := r.start; step < cfg.Steps; step++ {
		if ctx.Err() != nil {
			sum.Done, sum.Elapsed, sum.Eval = step, time.Since(r.t0), r.lastEval
			if cfg.Dir == "" {
				return sum, fmt.Errorf("%w after %d of %d steps", ErrInterrupted, step, cfg.Steps)
			}
			if err := r.save(step); err != nil {
				return sum, fmt.Errorf("%w after %d of %d steps, but saving the checkpoint failed: %v", ErrInterrupted, step, cfg.Steps, err)
			}
			return sum, fmt.Errorf("%w after %d of %d steps; checkpoint saved in %s", ErrInterrupted, step, cfg.Steps, r.path(CheckpointFile))
		}
		if e := step / r.perEpoch; e != epoch {
			var err error
			it, err = r.train.Batches(data.BatchOptions{Size: cfg.BatchSize, DropLast: true, Shuffle: true,
				Flip: cfg.Flip, Seed: derive(cfg.Seed, streamShuffle, uint64(e))})
			if err != nil {
				return sum, err
			}
			for b := 0; b < step%r.perEpoch; b++ { // resuming mid-epoch
				it.Next()
			}
			epoch = e
		}
		b, ok := it.Next()
		if !ok {
			return sum, fmt.Errorf("internal error: epoch %d ended early at step %d", epoch, step)
		}
		stepStart := time.Now()
		lr := cfg.Schedule.LR(cfg.LR, step, cfg.Steps)
		r.opt.SetLR(lr)
		s := newStep(r.m, params, names, r.opt, tensor.FromFloat32(b.Images, b.N, b.C, b.H, b.W), b.Labels, cfg.Seed, step)
		res, err := cfg.Objective.Step(s)
		if err != nil {
			sum.Done, sum.Elapsed = step, time.Since(r.t0)
			if errors.Is(err, ErrNonFinite) {
				where := "no checkpoint was written yet"
				if r.lastSave >= 0 && cfg.Dir != "" {
					where = fmt.Sprintf("the last good checkpoint is %s (step %d)", r.path(CheckpointFile), r.lastSave)
				}
				return sum, fmt.Errorf("%w: training stopped; %s", err, where)
			}
			return sum, fmt.Errorf("step %d: %w", step+1, err)
		}
		r.win.add(res, b.N)
		r.winTime += time.Since(stepStart)
		r.timedImages += b.N
		done := step + 1
		sum.Done = done
		last := done == cfg.Steps
		var ev *EvalResult
		if r.eval != nil && (last || (cfg.EvalEvery > 0 && done%cfg.EvalEvery == 0)) {
			ev, err = Evaluate(stepCtx, r.m, r.eval, cfg.EvalEps, 100)
			if err != nil {
				return sum, fmt.Errorf("evaluation after step %d: %w", done, err)
			}
			ev.Step = done
			r.lastEval = ev
		}
		p := Progress{Step: done, Steps: cfg.Steps, Epoch: float64(done) / float64(r.perEpoch),
			Loss: r.win.Loss / float64(r.win.Steps), TrainAcc: float64(r.win.Correct) / float64(max(1, r.win.Images)),
			LR: lr, ImagesPerSec: r.imagesPerSec(),
			Elapsed: time.Since(r.t0), Eval: ev}
		if last || ev != nil || done%cfg.LogEvery == 0 {
			if err := r.log(done, lr, ev); err != nil {
				return sum, err
			}
		}
		if cfg.Progress != nil {
			cfg.Progress(p)
		}
		if cfg.Dir != "" && !last && cfg.CheckpointEvery > 0 && done%cfg.CheckpointEvery == 0 {
			if err := r.save(done); err != nil {
				return sum, err
			}
		}
	}
	if cfg.Dir != "" && (r.lastSave != cfg.Steps || r.start == cfg.Steps) {
		if err := r.save(cfg.Steps); err != nil {
			return sum, err
		}
	}
	sum.Done, sum.Elapsed, sum.Eval = cfg.Steps, time.Since(r.t0), r.lastEval
	return sum, nil
}

// imagesPerSec is the training throughput of the current window.
func (r *runner) imagesPerSec() float64 {
	return float64(r.timedImages) / math.Max(r.winTime.Seconds(), 1e-9)
}

// log writes a metrics line for the window ending at step done and resets
// the window.
func (r *runner) log(done int, lr float64, ev *EvalResult) error {
	w := r.win
	line := map[string]any{"step": done, "epoch": round(float64(done)/float64(r.perEpoch), 4), "lr": lr}
	if w.Steps > 0 {
		line["loss"] = w.Loss / float64(w.Steps)
		line["train_acc"] = float64(w.Correct) / float64(max(1, w.Images))
		for k, v := range w.Terms {
			if k != "loss" {
				line[k] = v / float64(w.Steps)
			}
		}
		line["images_per_s"] = round(r.imagesPerSec(), 1)
	}
	line["elapsed_s"] = round(time.Since(r.t0).Seconds(), 2)
	if ev != nil {
		line["eval_clean_acc"] = ev.CleanAcc
		line["eval_step_ll_acc"] = ev.StepLLAcc
		line["eval_n"] = ev.N
		line["eval_eps"] = ev.Eps
	}
	for k, v := range line {
		if f, ok := v.(float64); ok && !finite(f) {
			line[k] = nil // JSON has no NaN
		}
	}
	r.win = window{}
	r.winTime, r.timedImages = 0, 0
	b, err := json.Marshal(line)
	if err != nil {
		return err
	}
	// keep the history as it reads back from the file
	var back map[string]any
	_ = json.Unmarshal(b, &back)
	r.history = append(r.history, back)
	if r.metrics != nil {
		if _, err := r.metrics.Write(append(b, '\n')); err != nil {
			return fmt.Errorf("%s: %v", r.path(MetricsFile), err)
		}
	}
	return nil
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// save writes the checkpoint for done completed steps, the model files and
// the curves.
func (r *runner) save(done int) error {
	if err := r.metrics.Sync(); err != nil {
		return fmt.Errorf("%s: %v", r.path(MetricsFile), err)
	}
	ck := &Checkpoint{Step: done, Record: r.rec, Model: r.m.State(), Optim: r.opt.State(), win: r.win}
	if err := writeCheckpoint(r.path(CheckpointFile), ck); err != nil {
		return err
	}
	r.lastSave = done
	info := r.cfg.Info
	ti, err := json.Marshal(trainingInfo{Settings: r.rec, StepsDone: done, Complete: done == r.cfg.Steps, LastEval: r.lastEval})
	if err != nil {
		return err
	}
	info.Training = ti
	if info.Seed == 0 {
		info.Seed = r.cfg.Seed
	}
	if err := nn.SaveRun(r.cfg.Dir, r.m, info); err != nil {
		return err
	}
	return writeCurves(r.path(CurvesFile), r.history, r.rec)
}
