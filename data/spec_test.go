package data

import "testing"

func TestSplitSpecAndOpenTest(t *testing.T) {
	for _, c := range []struct{ spec, base, split string }{
		{"mnist:test", "mnist", "test"}, {"mnist", "mnist", ""}, {"cifar-10:all", "cifar-10", "all"},
		{"mnist:val", "mnist:val", ""}, {"a:b:train", "a:b", "train"},
	} {
		if b, s := SplitSpec(c.spec); b != c.base || s != c.split {
			t.Errorf("SplitSpec(%q) = %q, %q; want %q, %q", c.spec, b, s, c.base, c.split)
		}
	}
	for _, c := range []struct {
		spec, name string
		n          int
	}{{"mnist-mini", "mnist-mini:test", 1000}, {"mnist-mini:train", "mnist-mini:train", 2000}, {"mnist-mini:test", "mnist-mini:test", 1000},
		{"mnist-mini:heldout=50", "mnist-mini:heldout=50", 50}, {"mnist-mini:test:heldout=20:seed=3", "mnist-mini:test:heldout=20:seed=3", 20}} {
		d, name, err := OpenTest(c.spec, Options{})
		if err != nil || name != c.name || d.Len() != c.n {
			t.Errorf("OpenTest(%q): %q with %d images (%v); want %q with %d", c.spec, name, lenOf(d), err, c.name, c.n)
		}
	}
	if _, _, err := OpenTest("no-such-data", Options{DataDir: t.TempDir()}); err == nil {
		t.Error("an unknown dataset opened")
	}
}

func lenOf(d *Dataset) int {
	if d == nil {
		return -1
	}
	return d.Len()
}
