package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/analysis"
	"github.com/arp-robustness/arp/attack/attacktest"
	"github.com/arp-robustness/arp/rundir"
)

// copyRun copies a run directory's model files so a test can add to it.
func copyRun(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "run")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"model.json", "model.safetensors"} {
		b, err := os.ReadFile(filepath.Join(src, n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func TestAnalyzeCommand(t *testing.T) {
	run := copyRun(t, attacktest.RunDir(t))
	args := []string{"analyze", "--model", run, "--data", "mnist-mini", "--attacks", "fgsm,iter-ll:steps=3", "--eps", "0.1",
		"--limit", "60", "--batch", "25", "--gallery", "2", "--quiet"}
	code, out, errs := arp(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	dir := filepath.Join(run, "analysis")
	for _, want := range []string{"on mnist-mini:test", "of 60 images analysed", "fgsm", "iter-ll:steps=3", "observation 1", "observation 3",
		"wrote " + filepath.Join(dir, "records.jsonl")} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	var s analysis.Summary
	b, err := os.ReadFile(filepath.Join(dir, rundir.AnalysisJSON))
	if err != nil || json.Unmarshal(b, &s) != nil || s.Images != 60 || len(s.Attacks) != 2 || s.Attacks[1].Steps == nil {
		t.Fatalf("summary.json: %v", err)
	}
	if s.Header.Model.WeightsSHA256 == "" || s.Header.Model.Info == nil || s.Header.Layer != "pool2" {
		t.Errorf("header model %+v layer %q", s.Header.Model, s.Header.Layer)
	}
	// Running again finds everything recorded; other settings are refused
	// until --restart.
	if code, _, errs := arp(t, args...); code != 0 {
		t.Fatalf("second run: %s", errs)
	}
	other := append(append([]string(nil), args...), "--seed", "9")
	code, _, errs = arp(t, other...)
	if code != 1 || !strings.Contains(errs, "other settings") || !strings.Contains(errs, "remove it to start over") {
		t.Fatalf("changed settings: exit %d %s", code, errs)
	}
	if code, _, errs := arp(t, append(other, "--restart")...); code != 0 {
		t.Fatalf("--restart: %s", errs)
	}
	// Then the report of the run (no eval.json: noted, section skipped).
	html := filepath.Join(t.TempDir(), "r.html")
	code, out, errs = arp(t, "report", run, "--out", html)
	if code != 0 || !strings.Contains(out, "wrote "+html) || !strings.Contains(errs, "no eval.json") {
		t.Fatalf("report: exit %d %s %s", code, out, errs)
	}
	page, _ := os.ReadFile(html)
	if !strings.Contains(string(page), `id="verdicts"`) || !strings.Contains(string(page), "data:image/png;base64,") {
		t.Error("report lacks verdicts or images")
	}
}

func TestAnalyzeErrors(t *testing.T) {
	run := attacktest.RunDir(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"analyze"}, "--model is required"},
		{[]string{"analyze", "--model", filepath.Join(t.TempDir(), "nope")}, "no such file or directory"},
		{[]string{"analyze", "--model", run, "--eps", "2", "--out", t.TempDir()}, "--eps 2: want a budget in (0,1]"},
		{[]string{"analyze", "--model", run, "--method", "magic", "--out", t.TempDir()}, `unknown attention method "magic"`},
		{[]string{"analyze", "--model", run, "--attacks", "cw-l2", "--out", t.TempDir()}, "L-inf"},
		{[]string{"analyze", "--model", run, "--layer", "conv9", "--out", t.TempDir(), "--limit", "5"}, `--layer conv9: no such layer; layers with maps: input, conv1`},
		{[]string{"analyze", "--model", run, "--data", "no-such-data", "--out", t.TempDir()}, "no-such-data"},
		{[]string{"analyze", "--model", run, "--limit", "-1", "--out", t.TempDir()}, "--limit -1"},
	} {
		t.Run(strings.Join(c.args[1:], " "), func(t *testing.T) {
			code, _, errs := arp(t, c.args...)
			if code != 1 || !strings.Contains(errs, c.want) || strings.Count(errs, "\n") != 1 {
				t.Fatalf("exit %d, stderr %q, want one line with %q", code, errs, c.want)
			}
		})
	}
}

func TestReportErrors(t *testing.T) {
	dir := t.TempDir()
	mk := func(name, dataset string) string {
		p := filepath.Join(dir, name)
		os.MkdirAll(p, 0o755)
		info := `{"format":"arp-model/1","spec":{"arch":"mnist-small","in_channels":1,"height":28,"width":28,"num_classes":10,"dropout":0.5,"input_mean":[0.5],"input_std":[0.5],"attention_layer":"pool2"},"class_names":["0","1","2","3","4","5","6","7","8","9"],"dataset":"` + dataset + `","seed":1}`
		os.WriteFile(filepath.Join(p, "model.json"), []byte(info), 0o644)
		os.WriteFile(filepath.Join(p, "metrics.jsonl"), []byte(`{"step":10,"loss":1}`+"\n"), 0o644)
		return p
	}
	a, b := mk("a", "mnist"), mk("b", "fashion-mnist")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"report"}, "requires at least 1 arg"},
		{[]string{"report", filepath.Join(dir, "nope")}, "no such directory"},
		{[]string{"report", dir}, "neither a run directory"},
		{[]string{"report", a, b, "--out", filepath.Join(dir, "r.html")}, "runs from different datasets: fashion-mnist (b) vs mnist (a)"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, _, errs := arp(t, c.args...)
			if code != 1 || !strings.Contains(errs, c.want) {
				t.Fatalf("exit %d, stderr %q, want %q", code, errs, c.want)
			}
		})
	}
	out := filepath.Join(dir, "r.html")
	if code, _, errs := arp(t, "report", a, b, "--allow-mixed", "--out", out); code != 0 {
		t.Fatalf("--allow-mixed: %s", errs)
	}
}

func TestAnalyzeONNX(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "m.onnx")
	if code, _, errs := arp(t, "export", "--model", attacktest.RunDir(t), "--out", file); code != 0 {
		t.Fatal(errs)
	}
	code, out, errs := arp(t, "analyze", "--model", file, "--data", "mnist-mini", "--limit", "20", "--attacks", "fgsm", "--quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "m-analysis", rundir.AnalysisMD)); err != nil || !strings.Contains(out, "observation 1") {
		t.Fatalf("%v\n%s", err, out)
	}
	// An analysis directory reports on its own.
	html := filepath.Join(dir, "r.html")
	if code, _, errs := arp(t, "report", filepath.Join(dir, "m-analysis"), "--out", html); code != 0 {
		t.Fatal(errs)
	}
}

// TestAnalyzeShardsAndMerge: four shards merged with arp merge --out give
// the records.jsonl and summary one process writes; arp report reads the
// merged directory; a failed merge leaves it alone.
func TestAnalyzeShardsAndMerge(t *testing.T) {
	run := copyRun(t, attacktest.RunDir(t))
	dir := t.TempDir()
	common := []string{"analyze", "--model", run, "--data", "mnist-mini", "--attacks", "pgd:steps=3,iter-ll:steps=2", "--eps", "0.1",
		"--limit", "40", "--batch", "8", "--gallery", "1", "--quiet"}
	whole := filepath.Join(dir, "whole")
	if code, _, errs := arp(t, append(common, "--out", whole)...); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var shards []string
	for i := 0; i < 4; i++ {
		d := filepath.Join(dir, fmt.Sprintf("shard-%d", i))
		shards = append(shards, d)
		code, out, errs := arp(t, append(common, "--shard", fmt.Sprintf("%d/4", i), "--out", d)...)
		if code != 0 || !strings.Contains(out, fmt.Sprintf("shard %d/4 done", i)) {
			t.Fatalf("shard %d: exit %d %s\n%s", i, code, errs, out)
		}
	}
	merged := filepath.Join(dir, "merged")
	code, out, errs := arp(t, append([]string{"merge", "--out", merged}, shards...)...)
	if code != 0 || !strings.Contains(out, "observation 1") {
		t.Fatalf("merge: exit %d %s\n%s", code, errs, out)
	}
	for _, name := range []string{rundir.AnalysisRecords, rundir.AnalysisMD} {
		a, _ := os.ReadFile(filepath.Join(whole, name))
		b, _ := os.ReadFile(filepath.Join(merged, name))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("merged %s differs from one process's (%d vs %d bytes)", name, len(b), len(a))
		}
	}
	html := filepath.Join(dir, "r.html")
	if code, _, errs := arp(t, "report", merged, "--out", html); code != 0 {
		t.Fatalf("report of the merged analysis: %s", errs)
	}
	before, _ := os.ReadFile(filepath.Join(merged, rundir.AnalysisRecords))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"merge", "--out", merged, shards[0], shards[1], shards[3]}, "no shard holds batches 2-2 (images 16-23)"},
		{[]string{"merge", shards[0], shards[1]}, "--out DIR is required"},
		{append(common, "--shard", "0/4"), "--shard needs --out DIR"},
		{append(common, "--shard", "0/9", "--out", filepath.Join(dir, "x")), "9 shards for 5 batches"},
		{append(common, "--shard", "4/4", "--out", filepath.Join(dir, "x")), "the index must be in 0..3"},
	} {
		code, _, errs := arp(t, c.args...)
		if code != 1 || !strings.Contains(errs, c.want) || strings.Count(errs, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q, want one line containing %q", c.args, code, errs, c.want)
		}
	}
	if after, _ := os.ReadFile(filepath.Join(merged, rundir.AnalysisRecords)); !bytes.Equal(before, after) {
		t.Error("a failed merge changed the merged records")
	}
}
