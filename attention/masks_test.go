package attention

import (
	"strings"
	"testing"

	"github.com/arp-robustness/arp/mask"
)

func boolsOf(s string) []bool {
	s = strings.ReplaceAll(s, " ", "")
	b := make([]bool, len(s))
	for i, c := range s {
		b[i] = c == '#'
	}
	return b
}

func TestBinaryMask(t *testing.T) {
	// 2x2 coarse map and a hand-made 4x4 "upsampled" one
	coarse := []float32{0.1, 0.4, 0.3, 0.2}
	up := []float32{
		0.1, 0.1, 0.4, 0.5,
		0.1, 0.2, 0.4, 0.4,
		0.3, 0.3, 0.2, 0.2,
		0.3, 0.3, 0.2, 0.0,
	}
	cases := []struct {
		name string
		opt  MaskOptions
		want string
	}{
		{"mean (default)", MaskOptions{}, "..## ..## ##.. ##.."},
		{"top-1 cell", MaskOptions{Method: MaskTopK, K: 1}, "..## ..## .... ...."},
		{"top-2 cells", MaskOptions{Method: MaskTopK, K: 2}, "..## ..## ##.. ##.."},
		{"top-k default is 7 of 4 cells", MaskOptions{Method: MaskTopK}, "#### #### #### ####"},
		{"area 3 (ties by index)", MaskOptions{Method: MaskArea, Area: 3}, "..## ..#. .... ...."},
		{"fraction default 0.5", MaskOptions{Method: MaskFraction}, "..## ..## ##.. ##.."},
		{"fraction 0.7", MaskOptions{Method: MaskFraction, Fraction: 0.7}, "..## ..## .... ...."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := BinaryMask(coarse, 2, 2, up, 4, 4, c.opt)
			if err != nil {
				t.Fatal(err)
			}
			want := boolsOf(c.want)
			if mask.IoU(got, want) != 1 || mask.Count(got) != mask.Count(want) {
				t.Fatalf("mask %v, want %s", got, c.want)
			}
		})
	}
}

func TestBinaryMaskErrors(t *testing.T) {
	up := []float32{0, 1, 2, 3}
	cases := []struct {
		opt   MaskOptions
		upMap []float32
		want  string
	}{
		{MaskOptions{Method: "otsu"}, up, `unknown mask method "otsu"; known: mean, topk, area, fraction`},
		{MaskOptions{Method: MaskArea}, up, "needs the ground-truth area"},
		{MaskOptions{Method: MaskTopK, K: -1}, up, "k >= 1"},
		{MaskOptions{Method: MaskFraction, Fraction: 1.5}, up, "fraction in (0,1]"},
		{MaskOptions{}, up[:3], "map at input resolution"},
	}
	for _, c := range cases {
		_, err := BinaryMask(up, 2, 2, c.upMap, 2, 2, c.opt)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.opt, err, c.want)
		}
	}
}

func TestDefaultTargets(t *testing.T) {
	cases := []struct {
		labels, pred, want []int
		err                bool
	}{
		{nil, []int{3, 4}, []int{3, 4}, false},
		{[]int{1, -1}, []int{3, 4}, []int{1, 4}, false},
		{[]int{1, 2}, []int{3, 4}, []int{1, 2}, false},
		{[]int{1}, []int{3, 4}, nil, true},
	}
	for _, c := range cases {
		got, err := DefaultTargets(c.labels, c.pred)
		if (err != nil) != c.err {
			t.Fatalf("%v %v: error %v", c.labels, c.pred, err)
		}
		for i := range c.want {
			if got[i] != c.want[i] {
				t.Fatalf("%v %v: got %v, want %v", c.labels, c.pred, got, c.want)
			}
		}
	}
}

func TestMapSetMask(t *testing.T) {
	fx := loadFixture(t)
	set, err := Maps(fx.model, fx.x, fx.labels, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range set.Up {
		// 7 of 49 cells, each a 4x4 block of the 28x28 image
		m, err := set.Mask(i, MaskOptions{Method: MaskTopK})
		if err != nil {
			t.Fatal(err)
		}
		if n := mask.Count(m); n != 7*16 {
			t.Fatalf("image %d: top-7 mask has %d pixels, want 112", i, n)
		}
		m, err = set.Mask(i, MaskOptions{Method: MaskArea, Area: 100})
		if err != nil || mask.Count(m) != 100 {
			t.Fatalf("image %d: area mask %d pixels, err %v", i, mask.Count(m), err)
		}
	}
	if _, err := set.Mask(4, MaskOptions{}); err == nil {
		t.Fatal("image index 4 of 4 accepted")
	}
	if _, err := Maps(fx.model, fx.x, []int{1, 2}, Options{}); err == nil {
		t.Fatal("2 labels for 4 images accepted")
	}
	if _, err := Maps(fx.model, fx.x, []int{1, 2, 3, 10}, Options{}); err == nil {
		t.Fatal("label 10 of 10 classes accepted")
	}
}

func TestSpatialLayers(t *testing.T) {
	got, err := SpatialLayers(newSmoothNet(1))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "act1,act2,pool" {
		t.Fatalf("spatial layers %v", got)
	}
}
