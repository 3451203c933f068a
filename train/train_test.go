package train

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/arp-robustness/arp/attack"
	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/checkpoint"
	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/defense"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/optim"
	"github.com/arp-robustness/arp/rundir"
	"github.com/arp-robustness/arp/tensor"
)

func newAdamFor(m *nn.Model) optim.Optimizer {
	p, _ := m.Trainable()
	return optim.NewAdam(p, 1e-3)
}

var (
	miniOnce          sync.Once
	miniTrain, miniEv *data.Dataset
)

// mini returns the embedded MNIST subset's training split and 200
// held-out test images.
func mini(t *testing.T) (*data.Dataset, *data.Dataset) {
	t.Helper()
	miniOnce.Do(func() {
		tr, err := data.Open("mnist-mini:train", data.Options{})
		if err != nil {
			t.Fatal(err)
		}
		te, err := data.Open("mnist-mini:test", data.Options{})
		if err != nil {
			t.Fatal(err)
		}
		miniTrain = tr
		miniEv, _ = te.Split(200)
	})
	return miniTrain, miniEv
}

func smallModel(t *testing.T, seed uint64) *nn.Model {
	t.Helper()
	spec, err := nn.DefaultSpec("mnist-small", 1, 28, 28, 10)
	if err != nil {
		t.Fatal(err)
	}
	m, err := nn.Build(spec, seed)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestTrainingLearns(t *testing.T) {
	train, ev := mini(t)
	for _, tc := range []struct {
		name  string
		steps int
	}{{"none", 30}, {"arp", 24}} {
		t.Run(tc.name, func(t *testing.T) {
			m := smallModel(t, 1)
			before, err := Evaluate(context.Background(), m, ev, defense.DefaultEps, 100)
			if err != nil {
				t.Fatal(err)
			}
			obj, err := defense.New(tc.name, defense.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var losses, accs []float64
			sum, err := Run(context.Background(), m, train, ev, Config{Objective: obj, LR: 3e-3, BatchSize: 20,
				Steps: tc.steps, LogEvery: 6, Seed: 3,
				Progress: func(p Progress) {
					if p.Step%6 == 0 {
						losses = append(losses, p.Loss)
						accs = append(accs, p.TrainAcc)
					}
				}})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("losses %.3f, train accuracies %.2f, held-out %.3f -> %.3f (Step-LL %.3f)", losses, accs, before.CleanAcc, sum.Eval.CleanAcc, sum.Eval.StepLLAcc)
			if n := len(losses); losses[n-1] >= 0.8*losses[0] {
				t.Errorf("loss did not fall: %v", losses)
			}
			if n := len(accs); accs[n-1] < accs[0]+0.2 {
				t.Errorf("training accuracy did not rise: %v", accs)
			}
			if sum.Eval.CleanAcc < before.CleanAcc+0.2 {
				t.Errorf("held-out accuracy %.3f -> %.3f", before.CleanAcc, sum.Eval.CleanAcc)
			}
		})
	}
}

// resumeConfig is a run exercising every source of randomness: shuffling
// across an epoch boundary, flips, dropout and a randomised attack.
func resumeConfig(t *testing.T, dir string) (Config, *data.Dataset, *data.Dataset) {
	t.Helper()
	train, ev := mini(t)
	train, _ = train.Split(60)
	ev, _ = ev.Split(20)
	obj, err := defense.New("two-step", defense.Options{Attack: attack.Spec{Name: "r-step-ll", Config: attack.Config{Eps: 0.1}}})
	if err != nil {
		t.Fatal(err)
	}
	return Config{Objective: obj, LR: 1e-3, BatchSize: 10, Steps: 9, Seed: 42, Flip: true,
		EvalEvery: 4, LogEvery: 2, CheckpointEvery: 3, Dir: dir,
		Schedule: Schedule{Kind: "cosine", Warmup: 2}}, train, ev
}

func TestResumeReproducesRun(t *testing.T) {
	ctx := context.Background()
	full := filepath.Join(t.TempDir(), "full")
	cfg, train, ev := resumeConfig(t, full)
	mFull := smallModel(t, 42)
	if _, err := Run(ctx, mFull, train, ev, cfg); err != nil {
		t.Fatal(err)
	}

	part := filepath.Join(t.TempDir(), "part")
	cfg, _, _ = resumeConfig(t, part)
	cctx, cancel := context.WithCancel(ctx)
	cfg.Progress = func(p Progress) {
		if p.Step == 5 { // after a periodic checkpoint at 3, before the one at 6
			cancel()
		}
	}
	sum, err := Run(cctx, smallModel(t, 42), train, ev, cfg)
	if !errors.Is(err, ErrInterrupted) || sum.Done != 5 {
		t.Fatalf("interrupted run: done %v, err %v", sum, err)
	}
	ck, err := ReadCheckpoint(filepath.Join(part, rundir.Checkpoint))
	if err != nil || ck.Step != 5 {
		t.Fatalf("checkpoint after interruption: %v, %v", ck, err)
	}

	// resume into a model initialised differently: everything must come
	// from the checkpoint
	cfg, _, _ = resumeConfig(t, part)
	cfg.Resume = true
	mRes := smallModel(t, 999)
	sum, err = Run(ctx, mRes, train, ev, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Start != 5 || sum.Done != 9 {
		t.Fatalf("resumed run: %+v", sum)
	}
	a, b := mFull.State(), mRes.State()
	for name, ta := range a {
		if d := tensor.MaxAbsDiff(ta, b[name]); d != 0 {
			t.Errorf("%s differs by %g after resuming", name, d)
		}
	}
	// the metrics are the same too, apart from timings
	strip := func(dir string) []map[string]any {
		lines, err := readMetrics(filepath.Join(dir, rundir.Metrics), 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lines {
			delete(l, "images_per_s")
			delete(l, "elapsed_s")
		}
		return lines
	}
	fa, fb := strip(full), strip(part)
	if len(fa) != len(fb) || len(fa) != 5 {
		t.Fatalf("%d metrics lines uninterrupted, %d resumed (want 5)", len(fa), len(fb))
	}
	for i := range fa {
		if normJSON(mustJSON(fa[i])) != normJSON(mustJSON(fb[i])) {
			t.Errorf("metrics line %d:\n%v\n%v", i, fa[i], fb[i])
		}
	}
	// the run directory is complete and loadable
	m, info, err := nn.LoadRun(part)
	if err != nil {
		t.Fatal(err)
	}
	if d := tensor.MaxAbsDiff(m.State()["conv1.weight"], a["conv1.weight"]); d != 0 {
		t.Fatalf("model.safetensors differs from the trained model by %g", d)
	}
	var ti Training
	if err := json.Unmarshal(info.Training, &ti); err != nil || ti.StepsDone != 9 || !ti.Complete || ti.Settings.Objective != "two-step" || ti.LastEval == nil {
		t.Fatalf("model.json training record: %+v, %v", ti, err)
	}
	if _, err := os.Stat(filepath.Join(part, rundir.Curves)); err != nil {
		t.Fatal(err)
	}
	// resuming a finished run does nothing
	cfg.Resume = true
	sum, err = Run(ctx, smallModel(t, 1), train, ev, cfg)
	if err != nil || sum.Start != 9 || sum.Done != 9 {
		t.Fatalf("resuming a complete run: %+v, %v", sum, err)
	}
}

func mustJSON(v map[string]any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// nanAt wraps an objective and poisons its loss at one step.
type nanAt struct {
	defense.Objective
	at, calls int
	grad      bool
}

func (o *nanAt) Step(s *defense.Step) (*defense.Result, error) {
	o.calls++
	if o.calls == o.at {
		inner := s.Update
		s2 := *s
		s2.Update = func(l *defense.Loss) error {
			if o.grad { // finite loss, NaN gradient
				l.Total = autograd.Add(l.Total, autograd.Scale(autograd.Sqrt(autograd.Scale(l.Total, 0)), 1))
			} else {
				l.Total = autograd.Scale(l.Total, math.NaN())
			}
			return inner(l)
		}
		return o.Objective.Step(&s2)
	}
	return o.Objective.Step(s)
}

func TestNonFiniteLossStops(t *testing.T) {
	train, _ := mini(t)
	train, _ = train.Split(100)
	for _, grad := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "run")
		m := smallModel(t, 1)
		_, err := Run(context.Background(), m, train, nil, Config{Objective: &nanAt{Objective: defense.Standard{}, at: 5, grad: grad},
			LR: 1e-3, BatchSize: 10, Steps: 10, CheckpointEvery: 2, Dir: dir})
		if !errors.Is(err, ErrNonFinite) {
			t.Fatalf("err = %v, want ErrNonFinite", err)
		}
		what := "the loss is NaN"
		if grad {
			what = "the gradient of"
		}
		for _, want := range []string{"step 5: " + what, "training stopped", "last good checkpoint is " + filepath.Join(dir, rundir.Checkpoint) + " (step 4)"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
		ck, err := ReadCheckpoint(filepath.Join(dir, rundir.Checkpoint))
		if err != nil || ck.Step != 4 {
			t.Fatalf("checkpoint: %v %v", ck, err)
		}
		// the poisoned update was not applied: the model is still the
		// checkpointed one
		for name, v := range m.State() {
			if d := tensor.MaxAbsDiff(v, ck.Model[name]); d != 0 || v.HasNaN() {
				t.Fatalf("%s changed by %g after the refused update", name, d)
			}
		}
	}
}

func TestTrainRejects(t *testing.T) {
	ctx := context.Background()
	train, _ := mini(t)
	train, _ = train.Split(40)
	dir := filepath.Join(t.TempDir(), "run")
	base := Config{LR: 1e-3, BatchSize: 10, Steps: 2, Dir: dir}
	if _, err := Run(ctx, smallModel(t, 1), train, nil, base); err != nil {
		t.Fatal(err)
	}
	with := func(f func(c *Config)) Config { c := base; f(&c); return c }
	spec, _ := nn.DefaultSpec("cifarnet", 1, 28, 28, 10)
	cifar, _ := nn.Build(spec, 1)
	for _, tc := range []struct {
		name string
		m    *nn.Model
		cfg  Config
		want string
	}{
		{"existing run", nil, base, "holds a run already"},
		{"no checkpoint", nil, with(func(c *Config) { c.Dir, c.Resume = t.TempDir(), true }), "no checkpoint to resume from"},
		{"other settings", nil, with(func(c *Config) { c.Resume, c.LR = true, 0.5 }), "lr 0.001 (checkpoint) vs 0.5 (now)"},
		{"steps beyond", nil, with(func(c *Config) { c.Resume, c.Steps = true, 1 }), "is at step 2, beyond the 1 steps asked for"},
		{"other architecture", cifar, with(func(c *Config) { c.Resume = true }), "checkpoint of architecture mnist-small, not cifarnet"},
		{"batch too large", nil, with(func(c *Config) { c.Dir, c.BatchSize = "", 100 }), "batch size 100 is larger than the 40 training images"},
		{"optimizer", nil, with(func(c *Config) { c.Dir, c.Optimizer = "", "lbfgs" }), `unknown optimizer "lbfgs"`},
		{"steps", nil, with(func(c *Config) { c.Dir, c.Steps = "", 0 }), "steps must be positive"},
		{"schedule", nil, with(func(c *Config) { c.Dir, c.Schedule.Kind = "", "zigzag" }), `unknown learning-rate schedule "zigzag"`},
	} {
		m := tc.m
		if m == nil {
			m = smallModel(t, 1)
		}
		_, err := Run(ctx, m, train, nil, tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	// a corrupt checkpoint
	path := filepath.Join(dir, rundir.Checkpoint)
	b, _ := os.ReadFile(path)
	if err := os.WriteFile(path, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Run(ctx, smallModel(t, 1), train, nil, with(func(c *Config) { c.Resume = true }))
	if !errors.Is(err, checkpoint.ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Fatalf("corrupt checkpoint: %v", err)
	}
	if rundir.Remove(dir, rundir.TrainingFiles()...) != nil || len(rundir.HoldsRun(dir)) != 0 {
		t.Fatal("removing the training files left some")
	}
}

func TestResumeSGD(t *testing.T) {
	ctx := context.Background()
	train, _ := mini(t)
	train, _ = train.Split(50)
	cfg := func(dir string) Config {
		return Config{Optimizer: "sgd", Momentum: 0.9, LR: 0.05, BatchSize: 10, Steps: 7, Seed: 9, Dir: dir,
			Schedule: Schedule{Kind: "step", StepEvery: 3, Gamma: 0.5}}
	}
	full := filepath.Join(t.TempDir(), "full")
	a := smallModel(t, 9)
	if _, err := Run(ctx, a, train, nil, cfg(full)); err != nil {
		t.Fatal(err)
	}
	part := filepath.Join(t.TempDir(), "part")
	cctx, cancel := context.WithCancel(ctx)
	c := cfg(part)
	c.Progress = func(p Progress) {
		if p.Step == 4 {
			cancel()
		}
	}
	if _, err := Run(cctx, smallModel(t, 9), train, nil, c); !errors.Is(err, ErrInterrupted) {
		t.Fatal(err)
	}
	c = cfg(part)
	c.Resume = true
	b := smallModel(t, 9)
	if _, err := Run(ctx, b, train, nil, c); err != nil {
		t.Fatal(err)
	}
	sb := b.State()
	for name, v := range a.State() {
		if d := tensor.MaxAbsDiff(v, sb[name]); d != 0 {
			t.Fatalf("SGD: %s differs by %g after resuming", name, d)
		}
	}
}

// TestCurvesNeverStopARun: curves.png that cannot be drawn or written is a
// note in the summary; the run completes and its checkpoint is written.
// Losses as large as a run with --lr 1e6 produces (and the constant
// huge values on which gonum/plot panicked) draw.
func TestCurvesNeverStopARun(t *testing.T) {
	var hist []map[string]any
	for i, v := range []float64{2.3e28, 1e300, 1e300, math.MaxFloat64, -math.MaxFloat64} {
		hist = append(hist, map[string]any{"step": float64(i + 1), "loss": v, "train_acc": 0.1, "eval_clean_acc": 0.1})
	}
	if err := writeCurves(filepath.Join(t.TempDir(), "curves.png"), hist, Record{Arch: "mnist-small", Objective: "none"}); err != nil {
		t.Fatalf("huge losses: %v", err)
	}

	train, _ := mini(t)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, rundir.Curves, "blocked"), 0o755); err != nil {
		t.Fatal(err)
	}
	sum, err := Run(context.Background(), smallModel(t, 1), train, nil, Config{Steps: 2, BatchSize: 20, Dir: dir, LR: 1e-3})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Notes) != 1 || !strings.Contains(sum.Notes[0], rundir.Curves+" was not drawn") {
		t.Fatalf("notes %q", sum.Notes)
	}
	if _, err := ReadCheckpoint(filepath.Join(dir, rundir.Checkpoint)); err != nil {
		t.Fatal(err)
	}
}
