package modelio

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/nn"
)

func TestLoadAndClass(t *testing.T) {
	run := filepath.Join(t.TempDir(), "run")
	saveRun(t, run)
	m, err := Load(run)
	if err != nil {
		t.Fatal(err)
	}
	if m.Format != "arp-run" || m.Arch != "mnist-small" || len(m.ClassNames) != 3 || m.Meta.Info == nil {
		t.Fatalf("loaded %+v", m)
	}
	for _, c := range []struct {
		in   string
		want int
		err  string
	}{{"1", 1, ""}, {"C", 2, ""}, {"a", 0, ""}, {"3", 0, "--label 3: class index outside [0,3)"}, {"-1", 0, "outside"},
		{"dog", 0, `--label "dog": not a class index in [0,3) or a class name (a, b, c)`}} {
		got, err := m.Class("--label", c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Class(%q): %v, want an error containing %q", c.in, err, c.err)
			}
		} else if err != nil || got != c.want {
			t.Errorf("Class(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	// without class names, the indices name the classes
	spec, _ := nn.DefaultSpec("mnist-small", 1, 8, 8, 3)
	bare, _ := nn.Build(spec, 1)
	dir := filepath.Join(t.TempDir(), "bare")
	if err := nn.SaveRun(dir, bare, nn.Info{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if m, err := Load(dir); err != nil || strings.Join(m.ClassNames, ",") != "0,1,2" {
		t.Fatalf("class names %v, error %v", m.ClassNames, err)
	}
	if _, err := Load(filepath.Join(dir, "missing")); err == nil || !strings.HasPrefix(err.Error(), "model ") {
		t.Errorf("missing model: %v", err)
	}
}
