package rundir

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestAnalysisDir(t *testing.T) {
	for _, c := range []struct{ method, want string }{
		{"", "runs/a/analysis"}, {"gradcam-arp", "runs/a/analysis"}, {"lime", "runs/a/analysis-lime"}, {"gradcam++", "runs/a/analysis-gradcam++"},
	} {
		if got := AnalysisDir("runs/a", c.method); got != filepath.FromSlash(c.want) {
			t.Errorf("AnalysisDir(runs/a, %q) = %s, want %s", c.method, got, c.want)
		}
	}
}

func TestHoldsRunAndRemove(t *testing.T) {
	dir := t.TempDir()
	if got := HoldsRun(filepath.Join(dir, "missing")); got != nil {
		t.Errorf("a missing directory holds %v", got)
	}
	for _, n := range []string{Curves, Eval, "notes.txt"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := HoldsRun(dir); got != nil {
		t.Errorf("curves, eval.json and a note make a run: %v", got)
	}
	if Unstarted(dir) != true {
		t.Error("curves without a checkpoint: not Unstarted")
	}
	// metrics alone: a training killed before its first checkpoint, which
	// may be started over without --force
	if err := os.WriteFile(filepath.Join(dir, Metrics), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := HoldsRun(dir); got != nil || !Unstarted(dir) {
		t.Errorf("metrics alone: HoldsRun = %v, Unstarted %v", got, Unstarted(dir))
	}
	if err := os.WriteFile(filepath.Join(dir, Info), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if Unstarted(dir) {
		t.Error("a run with model.json is Unstarted")
	}
	if got := HoldsRun(dir); !slices.Equal(got, []string{Metrics, Info}) {
		t.Errorf("HoldsRun = %v, want [%s %s]", got, Metrics, Info)
	}
	if err := Remove(dir, TrainingFiles()...); err != nil {
		t.Fatal(err)
	}
	left, _ := os.ReadDir(dir)
	var names []string
	for _, e := range left {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{Eval, "notes.txt"}) {
		t.Errorf("after removing the training files: %v, want eval.json and notes.txt", names)
	}
}
