package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/arp-robustness/arp/attack/attacktest"
	"github.com/arp-robustness/arp/demo"
	"github.com/arp-robustness/arp/rundir"
	"github.com/arp-robustness/arp/train"
)

// The tests of this file are issue #18's group 5: a run directory (and an
// evaluation's or analysis's state) is written by one process at a time,
// a run killed at any moment can be resumed or started again without
// --force, SIGHUP ends a command like Ctrl-C, and the demo's runs extend
// with arp train --resume.

// TestMain lets the tests run this test binary as the arp command:
// ARP_TEST_AS_ARP=1 runs the arguments as an arp command line.
func TestMain(m *testing.M) {
	if os.Getenv("ARP_TEST_AS_ARP") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// arpProcess starts arp args in a process of its own and returns it once
// its stderr shows a line containing ready (its signal handlers are then
// installed); the rest of stderr is collected in the returned channel
// when the process ends.
func arpProcess(t *testing.T, ready string, args ...string) (*exec.Cmd, <-chan string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "ARP_TEST_AS_ARP=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(stderr)
	var seen strings.Builder
	for sc.Scan() {
		seen.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), ready) {
			rest := make(chan string, 1)
			go func() {
				var b strings.Builder
				for sc.Scan() {
					b.WriteString(sc.Text() + "\n")
				}
				rest <- b.String()
			}()
			return cmd, rest
		}
	}
	t.Fatalf("arp %s ended before printing %q:\n%s", strings.Join(args, " "), ready, seen.String())
	return nil, nil
}

// TestTrainLockedRunDirectory: while a training holds its run directory, a
// second training there, a --resume and a --force are refused, naming the
// holder's pid and command; a kill -9 before its first periodic checkpoint
// leaves a run that --resume continues; SIGHUP stops a training as Ctrl-C
// does (checkpoint saved, resumable).
func TestTrainLockedRunDirectory(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	long := small(out, "--steps", "100000", "--checkpoint-every", "0", "--eval-every", "0", "--quiet")
	p, _ := arpProcess(t, "training mnist-small", long...)
	for i := 0; ; i++ { // the checkpoint of step 0
		if _, err := os.Stat(filepath.Join(out, rundir.Checkpoint)); err == nil {
			break
		}
		if i == 600 {
			t.Fatal("no checkpoint of step 0 after a minute")
		}
		time.Sleep(100 * time.Millisecond)
	}
	holder := fmt.Sprintf("pid %d", p.Process.Pid)
	for _, args := range [][]string{
		{"train", "--resume", "--out", out, "--steps", "5"},
		small(out, "--steps", "5", "--force"),
		small(out, "--steps", "5"),
	} {
		code, _, errs := arp(t, args...)
		if code != 1 || !strings.Contains(errs, out+" is in use by another process") || !strings.Contains(errs, holder) ||
			!strings.Contains(errs, "train --model mnist-small") || strings.Count(errs, "\n") != 1 {
			t.Errorf("arp %s while a training runs there: exit %d, %s", strings.Join(args, " "), code, errs)
		}
	}
	// killed before its first periodic checkpoint: resumable (from the
	// checkpoint of step 0) without --force, same weights as a run never
	// interrupted
	p.Process.Signal(syscall.SIGKILL)
	p.Wait()
	if code, _, errs := arp(t, "train", "--resume", "--out", out, "--steps", "4"); code != 0 {
		t.Fatalf("resuming the killed run: exit %d, %s", code, errs)
	}
	ref := filepath.Join(t.TempDir(), "ref")
	if code, _, errs := arp(t, small(ref, "--steps", "4", "--checkpoint-every", "0", "--eval-every", "0")...); code != 0 {
		t.Fatalf("reference run: %s", errs)
	}
	sameWeights(t, out, ref)

	// SIGHUP: the step is finished, a checkpoint saved, the exit says how
	// to continue
	p, rest := arpProcess(t, "training mnist-small", "train", "--resume", "--out", out, "--steps", "100000", "--quiet")
	time.Sleep(300 * time.Millisecond)
	p.Process.Signal(syscall.SIGHUP)
	errs := <-rest // all of stderr before Wait, which closes the pipe
	err := p.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(errs, "interrupted") ||
		!strings.Contains(errs, "checkpoint saved") || !strings.Contains(errs, "arp train --resume --out "+out) {
		t.Fatalf("SIGHUP: %v\n%s", err, errs)
	}
	if _, err := os.Stat(filepath.Join(out, rundir.LockName)); !os.IsNotExist(err) {
		t.Errorf("lock file left by a training that ended: %v", err)
	}
	ck, err := train.ReadRunCheckpoint(out)
	if err != nil || ck.Step < 4 {
		t.Fatalf("the checkpoint after SIGHUP: %v", err)
	}
}

// TestTrainLockHeld: the lock is refused with the holder's details for
// every command that writes a run, an analysis or a state file, in this
// process as in another.
func TestTrainLockHeld(t *testing.T) {
	dir := copyRun(t, attacktest.RunDir(t))
	l, err := rundir.LockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	oneLineError(t, dir+" is in use by another process", "train", "--resume", "--out", dir, "--steps", "5")
	oneLineError(t, dir+" is in use by another process", small(dir, "--force", "--steps", "2")...)
	l.Unlock()

	an := rundir.AnalysisDir(dir, "")
	l, err = rundir.LockDir(an)
	if err != nil {
		t.Fatal(err)
	}
	oneLineError(t, an+" is in use by another process", "analyze", "--model", dir, "--data", "mnist-mini:test", "--limit", "10", "--attacks", "fgsm")
	oneLineError(t, an+" is in use by another process", "merge", "--out", filepath.Join(t.TempDir(), "merged"), an)
	l.Unlock()

	state := filepath.Join(t.TempDir(), "state.jsonl")
	s, err := rundir.LockFile(state)
	if err != nil {
		t.Fatal(err)
	}
	oneLineError(t, "record file "+state+" is in use by another process", "eval", "--model", dir, "--data", "mnist-mini:test", "--limit", "10",
		"--attacks", "fgsm", "--eps", "0.1", "--state", state)
	oneLineError(t, "record file "+state+" is in use by another process", "merge", "--json", filepath.Join(t.TempDir(), "e.json"), state)
	oneLineError(t, "record file "+state+" is in use by another process", "tune", "--model", dir, "--data", "mnist-mini:test", "--limit", "10",
		"--eps", "0.1", "--steps", "2", "--restarts", "1", "--state", state)
	s.Unlock()
}

// TestTrainStoppedBeforeFirstCheckpoint: a directory holding only the
// metrics of a training that died before writing anything else (an older
// arp, or a kill between the two) is started again without --force;
// --resume there says why it cannot and what to do.
func TestTrainStoppedBeforeFirstCheckpoint(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, rundir.Metrics), []byte(`{"step":2,"loss":1}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	oneLineError(t, "stopped before its first checkpoint: start it again without resuming", "train", "--resume", "--out", out)
	oneLineError(t, "no run to resume (the directory does not exist)", "train", "--resume", "--out", filepath.Join(out, "missing"))
	if _, err := os.Stat(filepath.Join(out, "missing")); !os.IsNotExist(err) {
		t.Errorf("--resume of a missing directory created it: %v", err)
	}
	if code, _, errs := arp(t, small(out, "--steps", "2")...); code != 0 {
		t.Fatalf("starting again: exit %d, %s", code, errs)
	}
}

// TestDemoRunExtends: arp train --resume --out DEMO/arp --steps N extends
// a run the demo made, to the weights arp train gives with the flags the
// demo records.
func TestDemoRunExtends(t *testing.T) {
	cfg := demo.Config{Steps: 3, LR: 3e-3, EvalLimit: 10, EvalEps: []float64{0.1}, EvalAttacks: []string{"fgsm"},
		CheckImages: 5, TrainEval: 20, AnalysisLimit: 10, AnalysisEps: 0.1, AnalysisAttacks: []string{"fgsm"}, Examples: 1}
	dir := filepath.Join(t.TempDir(), "arp-demo")
	if _, err := demo.Run(context.Background(), demo.Options{Dir: dir, Seed: 1, Config: cfg}); err != nil {
		t.Fatal(err)
	}
	code, out, errs := arp(t, "train", "--resume", "--out", filepath.Join(dir, "arp"), "--steps", "5", "--quiet")
	if code != 0 || !strings.Contains(out, "steps 4-5 of 5") {
		t.Fatalf("extending the demo's run: exit %d\n%s%s", code, out, errs)
	}
	ref := filepath.Join(t.TempDir(), "ref")
	args := []string{"train", "--out", ref, "--quiet"}
	flags := demo.TrainFlags("arp", cfg, 1)
	flags["steps"] = "5"
	for k, v := range flags {
		args = append(args, "--"+k, v)
	}
	if code, _, errs := arp(t, args...); code != 0 {
		t.Fatalf("arp train with the demo's flags: %s", errs)
	}
	sameWeights(t, filepath.Join(dir, "arp"), ref)
}
