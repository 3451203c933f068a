package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/rundir"
	"github.com/arp-robustness/arp/tensor"
)

// small is a fast training command line on the embedded MNIST subset.
func small(out string, extra ...string) []string {
	return append([]string{"train", "--model", "mnist-small", "--data", "mnist-mini:train", "--limit", "200",
		"--batch", "20", "--lr", "1e-3", "--eval-n", "50", "--eval-every", "4", "--log-every", "2", "--out", out}, extra...)
}

func sameWeights(t *testing.T, a, b string) {
	t.Helper()
	ma, _, err := nn.LoadRun(a)
	if err != nil {
		t.Fatal(err)
	}
	mb, _, err := nn.LoadRun(b)
	if err != nil {
		t.Fatal(err)
	}
	sb := mb.State()
	for name, v := range ma.State() {
		if d := tensor.MaxAbsDiff(v, sb[name]); d != 0 {
			t.Fatalf("%s differs by %g between %s and %s", name, d, a, b)
		}
	}
}

func TestTrainCommand(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full")
	code, out, errs := arp(t, small(full, "--defense", "arp", "--steps", "8")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"trained mnist-small with arp: steps 1-8 of 8", "held-out accuracy", "on 50 images of mnist-mini:test", "run saved in " + full} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	for _, want := range []string{"training mnist-small (", "with arp on 200 images of mnist-mini:train, 8 steps of 20", "step 4/8 (epoch 0.40): loss", "step 8/8"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	for _, f := range []string{"model.safetensors", "model.json", rundir.Checkpoint, rundir.Metrics, rundir.Curves} {
		if _, err := os.Stat(filepath.Join(full, f)); err != nil {
			t.Error(err)
		}
	}
	_, info, err := nn.LoadRun(full)
	if err != nil {
		t.Fatal(err)
	}
	if info.Dataset != "mnist-mini:train" || len(info.ClassNames) != 10 || !strings.Contains(string(info.Training), `"defense": "arp"`) {
		t.Fatalf("model.json: %+v", info)
	}

	// an existing run is not overwritten
	code, _, errs = arp(t, small(full, "--defense", "arp", "--steps", "8")...)
	if code != 1 || !strings.Contains(errs, "already holds a run") || !strings.Contains(errs, "--resume") {
		t.Fatalf("exit %d: %s", code, errs)
	}

	// 4 steps, then --resume with only --out and a larger --steps: the
	// flags come from the checkpoint and the result equals the 8-step run
	part := filepath.Join(dir, "part")
	if code, _, errs := arp(t, small(part, "--defense", "arp", "--steps", "4")...); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	code, out, errs = arp(t, "train", "--resume", "--out", part, "--steps", "8")
	if code != 0 || !strings.Contains(out, "steps 5-8 of 8") {
		t.Fatalf("resume: exit %d\n%s\n%s", code, out, errs)
	}
	sameWeights(t, full, part)
	code, out, _ = arp(t, "train", "--resume", "--out", part)
	if code != 0 || !strings.Contains(out, "the run is complete at step 8") {
		t.Fatalf("resume of a complete run: exit %d %s", code, out)
	}

	// --force starts over
	code, out, errs = arp(t, small(part, "--steps", "2", "--force")...)
	if code != 0 || !strings.Contains(out, "trained mnist-small with none: steps 1-2 of 2") {
		t.Fatalf("--force: exit %d\n%s\n%s", code, out, errs)
	}
}

func TestTrainErrors(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	if code, _, errs := arp(t, small(run, "--steps", "2")...); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	corrupt := filepath.Join(dir, "corrupt")
	if err := os.MkdirAll(corrupt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(corrupt, rundir.Checkpoint), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "--data", "mnist-mini", "--out", dir}, "arp: --model ARCH is required"},
		{[]string{"train", "--model", "mnist-small", "--out", dir}, "arp: --data NAME[:split] is required"},
		{[]string{"train", "--model", "mnist-small", "--data", "mnist-mini"}, "arp: --out DIR is required"},
		{small(dir, "--model", "vgg"), `arp: unknown model "vgg"; known: cifarnet, cifarnet-tf, mnist-cnn, mnist-small, resnet20`},
		{small(dir, "--defense", "magic"), `arp: unknown defense "magic"; known: none, adv, arp, arp-iou, two-step, trades`},
		{small(dir, "--defense", "adv", "--attack", "cw"), `arp: unknown training attack "cw"`},
		{small(dir, "--eps", "3", "--defense", "arp"), "arp: --eps 3: want a value in (0,1]"},
		{small(dir, "--map-variant", "lime", "--defense", "arp"), `arp: unknown map variant "lime"`},
		{small(dir, "--optimizer", "lbfgs"), `arp: unknown optimizer "lbfgs"`},
		{small(dir, "--lr-schedule", "zigzag"), `arp: unknown learning-rate schedule "zigzag"`},
		{small(dir, "--steps", "2", "--epochs", "1"), "arp: give --steps or --epochs, not both"},
		{small(dir, "--batch", "500"), "arp: --batch 500 is larger than the 200 training images"},
		{small(dir, "--data", "no-such-data"), "arp: no-such-data: no such dataset or file"},
		{[]string{"train", "--resume", "--out", filepath.Join(dir, "empty")}, "no run to resume (the directory does not exist)"},
		{[]string{"train", "--resume", "--out", corrupt}, "arp: " + filepath.Join(corrupt, rundir.Checkpoint) + ":"},
		{[]string{"train", "--resume", "--out", run, "--model", "cifarnet"}, "is a checkpoint of mnist-small, not cifarnet"},
		{[]string{"train", "--resume", "--out", run, "--lr", "0.5"}, "was written with other settings: lr 0.001 (checkpoint) vs 0.5 (now)"},
		{[]string{"train", "--resume", "--force", "--out", run}, "--resume and --force exclude each other"},
		{small(filepath.Join(dir, "nan"), "--steps", "6", "--lr", "1e30", "--checkpoint-every", "1"), "the last good checkpoint is"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, _, errs := arp(t, tc.args...)
			if code != 1 || !strings.Contains(errs, tc.want) || !strings.HasPrefix(strings.TrimLeft(errs, "\n"), "") {
				t.Fatalf("exit %d, stderr %q, want %q", code, errs, tc.want)
			}
			last := errs[strings.LastIndex(strings.TrimRight(errs, "\n"), "\n")+1:]
			if !strings.HasPrefix(last, "arp: ") || strings.Contains(errs, "Usage:") || strings.Contains(errs, "goroutine") {
				t.Fatalf("stderr %q: want a final `arp: ...` line and no usage or trace", errs)
			}
		})
	}
}

func TestTrainHelp(t *testing.T) {
	code, out, _ := arp(t, "train", "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"--defense", "--attack", "--eps", "--a ", "--b ", "--c ", "--map-variant", "--batch-norm-grad",
		"--first-order", "--resume", "--force", "--checkpoint-every", "--eval-every", "--flip", "--lr-schedule", "--optimizer",
		"--seed", "--limit", "--quiet", "two-step", "arp-iou", "trades", "metrics.jsonl", "curves.png", "bit for bit"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

// TestTrainHoldout checks --holdout: the held-out images leave the
// training set, become the default evaluation data, and model.json records
// the spec that opens them elsewhere.
func TestTrainHoldout(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	code, stdout, errs := arp(t, "train", "--model", "mnist-small", "--data", "mnist-mini:train", "--holdout", "500", "--holdout-seed", "3",
		"--batch", "20", "--steps", "2", "--eval-n", "30", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	spec := "mnist-mini:train:heldout=500:seed=3"
	if !strings.Contains(errs, "on 1500 images of mnist-mini:train") || !strings.Contains(stdout, "on 30 images of "+spec) {
		t.Fatalf("stdout:\n%s\nstderr:\n%s", stdout, errs)
	}
	_, info, err := nn.LoadRun(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"holdout": 500`, `"holdout_seed": 3`, `"holdout_data": "` + spec + `"`} {
		if !strings.Contains(string(info.Training), want) {
			t.Errorf("model.json lacks %s:\n%s", want, info.Training)
		}
	}
	code, _, errs = arp(t, "train", "--model", "mnist-small", "--data", "mnist-mini:train", "--holdout", "2000", "--steps", "1", "--out", out+"2")
	if code != 1 || !strings.Contains(errs, "--holdout: cannot hold out 2000 of the 2000 images") {
		t.Fatalf("exit %d: %s", code, errs)
	}
}
