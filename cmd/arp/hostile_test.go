package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/attack/attacktest"
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
