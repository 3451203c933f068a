package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/attack/attacktest"
	"github.com/arp-robustness/arp/eval"
)

func TestEvalCommand(t *testing.T) {
	run := attacktest.RunDir(t)
	dir := t.TempDir()
	js, md, png, st := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.md"), filepath.Join(dir, "acc.png"), filepath.Join(dir, "state.jsonl")
	args := []string{"eval", "--model", run, "--data", "mnist-mini", "--attacks", "fgsm,pgd:steps=5:restarts=2,square:queries=30",
		"--eps", "0.2,0.1", "--limit", "30", "--check-images", "10", "--batch", "16",
		"--json", js, "--markdown", md, "--plot", png, "--state", st}
	code, out, errs := arp(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"data mnist-mini:test", "the first 30 of 1000 images", "--limit 30", "clean accuracy",
		"L-inf eps 0.1 on [0,1] = 0.2 on the model's input scale", "worst case", "sanity checks", "PASS  unbounded attack",
		"pgd:steps=5:restarts=2 (L-inf): box=white-box eps=0.1/0.2", "wrote " + js} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var rep eval.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Images != 30 || rep.DataImages != 1000 || rep.Limit != 30 || len(rep.Threats) != 2 || rep.Mode != "cascade" {
		t.Errorf("JSON report: images %d of %d, limit %d, %d threats, mode %s", rep.Images, rep.DataImages, rep.Limit, len(rep.Threats), rep.Mode)
	}
	for _, p := range []string{md, png, st} {
		if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", p, err)
		}
	}
	// the same command again resumes from the state file
	code, out, errs = arp(t, args...)
	if code != 0 || !strings.Contains(out, "units were read back from the state file") {
		t.Errorf("resume: exit %d, %s\n%s", code, errs, out)
	}
}

func TestEvalErrors(t *testing.T) {
	run := attacktest.RunDir(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", "--data", "mnist-mini", "--eps", "0.1"}, "--model is required"},
		{[]string{"eval", "--model", run, "--eps", "0.1"}, "--data is required"},
		{[]string{"eval", "--model", run, "--data", "mnist-mini", "--attacks", "fgsm,bogus", "--eps", "0.1"}, `unknown attack "bogus"; known: fgsm`},
		{[]string{"eval", "--model", run, "--data", "mnist-mini", "--attacks", "fgsm", "--eps", "1.5"}, "[0,1] pixel scale"},
		{[]string{"eval", "--model", run, "--data", "mnist-mini", "--attacks", "pgd-l2", "--eps", "0.1"}, "--eps-l2"},
		{[]string{"eval", "--model", run, "--data", "mnist-mini", "--attacks", "fgsm"}, "needs L-inf budgets (--eps)"},
		{[]string{"eval", "--model", run, "--data", "mnist-mini", "--eps", "0.1", "--plot", "x.jpg"}, "want a .png file"},
		{[]string{"eval", "--model", filepath.Join(run, "nope"), "--data", "mnist-mini", "--eps", "0.1"}, "no such file or directory"},
		{[]string{"eval", "--model", run, "--data", "mnist-mini", "--eps", "0.1", "--limit", "-2"}, "--limit -2"},
	} {
		code, _, errs := arp(t, c.args...)
		if code != 1 || !strings.Contains(errs, c.want) || strings.Count(errs, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q, want one line containing %q", c.args, code, errs, c.want)
		}
	}
}
