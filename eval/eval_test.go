package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/attack"
	"github.com/arp-robustness/arp/attack/attacktest"
	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

func mustAttacks(t *testing.T, specs ...string) []attack.Spec {
	t.Helper()
	a, err := ParseAttacks(specs)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func statusOf(t *testing.T, r *Report, name string) Check {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in %v", name, r.Checks)
	return Check{}
}

// baseOptions is a small but complete evaluation of the trained test model.
func baseOptions(t *testing.T) Options {
	return Options{
		Attacks:     mustAttacks(t, "fgsm", "step-ll", "pgd:steps=10:restarts=2", "square:queries=100"),
		Eps:         []float64{0.15, 0.05},
		BatchSize:   25,
		Seed:        1,
		Model:       "attacktest",
		Data:        "mnist-mini:test",
		CheckImages: 20,
	}
}

func TestRunOnTrainedModel(t *testing.T) {
	m, _ := attacktest.MNIST(t)
	x, y := attacktest.Batch(t, 48)
	opt := baseOptions(t)
	opt.DataImages, opt.Limit = 1000, 48
	var progress []Progress
	opt.Progress = func(p Progress) { progress = append(progress, p) }
	rep, err := Run(context.Background(), m, x, y, opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(progress) == 0 || progress[len(progress)-1].Done != progress[len(progress)-1].Total {
		t.Fatalf("progress did not reach its total: %v", progress[len(progress)-1])
	}
	if rep.Clean.Total != 48 || rep.Clean.Accuracy < 0.7 {
		t.Fatalf("clean %+v", rep.Clean)
	}
	if len(rep.Threats) != 2 || rep.Threats[0].Eps != 0.05 || rep.Threats[1].Eps != 0.15 {
		t.Fatalf("threats not sorted by eps: %+v", rep.Threats)
	}
	for _, th := range rep.Threats {
		if th.EpsInput[0] != 2*th.Eps {
			t.Errorf("eps %g on the [-1,1] input scale is %v, want %g", th.Eps, th.EpsInput, 2*th.Eps)
		}
		prev := rep.Clean.Correct
		for _, a := range th.Attacks {
			// cascade: cumulative accuracy never rises along the list
			if a.Accuracy.Correct > prev {
				t.Errorf("eps %g: cumulative accuracy rose at %s", th.Eps, a.Spec)
			}
			prev = a.Accuracy.Correct
			if a.Broken > 0 && (a.MaxLinf > th.Eps+1e-5 || a.MeanLinf <= 0) {
				t.Errorf("eps %g %s: L-inf norms mean %g max %g", th.Eps, a.Spec, a.MeanLinf, a.MaxLinf)
			}
			for _, k := range []string{"steps", "restarts", "step_size", "box", "seed"} {
				if _, ok := a.Settings[k]; !ok {
					t.Errorf("%s settings lack %s", a.Spec, k)
				}
			}
		}
		if th.Worst.Correct != prev {
			t.Errorf("eps %g: worst case %d != accuracy after the last attack %d", th.Eps, th.Worst.Correct, prev)
		}
	}
	if rep.Threats[1].Worst.Accuracy > 0.2 {
		t.Errorf("worst case at eps 0.15 is %.3f on an undefended model", rep.Threats[1].Worst.Accuracy)
	}
	for _, c := range []struct{ name, status string }{
		{CheckSuite, Pass}, {CheckMonotone, Pass}, {CheckUnbounded, Pass}, {CheckIterative, Pass},
		{CheckBlackBox, Pass}, {CheckGradients, Pass}, {CheckBudget, Pass}, {CheckAdaptive, Skip},
	} {
		if got := statusOf(t, rep, c.name); got.Status != c.status {
			t.Errorf("check %q: %s (%s), want %s", c.name, got.Status, got.Detail, c.status)
		}
	}
	// renderings
	var txt, md, js bytes.Buffer
	if err := rep.Text(&txt); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"the first 48 of 1000 images", "--limit 48", "L-inf eps 0.05 on [0,1] = 0.1 on the model's input scale",
		"worst case", "PASS", "pgd:steps=10:restarts=2", "white-box and black-box", "seed 1"} {
		if !strings.Contains(txt.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, txt.String())
		}
	}
	if err := rep.Markdown(&md); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "| **worst case** |") || !strings.Contains(md.String(), "## Sanity checks") {
		t.Errorf("markdown report:\n%s", md.String())
	}
	if err := rep.JSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Threats[1].Worst != rep.Threats[1].Worst {
		t.Errorf("JSON round trip: %v %+v", err, back.Threats)
	}
	png := filepath.Join(t.TempDir(), "acc.png")
	if err := rep.WritePlot(png); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(png); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Fatalf("plot: %v", err)
	}
}

func TestCascadeAndStandaloneAgreeOnWorstCase(t *testing.T) {
	m, _ := attacktest.MNIST(t)
	x, y := attacktest.Batch(t, 40)
	opt := Options{Attacks: mustAttacks(t, "fgsm", "pgd:steps=5:random-start=false", "bim:steps=5:alpha=0.03"),
		Eps: []float64{0.1}, BatchSize: 16, CheckImages: -1}
	casc, err := Run(context.Background(), m, x, y, opt)
	if err != nil {
		t.Fatal(err)
	}
	opt.Standalone = true
	alone, err := Run(context.Background(), m, x, y, opt)
	if err != nil {
		t.Fatal(err)
	}
	if casc.Threats[0].Worst != alone.Threats[0].Worst {
		t.Fatalf("deterministic attacks: worst case %+v (cascade) vs %+v (standalone)", casc.Threats[0].Worst, alone.Threats[0].Worst)
	}
	for k, a := range alone.Threats[0].Attacks {
		c := casc.Threats[0].Attacks[k]
		if a.Accuracy.Correct < c.Accuracy.Correct {
			t.Errorf("%s: standalone accuracy %d below cumulative %d", a.Spec, a.Accuracy.Correct, c.Accuracy.Correct)
		}
		if a.Attacked != alone.Clean.Correct {
			t.Errorf("standalone %s attacked %d images, want every correct one (%d)", a.Spec, a.Attacked, alone.Clean.Correct)
		}
		if k > 0 && c.Attacked != casc.Threats[0].Attacks[k-1].Accuracy.Correct {
			t.Errorf("cascade %s attacked %d images, want the %d unbroken ones", c.Spec, c.Attacked, casc.Threats[0].Attacks[k-1].Accuracy.Correct)
		}
	}
	if casc.Mode != "cascade" || alone.Mode != "standalone" {
		t.Fatal(casc.Mode, alone.Mode)
	}
	// without the subset the comparisons of attacks are skipped in cascade mode
	if c := statusOf(t, casc, CheckIterative); c.Status != Skip {
		t.Errorf("%s: %s %s", c.Name, c.Status, c.Detail)
	}
	if c := statusOf(t, alone, CheckIterative); c.Status != Pass {
		t.Errorf("%s: %s %s", c.Name, c.Status, c.Detail)
	}
}

func TestResume(t *testing.T) {
	m, _ := attacktest.MNIST(t)
	x, y := attacktest.Batch(t, 20)
	opt := Options{Attacks: mustAttacks(t, "fgsm", "pgd:steps=3", "square:queries=20"), Eps: []float64{0.05, 0.1},
		BatchSize: 5, Seed: 3, CheckImages: 5, UnboundedSteps: 5, Model: "m", Data: "d"}
	ref, err := Run(context.Background(), m, x, y, opt)
	if err != nil {
		t.Fatal(err)
	}
	opt.State = filepath.Join(t.TempDir(), "state.jsonl")
	ctx, cancel := context.WithCancel(context.Background())
	opt.Progress = func(p Progress) {
		if p.Done == 7 {
			cancel()
		}
	}
	if _, err := Run(ctx, m, x, y, opt); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v", err)
	}
	// a crash in the middle of a write leaves a partial line
	f, err := os.OpenFile(opt.State, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"unit":{"phase":"main","att`)
	f.Close()
	opt.Progress = nil
	res, err := Run(context.Background(), m, x, y, opt)
	if err != nil {
		t.Fatal(err)
	}
	if res.Resumed != 7 {
		t.Errorf("resumed %d units, want 7", res.Resumed)
	}
	for i := range ref.Threats {
		a, b := ref.Threats[i], res.Threats[i]
		if a.Worst != b.Worst {
			t.Errorf("eps %g: worst case %+v after resuming, %+v uninterrupted", a.Eps, b.Worst, a.Worst)
		}
		for k := range a.Attacks {
			if a.Attacks[k].Accuracy != b.Attacks[k].Accuracy || a.Attacks[k].MaxLinf != b.Attacks[k].MaxLinf {
				t.Errorf("eps %g %s: %+v after resuming, %+v uninterrupted", a.Eps, a.Attacks[k].Spec, b.Attacks[k].Accuracy, a.Attacks[k].Accuracy)
			}
		}
	}
	// a finished state file: everything is read back
	again, err := Run(context.Background(), m, x, y, opt)
	if err != nil {
		t.Fatal(err)
	}
	if again.Resumed == 0 || again.Threats[1].Worst != ref.Threats[1].Worst {
		t.Errorf("second resume: %d units, worst %+v", again.Resumed, again.Threats[1].Worst)
	}
	// another evaluation refuses the file
	opt.Eps = []float64{0.05, 0.2}
	if _, err := Run(context.Background(), m, x, y, opt); err == nil || !strings.Contains(err.Error(), "different evaluation") {
		t.Errorf("different eps with the same state file: %v", err)
	}
	// a corrupt line in the middle
	opt.Eps = []float64{0.05, 0.1}
	b, err := os.ReadFile(opt.State)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte(lines[0]+"not json\n"+strings.Join(lines[1:], "")), 0o644)
	opt.State = bad
	if _, err := Run(context.Background(), m, x, y, opt); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("corrupt state file: %v", err)
	}
}

// constModel's outputs do not depend on its input.
type constModel struct{}

func (constModel) Forward(x *autograd.Var, m nn.Mode, taps ...string) (*autograd.Var, map[string]*autograd.Var) {
	n := x.Shape()[0]
	w := tensor.Zeros(tensor.Float32, 10)
	w.SetFlat(3, 1)
	l := autograd.Mul(autograd.Const(tensor.Zeros(tensor.Float32, n, 1)), autograd.Reshape(autograd.Sum(x, false, 1, 2, 3), n, 1))
	return autograd.Add(autograd.BroadcastTo(l, n, 10), autograd.Const(w)), nil
}
func (constModel) LayerNames() []string { return nil }
func (constModel) InputShape() []int    { return []int{1, 28, 28} }
func (constModel) NumClasses() int      { return 10 }

func TestConstantModelWarns(t *testing.T) {
	x, y := attacktest.Batch(t, 30)
	rep, err := Run(context.Background(), constModel{}, x, y, Options{Attacks: mustAttacks(t, "fgsm", "pgd:restarts=2", "square:queries=20"),
		Eps: []float64{0.1, 0.3}, CheckImages: 10})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Scale.Known || rep.Threats[0].EpsInput != nil {
		t.Error("a classifier without input normalisation got an input scale")
	}
	for _, name := range []string{CheckGradients, CheckUnbounded} {
		if c := statusOf(t, rep, name); c.Status != Warn {
			t.Errorf("constant model, %s: %s %s", name, c.Status, c.Detail)
		}
	}
	var txt bytes.Buffer
	rep.Text(&txt)
	if !strings.Contains(txt.String(), "WARNING: ") || !strings.Contains(txt.String(), "unknown") {
		t.Errorf("text report:\n%s", txt.String())
	}
}

func TestChecksWarn(t *testing.T) {
	at := func(name, kind, box, targeting string, correct int) AttackResult {
		return AttackResult{Name: name, Spec: name, Accuracy: counts(correct, 100),
			Settings: map[string]any{"kind": kind, "box": box, "targeting": targeting, "restarts": 1}}
	}
	rep := &Report{Images: 100, Mode: "standalone", Threats: []Threat{
		{Norm: "linf", Eps: 0.1, Worst: counts(30, 100), Attacks: []AttackResult{
			at("fgsm", "single-step", "white-box", "untargeted", 50),
			at("pgd", "iterative", "white-box", "untargeted", 60),
			at("square", "score-based", "black-box", "untargeted", 30)}},
		{Norm: "linf", Eps: 0.2, Worst: counts(40, 100), Attacks: []AttackResult{
			at("fgsm", "single-step", "white-box", "untargeted", 40),
			at("pgd", "iterative", "white-box", "untargeted", 40),
			at("square", "score-based", "black-box", "untargeted", 41)}},
	}}
	rep.Threats[1].Attacks[1].OutOfBudget = 2
	sub := &subsetResults{images: 10, unbounded: &AttackResult{Spec: "pgd:steps=20", Accuracy: counts(3, 10)},
		blackBox: [][]blackBoxGain{{{spec: "square", left: 40, broken: 10, where: "standalone results"}}, {{spec: "square", left: 41, broken: 0}}}}
	cs := checks(rep, []string{"fgsm", "pgd", "square"}, true, sub, &gradStats{images: 100, zero: 10})
	rep.Checks = cs
	for _, name := range []string{CheckSuite, CheckMonotone, CheckUnbounded, CheckIterative, CheckBlackBox, CheckGradients, CheckBudget, CheckAdaptive} {
		if c := statusOf(t, rep, name); c.Status != Warn {
			t.Errorf("%s: %s %s", name, c.Status, c.Detail)
		}
	}
	if len(rep.Warnings()) != 8 {
		t.Errorf("%d warnings", len(rep.Warnings()))
	}
}

func TestBadOptions(t *testing.T) {
	m, _ := attacktest.MNIST(t)
	x, y := attacktest.Batch(t, 4)
	ctx := context.Background()
	for _, c := range []struct {
		opt  Options
		x    *tensor.Tensor
		y    []int
		want string
	}{
		{Options{Eps: []float64{0.1}}, x, y, "no attacks"},
		{Options{Attacks: mustAttacks(t, "pgd-l2"), Eps: []float64{0.1}}, x, y, "needs L2 budgets (--eps-l2)"},
		{Options{Attacks: mustAttacks(t, "pgd")}, x, y, "needs L-inf budgets (--eps)"},
		{Options{Attacks: mustAttacks(t, "pgd"), Eps: []float64{1.5}}, x, y, "[0,1] pixel scale"},
		{Options{Attacks: mustAttacks(t, "pgd"), Eps: []float64{0.1, 0.1}}, x, y, "listed twice"},
		{Options{Attacks: mustAttacks(t, "fgsm", "fgsm"), Eps: []float64{0.1}}, x, y, "listed twice"},
		{Options{Attacks: mustAttacks(t, "pgd"), Eps: []float64{0.1}}, x, []int{0, 1, 2, 10}, "outside the model's 10 classes"},
		{Options{Attacks: mustAttacks(t, "pgd"), Eps: []float64{0.1}}, x, y[:2], "4 images"},
		{Options{Attacks: mustAttacks(t, "pgd"), Eps: []float64{0.1}}, tensor.Zeros(tensor.Float32, 2, 3, 28, 28), y[:2], "do not fit"},
	} {
		if _, err := Run(ctx, m, c.x, c.y, c.opt); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one containing %q", err, c.want)
		}
	}
	if _, err := ParseAttacks([]string{"pgd", "nonsense"}); err == nil || !strings.Contains(err.Error(), "known: fgsm") {
		t.Errorf("unknown attack: %v", err)
	}
	if _, err := ParseAttacks([]string{" ", ""}); err == nil {
		t.Error("an empty attack list was accepted")
	}
}

// TestPlotWorstCaseEnvelope: the worst case, which equals the strongest
// attack at every eps, is drawn as an envelope so that the attacks it
// coincides with stay visible (viz.TestCoincidingSeries checks the
// pixels), and it comes last in the legend, as in the table.
func TestPlotWorstCaseEnvelope(t *testing.T) {
	r := &Report{Model: "m", Data: "d", Images: 10, Mode: "standalone", Clean: Counts{9, 10, 0.9}}
	for _, eps := range []float64{0.1, 0.2} {
		th := Threat{Norm: "linf", Eps: eps, Worst: Counts{0, 10, 0}}
		for _, a := range []string{"fgsm", "pgd", "square"} {
			th.Attacks = append(th.Attacks, AttackResult{Name: a, Spec: a, Accuracy: Counts{0, 10, 0}})
		}
		r.Threats = append(r.Threats, th)
	}
	p, ok := r.Plot("linf")
	if !ok {
		t.Fatal("no plot")
	}
	var names []string
	for i, s := range p.Series {
		names = append(names, s.Name)
		if s.Envelope != (i == len(p.Series)-1) {
			t.Errorf("series %q: envelope %v", s.Name, s.Envelope)
		}
	}
	if got := strings.Join(names, ","); got != "fgsm,pgd,square,worst case" {
		t.Errorf("series %s, want the attacks then the worst case", got)
	}
	if _, err := p.Image(); err != nil {
		t.Fatal(err)
	}
}
