package shard

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Spec
		err  string
	}{
		{"", Spec{}, ""},
		{"0/1", Spec{0, 1}, ""},
		{"3/8", Spec{3, 8}, ""},
		{" 2 / 4 ", Spec{2, 4}, ""},
		{"8/8", Spec{}, "0..7"},
		{"-1/8", Spec{}, "0..7"},
		{"1/0", Spec{}, ">= 1"},
		{"1", Spec{}, "want i/N"},
		{"a/b", Spec{}, "want i/N"},
	} {
		got, err := Parse(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Parse(%q): %v, want an error containing %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

// TestBatchesCover: the shards of any split cover every batch exactly once,
// in order, with sizes that differ by at most one.
func TestBatchesCover(t *testing.T) {
	for nb := 1; nb <= 40; nb++ {
		for n := 1; n <= nb; n++ {
			next, small, large := 0, nb, 0
			for i := 0; i < n; i++ {
				lo, hi, err := Spec{i, n}.Batches(nb)
				if err != nil {
					t.Fatal(err)
				}
				if lo != next || hi <= lo {
					t.Fatalf("%d batches, shard %d/%d: [%d,%d) after %d", nb, i, n, lo, hi, next)
				}
				next = hi
				small, large = min(small, hi-lo), max(large, hi-lo)
			}
			if next != nb || large-small > 1 {
				t.Fatalf("%d batches in %d shards: covered %d, sizes %d..%d", nb, n, next, small, large)
			}
		}
		if _, _, err := (Spec{0, nb + 1}).Batches(nb); err == nil || !strings.Contains(err.Error(), "at most") {
			t.Fatalf("%d shards of %d batches: %v", nb+1, nb, err)
		}
	}
	if lo, hi, _ := (Spec{}).Batches(7); lo != 0 || hi != 7 {
		t.Fatal("the whole run is not all batches")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"0/1", "3/8", "", "x", "1/", "/2", "99999999999999999999/1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := Parse(s)
		if err != nil {
			return
		}
		if !sp.Whole() && (sp.Index < 0 || sp.Index >= sp.Count) {
			t.Fatalf("Parse(%q) = %+v", s, sp)
		}
	})
}
