package demo

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tracker records the tasks reported.
type tracker struct{ tasks []string }

func (t *tracker) Update(task, unit string, done, total int) {
	if len(t.tasks) == 0 || t.tasks[len(t.tasks)-1] != task {
		t.tasks = append(t.tasks, task)
	}
}
func (t *tracker) Done() {}

// TestDemoTiny runs the demo's whole pipeline at a tiny size.
func TestDemoTiny(t *testing.T) {
	cfg := Config{Steps: 4, LR: 3e-3, EvalLimit: 20, EvalEps: []float64{0.05, 0.1}, EvalAttacks: []string{"fgsm", "pgd:steps=2"},
		CheckImages: 5, TrainEval: 20, AnalysisLimit: 30, AnalysisEps: 0.1, AnalysisAttacks: []string{"fgsm", "iter-ll:steps=2"}, Examples: 1}
	dir := filepath.Join(t.TempDir(), "demo")
	var out bytes.Buffer
	tr := &tracker{}
	path, err := Run(context.Background(), Options{Dir: dir, Seed: 1, Config: cfg, Out: &out, Tracker: tr})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[1/2] adv", "[2/2] arp", "evaluated in", "analysed in", "observation 1", "Report: " + path} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if got := strings.Join(tr.tasks, ","); got != "train adv,eval adv,analyze adv,train arp,eval arp,analyze arp" {
		t.Errorf("tasks tracked: %s", got)
	}
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<th>adv</th><th>arp</th>", `id="evaluation"`, `id="training"`, `id="attention"`, `id="examples"`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, p := range []string{"adv/model.json", "adv/eval.json", "arp/analysis/summary.md", "arp/metrics.jsonl"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Error(err)
		}
	}
	// A second demo in the same directory starts over.
	if _, err := Run(context.Background(), Options{Dir: dir, Seed: 1, Config: cfg, Out: &out}); err != nil {
		t.Fatalf("second demo: %v", err)
	}
	// Interrupted: a clear message.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, Options{Dir: dir, Seed: 1, Config: cfg, Out: &out}); err == nil || !strings.Contains(err.Error(), "demo interrupted") {
		t.Fatalf("cancelled demo: %v", err)
	}
}
