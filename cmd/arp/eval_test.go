package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/arp-robustness/arp/attack/attacktest"
	"github.com/arp-robustness/arp/data"
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
	// the time is estimated up front (issue #18)
	if !strings.HasPrefix(errs, "estimate: at most about ") || !strings.Contains(errs, "input gradients") {
		t.Errorf("no time estimate first on stderr:\n%s", errs)
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

// TestEvalSubset: --subset N evaluates N images chosen by --subset-seed,
// the same ones for any model, and records their indices.
func TestEvalSubset(t *testing.T) {
	run := attacktest.RunDir(t)
	dir := t.TempDir()
	var reps []eval.Report
	for i, seed := range []string{"4", "4", "5"} {
		js := filepath.Join(dir, fmt.Sprintf("r%d.json", i))
		code, out, errs := arp(t, "eval", "--model", run, "--data", "mnist-mini", "--attacks", "fgsm", "--eps", "0.1",
			"--subset", "25", "--subset-seed", seed, "--check-images", "0", "--json", js)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		if !strings.Contains(out, "25 of the 1000 images of mnist-mini:test chosen by seed "+seed) {
			t.Errorf("output lacks the subset:\n%s", out)
		}
		b, _ := os.ReadFile(js)
		var rep eval.Report
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatal(err)
		}
		reps = append(reps, rep)
	}
	s := reps[0].Subset
	if s == nil || s.N != 25 || len(s.Indices) != 25 || reps[0].Images != 25 || reps[0].Limit != 0 || !slices.IsSorted(s.Indices) {
		t.Fatalf("subset %+v, images %d, limit %d", s, reps[0].Images, reps[0].Limit)
	}
	if !slices.Equal(s.Indices, reps[1].Subset.Indices) || slices.Equal(s.Indices, reps[2].Subset.Indices) {
		t.Fatal("the same seed chose other images, or another seed the same")
	}
	if !slices.Equal(s.Indices, data.SeededSubset(1000, 25, 4)) {
		t.Fatal("indices are not data.SeededSubset's")
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
		{[]string{"eval", "--model", run, "--data", "mnist-mini", "--eps", "0.1", "--subset", "10", "--limit", "20"}, "not together with --limit"},
		{[]string{"eval", "--model", run, "--data", "mnist-mini", "--eps", "0.1", "--subset", "5000"}, "--subset 5000: mnist-mini:test has only 1000 images"},
	} {
		code, _, errs := arp(t, c.args...)
		if code != 1 || !strings.Contains(errs, c.want) || strings.Count(errs, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q, want one line containing %q", c.args, code, errs, c.want)
		}
	}
}

// TestEvalShardsAndMerge: three shards merged with arp merge write the
// eval.json one process writes (times aside); a merge with a shard missing
// fails with one line and leaves the merged report alone.
func TestEvalShardsAndMerge(t *testing.T) {
	run := attacktest.RunDir(t)
	dir := t.TempDir()
	common := []string{"eval", "--model", run, "--data", "mnist-mini", "--attacks", "fgsm,pgd:steps=3:restarts=2,square:queries=20",
		"--eps", "0.1", "--limit", "30", "--check-images", "8", "--batch", "8", "--quiet"}
	whole := filepath.Join(dir, "whole.json")
	if code, _, errs := arp(t, append(common, "--json", whole)...); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var files []string
	for i := 0; i < 3; i++ {
		st := filepath.Join(dir, fmt.Sprintf("shard-%d.jsonl", i))
		files = append(files, st)
		code, out, errs := arp(t, append(common, "--shard", fmt.Sprintf("%d/3", i), "--state", st)...)
		if code != 0 || !strings.Contains(out, "shard "+fmt.Sprintf("%d/3", i)+" done") {
			t.Fatalf("shard %d: exit %d: %s\n%s", i, code, errs, out)
		}
	}
	merged := filepath.Join(dir, "merged.json")
	code, out, errs := arp(t, append([]string{"merge", "--json", merged}, files...)...)
	if code != 0 || !strings.Contains(out, "worst case") {
		t.Fatalf("merge: exit %d: %s\n%s", code, errs, out)
	}
	load := func(p string) eval.Report {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var r eval.Report
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		r.Seconds, r.Started = 0, time.Time{}
		for i := range r.Threats {
			for k := range r.Threats[i].Attacks {
				r.Threats[i].Attacks[k].Seconds = 0
			}
		}
		return r
	}
	if a, b := load(whole), load(merged); !reflect.DeepEqual(a, b) {
		t.Fatalf("merged eval.json differs from one process's:\n%+v\n%+v", b, a)
	}
	before, _ := os.ReadFile(merged)
	for _, c := range []struct {
		args []string
		want string
	}{
		{append([]string{"merge", "--json", merged}, files[0], files[2]), "no record file holds batches 1-1 (images 8-15)"},
		{[]string{"merge", "--json", merged, files[0], dir}, "not both"},
		{append(common, "--shard", "3/3", "--state", files[0]), "--shard: shard \"3/3\": the index must be in 0..2"},
		{append(common, "--shard", "0/9", "--state", filepath.Join(dir, "x.jsonl")), "9 shards for 4 batches"},
		{append(common, "--shard", "0/2"), "--shard needs --state"},
		{append(common, "--shard", "0/2", "--state", filepath.Join(dir, "y.jsonl"), "--json", merged), "a shard has no report"},
		{append(common, "--shard", "0/2", "--state", files[0]), "holds batches 0-0"},
	} {
		code, _, errs := arp(t, c.args...)
		if code != 1 || !strings.Contains(errs, c.want) || strings.Count(errs, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q, want one line containing %q", c.args, code, errs, c.want)
		}
	}
	if after, _ := os.ReadFile(merged); !bytes.Equal(before, after) {
		t.Error("a failed merge changed the merged report")
	}
}
