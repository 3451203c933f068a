package segment

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// quadrants returns a c x h x w image whose four quadrants have distinct
// colours (gray levels for c == 1).
func quadrants(c, h, w int) []float32 {
	cols := [4][3]float32{{0.9, 0.1, 0.1}, {0.1, 0.8, 0.1}, {0.1, 0.1, 0.9}, {0.9, 0.9, 0.2}}
	grays := [4]float32{0.05, 0.35, 0.65, 0.95}
	img := make([]float32, c*h*w)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			q := 0
			if y >= h/2 {
				q += 2
			}
			if x >= w/2 {
				q++
			}
			for ch := 0; ch < c; ch++ {
				v := grays[q]
				if c == 3 {
					v = cols[q][ch]
				}
				img[ch*h*w+y*w+x] = v
			}
		}
	}
	return img
}

func region(y, x, h, w int) int {
	q := 0
	if y >= h/2 {
		q += 2
	}
	if x >= w/2 {
		q++
	}
	return q
}

func noise(c, h, w int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	img := make([]float32, c*h*w)
	for i := range img {
		img[i] = r.Float32()
	}
	return img
}

type segFunc func(img []float32, c, h, w int) (*Segmentation, error)

func segmenters() map[string]segFunc {
	return map[string]segFunc{
		"slic": func(img []float32, c, h, w int) (*Segmentation, error) {
			o := DefaultSLICOptions()
			o.NumSegments = 16
			return SLIC(img, c, h, w, o)
		},
		"quickshift": func(img []float32, c, h, w int) (*Segmentation, error) {
			o := DefaultQuickshiftOptions()
			o.KernelSize = 2
			return Quickshift(img, c, h, w, o)
		},
	}
}

func checkSeg(t *testing.T, s *Segmentation, h, w int) {
	t.Helper()
	if s.H != h || s.W != w || len(s.Labels) != h*w {
		t.Fatalf("segmentation %dx%d with %d labels, want %dx%d", s.H, s.W, len(s.Labels), h, w)
	}
	k, err := Validate(s.Labels, h, w)
	if err != nil {
		t.Fatalf("invalid label map: %v", err)
	}
	if k != s.K {
		t.Fatalf("K = %d but labels run 0..%d", s.K, k-1)
	}
	if !Connected(s.Labels, h, w) {
		t.Fatalf("superpixels are not 4-connected")
	}
	total := 0
	for _, n := range s.Sizes() {
		total += n
	}
	if total != h*w {
		t.Fatalf("sizes sum to %d, want %d", total, h*w)
	}
}

func TestSegmentersConnectedAndCovering(t *testing.T) {
	const h, w = 24, 28
	images := map[string]struct {
		c   int
		img []float32
	}{
		"rgb-quadrants":  {3, quadrants(3, h, w)},
		"gray-quadrants": {1, quadrants(1, h, w)},
		"rgb-noise":      {3, noise(3, h, w, 1)},
		"gray-noise":     {1, noise(1, h, w, 2)},
		"constant":       {3, make([]float32, 3*h*w)},
	}
	for sname, seg := range segmenters() {
		for iname, im := range images {
			t.Run(sname+"/"+iname, func(t *testing.T) {
				s, err := seg(im.img, im.c, h, w)
				if err != nil {
					t.Fatal(err)
				}
				checkSeg(t, s, h, w)
				if strings.HasSuffix(iname, "quadrants") {
					// Every superpixel lies inside one region.
					reg := make([]int, s.K)
					for i := range reg {
						reg[i] = -1
					}
					for p, l := range s.Labels {
						r := region(p/w, p%w, h, w)
						if reg[l] == -1 {
							reg[l] = r
						} else if reg[l] != r {
							t.Fatalf("superpixel %d straddles regions %d and %d", l, reg[l], r)
						}
					}
					if s.K < 4 {
						t.Fatalf("K = %d, want at least one superpixel per region", s.K)
					}
				}
				if sname == "slic" && (s.K < 4 || s.K > 64) {
					t.Fatalf("SLIC gave %d superpixels for 16 requested", s.K)
				}
			})
		}
	}
}

func TestSegmentDeterministic(t *testing.T) {
	img := noise(3, 16, 16, 7)
	for name, seg := range segmenters() {
		a, err := seg(img, 3, 16, 16)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := seg(img, 3, 16, 16)
		if !slices.Equal(a.Labels, b.Labels) {
			t.Errorf("%s: two runs differ", name)
		}
	}
}

func TestSLICSegmentCount(t *testing.T) {
	// A smooth horizontal ramp: SLIC should give close to the requested
	// number of roughly equal superpixels.
	const h, w = 30, 30
	img := make([]float32, h*w)
	for p := range img {
		img[p] = float32(p%w) / w
	}
	for _, k := range []int{1, 4, 9, 25} {
		o := DefaultSLICOptions()
		o.NumSegments = k
		s, err := SLIC(img, 1, h, w, o)
		if err != nil {
			t.Fatal(err)
		}
		checkSeg(t, s, h, w)
		if s.K < k/2 || s.K > 2*k {
			t.Errorf("NumSegments %d: got %d superpixels", k, s.K)
		}
	}
}

func TestTinyImages(t *testing.T) {
	for _, sz := range [][2]int{{1, 1}, {1, 7}, {5, 1}, {2, 3}} {
		h, w := sz[0], sz[1]
		img := noise(3, h, w, 3)
		for name, seg := range segmenters() {
			s, err := seg(img, 3, h, w)
			if err != nil {
				t.Fatalf("%s %dx%d: %v", name, h, w, err)
			}
			checkSeg(t, s, h, w)
		}
		o := DefaultSLICOptions()
		o.NumSegments = 1000 // more segments than pixels
		s, err := SLIC(img, 3, h, w, o)
		if err != nil {
			t.Fatal(err)
		}
		checkSeg(t, s, h, w)
	}
}

func TestConnectMergesFragments(t *testing.T) {
	// Label 0 appears in two pieces; label 1 is a single pixel.
	labels := []int32{
		0, 0, 2, 2,
		0, 0, 2, 0,
		2, 2, 2, 1,
	}
	// Splitting only: 0 (top-left), 2, 0 (single pixel at (1,3)), 1.
	s := connect(labels, 3, 4, 0, false)
	want := []int32{
		0, 0, 1, 1,
		0, 0, 1, 2,
		1, 1, 1, 3,
	}
	if !slices.Equal(s.Labels, want) || s.K != 4 {
		t.Fatalf("split: got %v K=%d, want %v", s.Labels, s.K, want)
	}
	// Orphan merging: the one-pixel piece of label 0 is merged into label 2
	// (its longest border); label 1 is a main piece and stays.
	s = connect(labels, 3, 4, 0, true)
	want = []int32{
		0, 0, 1, 1,
		0, 0, 1, 1,
		1, 1, 1, 2,
	}
	if !slices.Equal(s.Labels, want) || s.K != 3 {
		t.Fatalf("orphans: got %v K=%d, want %v", s.Labels, s.K, want)
	}
	// Minimum size 2 also removes label 1: its borders are with 0-piece
	// (1 pixel above) and 2 (1 pixel left); the tie goes to the first
	// neighbour in raster order.
	s = connect(labels, 3, 4, 2, false)
	if !Connected(s.Labels, 3, 4) {
		t.Fatalf("min size: not connected: %v", s.Labels)
	}
	for _, n := range s.Sizes() {
		if n < 2 {
			t.Fatalf("min size: piece of %d pixels left: %v", n, s.Labels)
		}
	}
}

func TestValidateAndConnected(t *testing.T) {
	tests := []struct {
		name   string
		labels []int32
		h, w   int
		err    string
		conn   bool
	}{
		{"ok", []int32{0, 0, 1, 1}, 2, 2, "", true},
		{"disconnected", []int32{0, 1, 1, 0}, 2, 2, "", false},
		{"gap", []int32{0, 0, 2, 2}, 2, 2, "unused", false},
		{"negative", []int32{0, -1, 0, 0}, 2, 2, "negative", false},
		{"length", []int32{0, 0, 0}, 2, 2, "3 labels", false},
		{"size", nil, 0, 2, "positive", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Validate(tc.labels, tc.h, tc.w)
			if tc.err == "" && err != nil {
				t.Fatal(err)
			}
			if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.err)
			}
			if got := Connected(tc.labels, tc.h, tc.w); got != tc.conn {
				t.Fatalf("Connected = %v, want %v", got, tc.conn)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	img := noise(3, 4, 4, 1)
	nan := append([]float32(nil), img...)
	nan[5] = float32(math.NaN())
	slic := DefaultSLICOptions()
	qs := DefaultQuickshiftOptions()
	tests := []struct {
		name string
		run  func() error
		want string
	}{
		{"channels", func() error { _, err := SLIC(img[:32], 2, 4, 4, slic); return err }, "channels"},
		{"length", func() error { _, err := SLIC(img[:40], 3, 4, 4, slic); return err }, "want 48"},
		{"zero size", func() error { _, err := Quickshift(nil, 3, 0, 4, qs); return err }, "positive"},
		{"nan", func() error { _, err := Quickshift(nan, 3, 4, 4, qs); return err }, "non-finite"},
		{"segments", func() error { o := slic; o.NumSegments = 0; _, err := SLIC(img, 3, 4, 4, o); return err }, "NumSegments"},
		{"compactness", func() error { o := slic; o.Compactness = -1; _, err := SLIC(img, 3, 4, 4, o); return err }, "Compactness"},
		{"iterations", func() error { o := slic; o.MaxIter = 0; _, err := SLIC(img, 3, 4, 4, o); return err }, "MaxIter"},
		{"min size factor", func() error { o := slic; o.MinSizeFactor = 2; _, err := SLIC(img, 3, 4, 4, o); return err }, "MinSizeFactor"},
		{"kernel", func() error { o := qs; o.KernelSize = 0; _, err := Quickshift(img, 3, 4, 4, o); return err }, "KernelSize"},
		{"max dist", func() error { o := qs; o.MaxDist = math.NaN(); _, err := Quickshift(img, 3, 4, 4, o); return err }, "MaxDist"},
		{"ratio", func() error { o := qs; o.Ratio = 1.5; _, err := Quickshift(img, 3, 4, 4, o); return err }, "Ratio"},
		{"min size", func() error { o := qs; o.MinSize = -1; _, err := Quickshift(img, 3, 4, 4, o); return err }, "MinSize"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestRGBToLab(t *testing.T) {
	tests := []struct{ r, g, b, l, a, bb float64 }{
		{1, 1, 1, 100, 0, 0},
		{0, 0, 0, 0, 0, 0},
		{1, 0, 0, 53.24, 80.09, 67.20},
		{0, 0, 1, 32.30, 79.19, -107.86},
		{0.5, 0.5, 0.5, 53.39, 0, 0},
	}
	for _, tc := range tests {
		l, a, b := RGBToLab(tc.r, tc.g, tc.b)
		if math.Abs(l-tc.l) > 0.05 || math.Abs(a-tc.a) > 0.05 || math.Abs(b-tc.bb) > 0.05 {
			t.Errorf("RGBToLab(%v,%v,%v) = (%.2f,%.2f,%.2f), want (%.2f,%.2f,%.2f)", tc.r, tc.g, tc.b, l, a, b, tc.l, tc.a, tc.bb)
		}
	}
}

func FuzzSegment(f *testing.F) {
	f.Add([]byte{0, 255, 3, 9, 100, 200, 7, 7, 7}, uint8(3), uint8(3), true)
	f.Add([]byte{1}, uint8(1), uint8(1), false)
	f.Fuzz(func(t *testing.T, data []byte, hh, ww uint8, rgb bool) {
		h, w := int(hh%12)+1, int(ww%12)+1
		c := 1
		if rgb {
			c = 3
		}
		img := make([]float32, c*h*w)
		for i := range img {
			if len(data) > 0 {
				img[i] = float32(data[i%len(data)]) / 255
			}
		}
		o := DefaultSLICOptions()
		o.NumSegments = 1 + len(data)%20
		s, err := SLIC(img, c, h, w, o)
		if err != nil {
			t.Fatal(err)
		}
		if !Connected(s.Labels, h, w) {
			t.Fatal("SLIC: not connected")
		}
		q := DefaultQuickshiftOptions()
		q.KernelSize = 1 + float64(len(data)%3)
		q.MinSize = len(data) % 5
		s, err = Quickshift(img, c, h, w, q)
		if err != nil {
			t.Fatal(err)
		}
		if !Connected(s.Labels, h, w) {
			t.Fatal("quickshift: not connected")
		}
	})
}
