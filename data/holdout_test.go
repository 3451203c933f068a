package data

import (
	"slices"
	"strings"
	"testing"
)

func TestHoldOutSplitsByIndexAndSeed(t *testing.T) {
	d, err := Open("mnist-mini:train", Options{})
	if err != nil {
		t.Fatal(err)
	}
	held, rest, err := d.HoldOut(300, 7)
	if err != nil {
		t.Fatal(err)
	}
	if held.Len() != 300 || rest.Len() != d.Len()-300 {
		t.Fatalf("held %d, rest %d of %d", held.Len(), rest.Len(), d.Len())
	}
	idx := SeededSubset(d.Len(), 300, 7)
	if !slices.IsSorted(idx) || !slices.Equal(idx, SeededSubset(d.Len(), 300, 7)) {
		t.Fatal("held-out indices not sorted or not reproducible")
	}
	if slices.Equal(idx, SeededSubset(d.Len(), 300, 8)) {
		t.Fatal("another seed holds out the same images")
	}
	// held-out and rest partition the images, each in the dataset's order
	in := map[int]bool{}
	for j, i := range idx {
		in[i] = true
		if !slices.Equal(held.Image(j), d.Image(i)) || held.Labels[j] != d.Labels[i] {
			t.Fatalf("held-out image %d is not image %d", j, i)
		}
	}
	j := 0
	for i := 0; i < d.Len(); i++ {
		if in[i] {
			continue
		}
		if !slices.Equal(rest.Image(j), d.Image(i)) || rest.Labels[j] != d.Labels[i] {
			t.Fatalf("remaining image %d is not image %d", j, i)
		}
		j++
	}
	// the spec form opens the same images
	h2, err := Open(HoldOutSpec("mnist-mini:train", 300, 7), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(h2.Images, held.Images) || !slices.Equal(h2.Labels, held.Labels) || h2.Name != "mnist-mini:train:heldout=300:seed=7" {
		t.Fatalf("spec form differs (name %q)", h2.Name)
	}
	h3, err := Open("mnist-mini:heldout=300", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(h3.Labels, heldOutLabels(d, 300, DefaultHoldOutSeed)) {
		t.Fatal("default seed differs")
	}
	if _, _, err := d.HoldOut(d.Len(), 1); err == nil {
		t.Fatal("holding out every image accepted")
	}
}

// heldOutLabels returns the labels of the held-out images.
func heldOutLabels(d *Dataset, n int, seed uint64) []int {
	var out []int
	for _, i := range SeededSubset(d.Len(), n, seed) {
		out = append(out, d.Labels[i])
	}
	return out
}

func TestHoldOutSpecErrors(t *testing.T) {
	for spec, want := range map[string]string{
		"mnist-mini:train:heldout=0":        "heldout=0 must be a number of images >= 1",
		"mnist-mini:train:heldout=x":        "heldout=x",
		"mnist-mini:train:seed=3":           "seed=S only goes with heldout=N",
		"mnist-mini:train:heldout=5:pick=1": `unknown dataset option "pick"`,
		"mnist-mini:train:heldout=5000":     "cannot hold out 5000 of the 2000 images",
		"mnist-mini:heldout=1:heldout=2":    "heldout given twice",
	} {
		_, err := Open(spec, Options{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%q) = %v, want an error containing %q", spec, err, want)
		}
	}
}

func FuzzParseSelection(f *testing.F) {
	for _, s := range []string{"mnist:train:heldout=5000:seed=3", "mnist:heldout=1", "a:seed=1", "x:heldout=-1", ":=", "mnist:test"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		base, sel, err := parseSelection(spec)
		if err != nil {
			return
		}
		if sel == nil && base != spec {
			t.Fatalf("%q: no selection but base %q", spec, base)
		}
		if sel != nil && (sel.heldOut < 1 || !strings.HasPrefix(spec, base)) {
			t.Fatalf("%q: selection %+v, base %q", spec, sel, base)
		}
	})
}
