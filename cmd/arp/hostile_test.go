package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/attack/attacktest"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/rundir"
)

// The tests of this file are the cases of issue #18: inputs a hostile new
// user gives, each of which must end in one `arp: ...` line naming the flag
// or file at fault (or do what the help says), never in a stack trace, a
// runaway or a silent substitution.

// oneLineError runs args and checks the exit status 1, a single stderr line
// starting "arp: " that contains want, and no usage text or stack trace.
func oneLineError(t *testing.T, want string, args ...string) {
	t.Helper()
	code, out, errs := arp(t, args...)
	if code != 1 || strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "arp: ") || !strings.Contains(errs, want) {
		t.Errorf("arp %s:\nexit %d, stderr %q\nwant one line containing %q", strings.Join(args, " "), code, errs, want)
	}
	if strings.HasPrefix(errs, "arp: arp:") || strings.Contains(out+errs, "goroutine ") || strings.Contains(out+errs, "Usage:") {
		t.Errorf("arp %s: repeated prefix, usage or stack trace:\n%s%s", strings.Join(args, " "), out, errs)
	}
}

// editRun copies the run directory src and applies edit to its model.json.
func editRun(t *testing.T, src string, edit func(map[string]any)) string {
	t.Helper()
	dst := copyRun(t, src)
	p := filepath.Join(dst, rundir.Info)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestHugeLearningRate: arp train --lr 1e6 makes losses huge but finite;
// the curves are drawn (gonum/plot panicked on such ranges), every
// checkpoint is written and the run resumes.
func TestHugeLearningRate(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	code, _, errs := arp(t, small(out, "--lr", "1e6", "--steps", "4", "--checkpoint-every", "1")...)
	if code != 0 && !strings.Contains(errs, "the last good checkpoint is") {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if strings.Contains(errs, "goroutine") || strings.Contains(errs, "not drawn") {
		t.Fatalf("stderr: %s", errs)
	}
	if _, err := os.Stat(filepath.Join(out, rundir.Curves)); err != nil {
		t.Fatal(err)
	}
	code, _, errs = arp(t, "train", "--resume", "--out", out, "--steps", "6")
	if strings.Contains(errs, "goroutine") || (code != 0 && !strings.Contains(errs, "the last good checkpoint is")) {
		t.Fatalf("resume: exit %d: %s", code, errs)
	}
}

// TestHugeDeclaredInput: a model.json declaring an enormous input is
// refused before anything of that size is allocated, naming the file.
func TestHugeDeclaredInput(t *testing.T) {
	run := attacktest.RunDir(t)
	digit, _ := writeTestImage(t, 0)
	resize := func(side float64) func(map[string]any) {
		return func(m map[string]any) {
			spec := m["spec"].(map[string]any)
			spec["height"], spec["width"] = side, side
		}
	}
	huge := editRun(t, run, resize(100000))
	large := editRun(t, run, resize(2000)) // within the bounds, but not what the weights file holds
	for _, c := range []struct {
		want string
		args []string
	}{
		{"model.json: height 100000: want 4 to 4096 pixels", []string{"eval", "--model", huge, "--data", "mnist-mini", "--eps", "0.1"}},
		{"model.json: height 100000: want 4 to 4096 pixels", []string{"explain", "--model", huge, "--image", digit, "--out", t.TempDir(), "--resize"}},
		{"declares a mnist-small for 1x2000x2000 inputs, whose weights need at least 4.1 GB, but " + filepath.Join(large, rundir.Weights) + " has",
			[]string{"attack", "--model", large, "--image", digit, "--eps", "0.1", "--out", filepath.Join(t.TempDir(), "a.png")}},
	} {
		oneLineError(t, c.want, c.args...)
	}
}

// TestUnboundedInputs: devices, FIFOs and oversized pictures are refused
// before they are read or drawn.
func TestUnboundedInputs(t *testing.T) {
	run := attacktest.RunDir(t)
	digit, _ := writeTestImage(t, 0)
	dir := t.TempDir()
	oneLineError(t, "image /dev/zero: not a regular file (a character device)", "attack", "--model", run, "--image", "/dev/zero", "--eps", "0.1", "--out", filepath.Join(dir, "a.png"))
	oneLineError(t, "image /dev/zero: not a regular file (a character device)", "explain", "--model", run, "--image", "/dev/zero", "--out", dir)
	oneLineError(t, "--scale 100000 would make 28x28 pictures of 2800000x2800000 pixels; at most 2048 per side (a scale of at most 73", "explain", "--model", run, "--image", digit, "--out", dir, "--scale", "100000")
}

// TestNoSilentSubstitution: a value the user typed is used or refused,
// never replaced by a default.
func TestNoSilentSubstitution(t *testing.T) {
	run := attacktest.RunDir(t)
	digit, _ := writeTestImage(t, 0)
	dir := t.TempDir()
	evalArgs := func(extra ...string) []string {
		return append([]string{"eval", "--model", run, "--data", "mnist-mini", "--eps", "0.1", "--limit", "10"}, extra...)
	}
	for _, c := range []struct {
		want string
		args []string
	}{
		{"option steps=0: want 1 <= steps <= 100000", evalArgs("--attacks", "pgd:steps=0")},
		{"option restarts=0: want 1 <= restarts", evalArgs("--attacks", "pgd:restarts=0")},
		{"option steps=1e12: want 1 <= steps <= 100000", evalArgs("--attacks", "pgd:steps=1e12")},
		{"--epochs 0: want 1 to", small(filepath.Join(dir, "e0"), "--epochs", "0")},
		{"--steps 0: want 1 to", small(filepath.Join(dir, "s0"), "--steps", "0")},
		{"--log-every 0: want 1 or more", small(filepath.Join(dir, "l0"), "--steps", "2", "--log-every", "0")},
		{"--momentum applies only to --optimizer sgd", small(filepath.Join(dir, "m"), "--steps", "2", "--momentum", "0.5")},
		{"--beta applies only to --defense trades", small(filepath.Join(dir, "b"), "--steps", "2", "--beta", "3")},
		{"--extra-steps 0: want 1 to 100", small(filepath.Join(dir, "x"), "--steps", "2", "--defense", "arp-iou", "--extra-steps", "0")},
		{"--batch 0: want 1 to", []string{"analyze", "--model", run, "--data", "mnist-mini", "--batch", "0", "--out", dir}},
		{"--gallery -1: want 0 to 1000", []string{"analyze", "--model", run, "--data", "mnist-mini", "--gallery", "-1", "--out", dir}},
		{"--lime-samples 0: want 2 to", []string{"analyze", "--model", run, "--data", "mnist-mini", "--method", "lime", "--lime-samples", "0", "--out", dir}},
		{"--steps 0: want 1 to", []string{"analyze", "--model", run, "--data", "mnist-mini", "--steps", "0", "--out", dir}},
		{"--batch 0: want 1 to 10000", []string{"bench", "--batch", "0"}},
		{"--threads 0: want 1 to 1024", []string{"bench", "--threads", "0"}},
		{"--steps 0: want 1 to 100000", []string{"bench", "--steps", "0"}},
		{"--examples -1: want 0 to 1000", []string{"report", run, "--examples", "-1", "--out", filepath.Join(dir, "r.html")}},
		{"--opset 0: want 11 to 17", []string{"export", "--model", run, "--out", filepath.Join(dir, "m.onnx"), "--opset", "0"}},
		{`--box "20,20,40,40" lies outside the 28x28 image`, []string{"explain", "--model", run, "--image", digit, "--out", dir, "--box", "20,20,40,40"}},
		{"--samples applies to --method lime", []string{"explain", "--model", run, "--image", digit, "--out", dir, "--samples", "50"}},
		{"--eps is the budget of --attack", []string{"explain", "--model", run, "--image", digit, "--out", dir, "--eps", "0.2"}},
		{"--samples 100000000: want 2 to 1000000", []string{"explain", "--model", run, "--image", digit, "--out", dir, "--method", "lime", "--samples", "100000000"}},
	} {
		oneLineError(t, c.want, c.args...)
	}
	for _, e := range []string{"e0", "s0", "l0", "m", "b", "x"} {
		if _, err := os.Stat(filepath.Join(dir, e)); err == nil {
			t.Errorf("a refused run left %s behind", e)
		}
	}
}

// TestHelpShowsRealDefaults: no command's help shows a placeholder default
// or a Go type name for a list.
func TestHelpShowsRealDefaults(t *testing.T) {
	var walk func(path []string)
	seen := 0
	walk = func(path []string) {
		code, out, errs := arp(t, append(path, "--help")...)
		if code != 0 {
			t.Fatalf("arp %v --help: exit %d %s", path, code, errs)
		}
		seen++
		for _, bad := range []string{"(default [])", "(default NaN)", "float64Slice", "stringSlice", "(default <nil>)"} {
			if strings.Contains(out, bad) {
				t.Errorf("arp %s --help shows %q", strings.Join(path, " "), bad)
			}
		}
		root := newRootCmd()
		c, _, err := root.Find(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, sub := range c.Commands() {
			if sub.Name() != "help" {
				walk(append(append([]string(nil), path...), sub.Name()))
			}
		}
	}
	walk(nil)
	if seen < 15 {
		t.Fatalf("only %d commands' help checked", seen)
	}
}

// TestEarlyErrors: output paths, layers and model files are checked
// before any expensive step, and the error names the one flag or file.
func TestEarlyErrors(t *testing.T) {
	run := attacktest.RunDir(t)
	digit, _ := writeTestImage(t, 0)
	dir := t.TempDir()
	missing := filepath.Join(dir, "no", "such")
	badLayer := editRun(t, run, func(m map[string]any) { m["spec"].(map[string]any)["attention_layer"] = "fc9" })
	for _, c := range []struct {
		want string
		args []string
	}{
		{"--json " + missing + "/r.json: directory " + missing + " does not exist", []string{"eval", "--model", run, "--data", "mnist-mini", "--eps", "0.1", "--json", missing + "/r.json"}},
		{"--json " + dir + " is a directory", []string{"eval", "--model", run, "--data", "mnist-mini", "--eps", "0.1", "--json", dir}},
		{"--markdown " + missing + "/r.md", []string{"eval", "--model", run, "--data", "mnist-mini", "--eps", "0.1", "--markdown", missing + "/r.md"}},
		{"--out " + digit + " is a file; want a directory", []string{"analyze", "--model", run, "--data", "mnist-mini", "--out", digit}},
		{"--out " + digit + " is a file; want a directory", small(digit, "--steps", "2")},
		{"--out " + missing + "/a.png: directory", []string{"attack", "--model", run, "--image", digit, "--eps", "0.1", "--out", missing + "/a.png"}},
		{"model " + filepath.Join(badLayer, rundir.Info) + `: spec.attention_layer "fc9": no such layer`, []string{"explain", "--model", badLayer, "--image", digit, "--out", dir}},
		{"model " + filepath.Join(badLayer, rundir.Info) + `: spec.attention_layer "fc9": no such layer`, []string{"analyze", "--model", badLayer, "--data", "mnist-mini", "--out", dir}},
		{"--layer fc9: no such layer", []string{"explain", "--model", badLayer, "--image", digit, "--out", dir, "--layer", "fc9"}},
		{"--layer conv9: no such layer", small(filepath.Join(dir, "layer"), "--steps", "2", "--defense", "arp", "--layer", "conv9")},
		{"--momentum NaN: want a value in [0,", small(filepath.Join(dir, "mom"), "--steps", "2", "--optimizer", "sgd", "--momentum", "NaN")},
	} {
		oneLineError(t, c.want, c.args...)
	}
	for _, e := range []string{"layer", "mom"} {
		if _, err := os.Stat(filepath.Join(dir, e)); err == nil {
			t.Errorf("a refused run left %s behind", e)
		}
	}
}

// TestNonFiniteWeightsRefused: a run whose weights hold a NaN or an
// infinity is refused when loaded, naming the file and the tensor, by every
// command (it used to evaluate at 0% with a warning and export NaNs).
func TestNonFiniteWeightsRefused(t *testing.T) {
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1))} {
		dir := copyRun(t, attacktest.RunDir(t))
		m, info, err := nn.LoadRun(dir)
		if err != nil {
			t.Fatal(err)
		}
		p := m.Params()[2]
		p.Var.Value().F32()[3] = bad
		if err := nn.SaveRun(dir, m, *info); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("%s: tensor %q holds %v at element 3: non-finite weights", filepath.Join(dir, rundir.Weights), p.Name, bad)
		oneLineError(t, want, "eval", "--model", dir, "--data", "mnist-mini:test", "--limit", "10", "--attacks", "fgsm", "--eps", "0.1")
		oneLineError(t, want, "export", "--model", dir, "--out", filepath.Join(t.TempDir(), "m.onnx"))
		oneLineError(t, want, "analyze", "--model", dir, "--data", "mnist-mini:test", "--limit", "10", "--attacks", "fgsm")
	}
}

// TestNumbersInStrings: numbers inside string flags and specs (sizes,
// shards, held-out specs, boxes) out of range give one line naming the
// flag or spec, never a runaway or a silent substitution.
func TestNumbersInStrings(t *testing.T) {
	run := attacktest.RunDir(t)
	img, _ := writeTestImage(t, 0)
	folder := filepath.Join(t.TempDir(), "folder")
	for _, class := range []string{"a", "b"} {
		b, _ := os.ReadFile(img)
		writeTestFile(t, filepath.Join(folder, class, "1.png"), b)
	}
	for _, s := range []string{"0x0", "-1x5", "100000x100000", "NaNxNaN", "1e3x1e3", "99999999999x2"} {
		oneLineError(t, `--size "`+s+`": want HxW with sides of 1 to 16384 pixels`, "data", "info", folder, "--size", s)
	}
	for s, want := range map[string]string{"0/0": "the number of shards must be >= 1", "-1/2": "the index must be in 0..1", "2/2": "the index must be in 0..1",
		"NaN/2": "want i/N", "1/1000000000000": "--shard 1/1000000000000: 1000000000000 shards for 1 batches would leave some empty",
		"0/9223372036854775807": "--shard 0/9223372036854775807: 9223372036854775807 shards"} {
		oneLineError(t, want, "eval", "--model", run, "--data", "mnist-mini:test", "--limit", "10", "--attacks", "fgsm", "--eps", "0.1",
			"--state", filepath.Join(t.TempDir(), "s.jsonl"), "--shard", s, "--quiet")
	}
	for s, want := range map[string]string{"heldout=-1": "heldout=-1 must be a number of images >= 1", "heldout=0": "heldout=0 must be a number of images >= 1",
		"heldout=NaN": "heldout=NaN must be a number", "heldout=1000000000000": "cannot hold out 1000000000000 of the 2000 images",
		"heldout=5:seed=-1": "seed=-1 must be a non-negative integer", "heldout=5:seed=99999999999999999999": "must be a non-negative integer"} {
		oneLineError(t, want, "data", "info", "mnist-mini:train:"+s)
	}
	for b, want := range map[string]string{"NaN,0,1,1": `"NaN" is not an integer`, "0,0,0,0": "is empty", "-5,0,3,3": "lies outside the 28x28 image",
		"0,0,1e9,5": `"1e9" is not an integer`, "3,3,1,1": "minimum corner exceeds maximum corner", "0,0,99999999999999999999,1": "is not an integer"} {
		oneLineError(t, "--box \""+b+"\"", "explain", "--model", run, "--image", img, "--out", filepath.Join(t.TempDir(), "x"), "--box", b)
		oneLineError(t, want, "explain", "--model", run, "--image", img, "--out", filepath.Join(t.TempDir(), "x"), "--box", b)
	}
}

// TestAnalyzeEstimate: arp analyze says up front how long it will take.
func TestAnalyzeEstimate(t *testing.T) {
	code, _, errs := arp(t, "analyze", "--model", attacktest.RunDir(t), "--data", "mnist-mini", "--attacks", "fgsm", "--eps", "0.1",
		"--limit", "10", "--out", filepath.Join(t.TempDir(), "an"))
	if code != 0 || !strings.HasPrefix(errs, "estimate: at most about ") || !strings.Contains(errs, "per image") {
		t.Fatalf("exit %d, stderr:\n%s", code, errs)
	}
}
