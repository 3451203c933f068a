package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemoTiny runs the demo's whole pipeline at a tiny size.
func TestDemoTiny(t *testing.T) {
	cfg := demoConfig{steps: 4, lr: 3e-3, evalLimit: 20, evalEps: []float64{0.05, 0.1}, evalAttacks: []string{"fgsm", "pgd:steps=2"},
		checkImages: 5, trainEval: 20, anLimit: 30, anEps: 0.1, anAttacks: []string{"fgsm", "iter-ll:steps=2"}, examples: 1}
	dir := filepath.Join(t.TempDir(), "demo")
	var out bytes.Buffer
	path, err := runDemo(context.Background(), &out, nil, dir, 1, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[1/2] adv", "[2/2] arp", "evaluated in", "analysed in", "observation 1", "Report: " + path} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
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
	if _, err := runDemo(context.Background(), &out, nil, dir, 1, cfg); err != nil {
		t.Fatalf("second demo: %v", err)
	}
	// Interrupted: a clear message.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := runDemo(ctx, &out, nil, dir, 1, cfg); err == nil || !strings.Contains(err.Error(), "demo interrupted") {
		t.Fatalf("cancelled demo: %v", err)
	}
}
