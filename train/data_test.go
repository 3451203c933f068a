package train

import (
	"testing"

	"github.com/arp-robustness/arp/data"
)

func TestEvalData(t *testing.T) {
	tr, _ := mini(t)
	small, _ := tr.Split(100)
	for _, c := range []struct {
		trainSpec, evalSpec string
		n                   int
		train               *data.Dataset
		name                string
		evalN, restN        int
	}{
		{"mnist-mini:train", "", 50, tr, "mnist-mini:test", 50, 2000},
		{"mnist-mini", "", 50, tr, "mnist-mini:test", 50, 2000},
		{"mnist-mini:train", "mnist-mini:train", 30, tr, "mnist-mini:train", 30, 2000},
		{"mnist-mini:test", "", 50, small, "mnist-mini:test (20 held-out images)", 20, 80},
		{"mnist-mini:all", "", 10, small, "mnist-mini:all (10 held-out images)", 10, 90},
	} {
		ev, name, rest, err := EvalData(c.trainSpec, c.evalSpec, "", c.n, 1, data.Options{}, c.train)
		if err != nil || name != c.name || ev.Len() != c.evalN || rest.Len() != c.restN {
			t.Errorf("EvalData(%q, %q, %d): %q, %d and %d images, %v; want %q, %d and %d", c.trainSpec, c.evalSpec, c.n, name, ev.Len(), rest.Len(), err, c.name, c.evalN, c.restN)
		}
	}
	if _, _, _, err := EvalData("mnist-mini", "no-such-set", "", 5, 1, data.Options{DataDir: t.TempDir()}, tr); err == nil {
		t.Error("unknown evaluation data accepted")
	}
	// the images --holdout keeps out of training come before the test split
	hs := data.HoldOutSpec("mnist-mini:train", 30, 1)
	if ev, name, _, err := EvalData("mnist-mini:train", "", hs, 10, 1, data.Options{}, tr); err != nil || name != hs || ev.Len() != 10 {
		t.Errorf("EvalData with held-out images: %q, %v", name, err)
	}
}
