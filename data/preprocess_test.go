package data

import (
	"math"
	"slices"
	"testing"
)

// tinyDataset has n 1x2x3 images; image i has value i/(n) at (0,0) and
// 0.5 at (1,2); its mask marks pixel (0,0) and its box is [0,1)x[0,1).
func tinyDataset(n int) *Dataset {
	d := &Dataset{Name: "tiny", C: 1, H: 2, W: 3, Classes: []string{"a", "b"}}
	for i := 0; i < n; i++ {
		img := make([]float32, 6)
		img[0] = float32(i) / float32(n)
		img[5] = 0.5
		d.Images = append(d.Images, img...)
		d.Labels = append(d.Labels, i%2)
		d.Masks = append(d.Masks, []bool{true, false, false, false, false, false})
		d.Boxes = append(d.Boxes, []Box{{XMin: 0, YMin: 0, XMax: 1, YMax: 1}})
	}
	return d
}

func TestRange(t *testing.T) {
	x := []float32{0, 0.25, 1}
	Signed.FromUnit(x)
	if !slices.Equal(x, []float32{-1, -0.5, 1}) {
		t.Fatalf("Signed.FromUnit = %v", x)
	}
	Signed.ToUnit(x)
	if !slices.Equal(x, []float32{0, 0.25, 1}) {
		t.Fatalf("Signed.ToUnit = %v", x)
	}
	Unit.FromUnit(x)
	if !slices.Equal(x, []float32{0, 0.25, 1}) {
		t.Fatalf("Unit.FromUnit changed values: %v", x)
	}
	for _, tc := range []struct {
		in   string
		want Range
		ok   bool
	}{{"[0,1]", Unit, true}, {"-1,1", Signed, true}, {"signed", Signed, true}, {"0,255", 0, false}} {
		r, err := ParseRange(tc.in)
		if (err == nil) != tc.ok || (tc.ok && r != tc.want) {
			t.Errorf("ParseRange(%q) = %v, %v", tc.in, r, err)
		}
	}
}

func TestBatches(t *testing.T) {
	d := tinyDataset(10)
	for _, tc := range []struct {
		name    string
		opt     BatchOptions
		batches []int // sizes
	}{
		{"keep last", BatchOptions{Size: 4}, []int{4, 4, 2}},
		{"drop last", BatchOptions{Size: 4, DropLast: true}, []int{4, 4}},
		{"exact", BatchOptions{Size: 5, DropLast: true}, []int{5, 5}},
		{"bigger than dataset", BatchOptions{Size: 11}, []int{10}},
		{"bigger than dataset, drop", BatchOptions{Size: 11, DropLast: true}, nil},
		{"shuffle flip signed", BatchOptions{Size: 3, Shuffle: true, Flip: true, Seed: 7, Range: Signed}, []int{3, 3, 3, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			it, err := d.Batches(tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if it.Len() != len(tc.batches) {
				t.Fatalf("Len() = %d, want %d", it.Len(), len(tc.batches))
			}
			var seen []int
			var sizes []int
			flips := 0
			for b, ok := it.Next(); ok; b, ok = it.Next() {
				sizes = append(sizes, b.N)
				if len(b.Images) != b.N*6 || len(b.Labels) != b.N || len(b.Masks) != b.N {
					t.Fatalf("batch lengths: %d images, %d labels, %d masks for N=%d", len(b.Images), len(b.Labels), len(b.Masks), b.N)
				}
				for j, i := range b.Indices {
					seen = append(seen, i)
					img := b.Images[j*6 : (j+1)*6]
					if b.Labels[j] != d.Labels[i] {
						t.Fatalf("label of %d", i)
					}
					want := d.Image(i)[0]
					marker := img[0]
					maskAt, boxX := 0, 0.0
					if b.Flipped[j] {
						flips++
						marker = img[2]
						maskAt, boxX = 2, 2
						if img[3] != tc.opt.Range.Min()+0.5*(1-tc.opt.Range.Min()) {
							t.Fatalf("flipped image %d: (1,0) = %v", i, img[3])
						}
					}
					if tc.opt.Range == Signed {
						want = 2*want - 1
					}
					if marker != want {
						t.Fatalf("image %d: marker %v, want %v (flipped %v)", i, marker, want, b.Flipped[j])
					}
					if !b.Masks[j][maskAt] || b.Boxes[j][0].XMin != boxX {
						t.Fatalf("image %d: mask/box not flipped with the image", i)
					}
				}
			}
			if !slices.Equal(sizes, tc.batches) {
				t.Fatalf("batch sizes %v, want %v", sizes, tc.batches)
			}
			if tc.opt.Shuffle {
				if slices.IsSorted(seen) {
					t.Fatal("shuffled order is sorted")
				}
				if flips == 0 || flips == len(seen) {
					t.Fatalf("%d of %d images flipped", flips, len(seen))
				}
				sorted := slices.Sorted(slices.Values(seen))
				if !slices.Equal(sorted, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
					t.Fatalf("not a permutation: %v", seen)
				}
			}
			// The dataset itself is untouched.
			if d.Images[0] != 0 || d.Images[5] != 0.5 || !d.Masks[0][0] {
				t.Fatal("Batches modified the dataset")
			}
		})
	}
	if _, err := d.Batches(BatchOptions{}); err == nil {
		t.Fatal("batch size 0 accepted")
	}
}

func TestShuffleDeterministic(t *testing.T) {
	a, b, c := Permutation(50, 1), Permutation(50, 1), Permutation(50, 2)
	if !slices.Equal(a, b) {
		t.Fatal("same seed, different permutations")
	}
	if slices.Equal(a, c) {
		t.Fatal("different seeds, same permutation")
	}
	d := tinyDataset(10).Shuffled(3)
	e := tinyDataset(10).Shuffled(3)
	if !slices.Equal(d.Images, e.Images) || !slices.Equal(d.Labels, e.Labels) {
		t.Fatal("Shuffled not deterministic")
	}
}

func TestSubsetSplitSummary(t *testing.T) {
	d := tinyDataset(10)
	a, b := d.Split(7)
	if a.Len() != 7 || b.Len() != 3 || b.Image(0)[0] != d.Image(7)[0] || b.Labels[0] != d.Labels[7] {
		t.Fatalf("Split: %d + %d", a.Len(), b.Len())
	}
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
	s := d.Summary()
	if s.N != 10 || s.Min != 0 || s.Max != 0.9 || !slices.Equal(s.ClassCounts, []int{5, 5}) || s.WithMask != 10 || s.BoxCount != 10 {
		t.Fatalf("Summary %+v", s)
	}
	if math.Abs(s.MaskArea-1.0/6) > 1e-12 {
		t.Fatalf("MaskArea %v", s.MaskArea)
	}
	bad := tinyDataset(2)
	bad.Labels[1] = 5
	if err := bad.Validate(); err == nil {
		t.Fatal("label out of range validated")
	}
	bad = tinyDataset(2)
	bad.Images[3] = 1.5
	if err := bad.Validate(); err == nil {
		t.Fatal("value 1.5 validated")
	}
}
