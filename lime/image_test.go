package lime

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/lime/segment"
)

// texture returns a c x h x w image of random colours in 4x4 blocks.
func texture(c, h, w int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 3))
	img := make([]float32, c*h*w)
	cols := make([]float32, c*((h+3)/4)*((w+3)/4))
	for i := range cols {
		cols[i] = 0.3 + 0.6*r.Float32()
	}
	bw := (w + 3) / 4
	for ch := 0; ch < c; ch++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				img[ch*h*w+y*w+x] = cols[ch*((h+3)/4)*bw+(y/4)*bw+x/4]
			}
		}
	}
	return img
}

// quadrantModel is a two-class classifier that looks only at the top-left
// quadrant: P(class 1) = sigmoid(20 * (mean brightness there - 0.4)).
func quadrantModel(c, h, w int) ClassifyImages {
	return func(ctx context.Context, batch []float32, n int) ([][]float64, error) {
		out := make([][]float64, n)
		size := c * h * w
		for i := 0; i < n; i++ {
			img := batch[i*size : (i+1)*size]
			s := 0.0
			for ch := 0; ch < c; ch++ {
				for y := 0; y < h/2; y++ {
					for x := 0; x < w/2; x++ {
						s += float64(img[ch*h*w+y*w+x])
					}
				}
			}
			m := s / float64(c*(h/2)*(w/2))
			p := 1 / (1 + math.Exp(-20*(m-0.4)))
			out[i] = []float64{1 - p, p}
		}
		return out, nil
	}
}

func inTopLeft(p, h, w int) bool { return p/w < h/2 && p%w < w/2 }

func TestImageQuadrantModel(t *testing.T) {
	slic := segment.DefaultSLICOptions()
	slic.NumSegments = 16
	tests := []struct {
		name string
		size int
		seg  Segmenter
	}{
		{"slic", 16, SLICSegmenter(slic)},
		// Small-kernel quickshift follows the 4x4 colour blocks.
		{"quickshift", 16, QuickshiftSegmenter(segment.QuickshiftOptions{KernelSize: 1, MaxDist: 10, Ratio: 1})},
		// LIME's quickshift settings (the default) need a larger image to
		// give more than one superpixel; its superpixels cross the quadrant
		// border.
		{"default", 48, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, h, w := 3, tc.size, tc.size
			img := texture(c, h, w, 1)
			o := DefaultImageOptions()
			o.Segmenter = tc.seg
			o.NumSamples = 300
			o.BatchSize = 64
			o.HideColor = []float32{0}
			o.Seed = 7
			ex, err := ExplainImage(context.Background(), img, c, h, w, quadrantModel(c, h, w), o)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ex.Labels, []int{1, 0}) {
				t.Fatalf("explained labels %v, want [1 0] (class 1 is the prediction)", ex.Labels)
			}
			k := ex.Segments.K
			// Brightness each superpixel contributes to the top-left
			// quadrant, and whether it lies entirely inside it.
			mass := make([]float64, k)
			inside := make([]bool, k)
			for i := range inside {
				inside[i] = true
			}
			for p, l := range ex.Segments.Labels {
				if !inTopLeft(p, h, w) {
					inside[l] = false
					continue
				}
				for ch := 0; ch < c; ch++ {
					mass[l] += float64(img[ch*h*w+p])
				}
			}
			nInside, nTouch, best := 0, 0, 0
			for s := range k {
				if inside[s] {
					nInside++
				}
				if mass[s] > 0 {
					nTouch++
				}
				if mass[s] > mass[best] {
					best = s
				}
			}
			t.Logf("%d superpixels, %d inside the top-left quadrant, %d touching it", k, nInside, nTouch)
			if k < 4 {
				t.Fatalf("only %d superpixels", k)
			}
			e0, _ := ex.Explanation(0)
			e1, _ := ex.Explanation(1)
			top, err := ex.TopSegments(1, nTouch, true)
			if err != nil {
				t.Fatal(err)
			}
			if len(top) != nTouch {
				t.Fatalf("%d positive superpixels, want %d (those touching the quadrant)", len(top), nTouch)
			}
			if top[0] != best {
				t.Errorf("top superpixel %d, want %d (most brightness in the quadrant)", top[0], best)
			}
			for _, s := range top {
				if mass[s] == 0 {
					t.Errorf("top superpixel %d does not touch the top-left quadrant", s)
				}
				// Class 0 gets the opposite sign.
				if e0.Weight(s) >= 0 || e1.Weight(s) <= 0 {
					t.Errorf("superpixel %d: weights %v (class 0) and %v (class 1), want negative and positive", s, e0.Weight(s), e1.Weight(s))
				}
			}
			for s := range k {
				if mass[s] == 0 && math.Abs(e1.Weight(s)) > 0.1*e1.Weight(best) {
					t.Errorf("superpixel %d outside the quadrant has weight %v (top weight %v)", s, e1.Weight(s), e1.Weight(best))
				}
			}
			if e1.Score < 0.5 {
				t.Errorf("local model score %v", e1.Score)
			}
			if nInside > 0 {
				mask, err := ex.Mask(1, nInside)
				if err != nil {
					t.Fatal(err)
				}
				if tc.name != "default" {
					for p, on := range mask {
						if on && !inTopLeft(p, h, w) {
							t.Fatalf("mask pixel (%d,%d) outside the top-left quadrant", p/w, p%w)
						}
					}
				}
			}
			m, err := ex.Map(1)
			if err != nil {
				t.Fatal(err)
			}
			// Mean attribution inside the quadrant against mean |attribution|
			// outside it.
			var in, out float64
			for p, v := range m {
				if inTopLeft(p, h, w) {
					in += float64(v) / float64(h*w/4)
				} else {
					out += math.Abs(float64(v)) / float64(3*h*w/4)
				}
			}
			if in <= 0 || (tc.name != "default" && out > 0.1*in) {
				t.Errorf("mean attribution inside the quadrant %v, mean |attribution| outside %v", in, out)
			}
		})
	}
}

func TestImageDeterministic(t *testing.T) {
	slic := segment.DefaultSLICOptions()
	slic.NumSegments = 16
	tests := []struct {
		name    string
		c, size int
		seg     Segmenter
		sel     Selection
	}{
		{"slic/lasso", 3, 16, SLICSegmenter(slic), SelectLassoPath},
		{"slic/forward", 1, 16, SLICSegmenter(slic), SelectForward},
		{"default/auto", 3, 24, nil, SelectAuto},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img := texture(tc.c, tc.size, tc.size, 2)
			o := DefaultImageOptions()
			o.Segmenter = tc.seg
			o.NumSamples = 60
			o.Seed = 11
			o.Selection = tc.sel
			if tc.sel != SelectAuto {
				o.NumFeatures = 3
			}
			run := func(o ImageOptions) *ImageExplanation {
				ex, err := ExplainImage(context.Background(), img, tc.c, tc.size, tc.size, quadrantModel(tc.c, tc.size, tc.size), o)
				if err != nil {
					t.Fatal(err)
				}
				return ex
			}
			a, b := run(o), run(o)
			if !reflect.DeepEqual(a, b) {
				t.Fatal("two runs with the same seed differ")
			}
			o.Seed = 12
			if c := run(o); reflect.DeepEqual(a.Local, c.Local) {
				t.Error("different seeds gave identical explanations")
			}
		})
	}
}

func TestImageHideColorMean(t *testing.T) {
	// With mean hiding, a switched-off superpixel takes its mean colour:
	// check the images the classifier sees.
	const c, h, w = 3, 4, 4
	img := make([]float32, c*h*w)
	for i := range img {
		img[i] = float32(i%7) / 7
	}
	labels := make([]int32, h*w)
	for p := range labels {
		if p%w >= 2 {
			labels[p] = 1
		}
	}
	seg := func([]float32, int, int, int) (*segment.Segmentation, error) {
		return &segment.Segmentation{H: h, W: w, K: 2, Labels: labels}, nil
	}
	var seen [][]float32
	classify := func(ctx context.Context, batch []float32, n int) ([][]float64, error) {
		for i := 0; i < n; i++ {
			seen = append(seen, append([]float32(nil), batch[i*c*h*w:(i+1)*c*h*w]...))
		}
		return make([][]float64, n), nil
	}
	o := DefaultImageOptions()
	o.Segmenter = seg
	o.NumSamples = 20
	o.TopLabels = 1
	o.BatchSize = 3
	// Zero-length rows are rejected, so wrap: return one class.
	cl := func(ctx context.Context, batch []float32, n int) ([][]float64, error) {
		out, _ := classify(ctx, batch, n)
		for i := range out {
			out[i] = []float64{1}
		}
		return out, nil
	}
	if _, err := ExplainImage(context.Background(), img, c, h, w, cl, o); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 20 {
		t.Fatalf("classifier saw %d images, want 20", len(seen))
	}
	if !reflect.DeepEqual(seen[0], img) {
		t.Fatal("first sample is not the original image")
	}
	mean := func(ch int, seg int32) float32 {
		s, n := 0.0, 0
		for p, l := range labels {
			if l == seg {
				s += float64(img[ch*h*w+p])
				n++
			}
		}
		return float32(s / float64(n))
	}
	data := SampleBinary(20, 2, o.Seed)
	for i, im := range seen {
		for ch := 0; ch < c; ch++ {
			for p, l := range labels {
				want := img[ch*h*w+p]
				if data[i][l] == 0 {
					want = mean(ch, l)
				}
				if im[ch*h*w+p] != want {
					t.Fatalf("sample %d channel %d pixel %d: %v, want %v", i, ch, p, im[ch*h*w+p], want)
				}
			}
		}
	}
}

func TestImageBadInput(t *testing.T) {
	const c, h, w = 3, 6, 6
	img := texture(c, h, w, 1)
	ok := quadrantModel(c, h, w)
	base := DefaultImageOptions()
	base.NumSamples = 10
	mod := func(f func(*ImageOptions)) ImageOptions { o := base; f(&o); return o }
	bad := func(out [][]float64) ClassifyImages {
		return func(context.Context, []float32, int) ([][]float64, error) { return out, nil }
	}
	fail := func(context.Context, []float32, int) ([][]float64, error) { return nil, errors.New("model exploded") }
	tests := []struct {
		name     string
		img      []float32
		c        int
		classify ClassifyImages
		opts     ImageOptions
		want     string
	}{
		{"length", img[:10], c, ok, base, "want 108"},
		{"channels", img[:72], 2, ok, base, "channels"},
		{"zero samples", img, c, ok, mod(func(o *ImageOptions) { o.NumSamples = 0 }), "NumSamples"},
		{"one sample", img, c, ok, mod(func(o *ImageOptions) { o.NumSamples = 1 }), "NumSamples"},
		{"batch", img, c, ok, mod(func(o *ImageOptions) { o.BatchSize = -1 }), "BatchSize"},
		{"no labels", img, c, ok, mod(func(o *ImageOptions) { o.TopLabels = 0 }), "no labels"},
		{"label range", img, c, ok, mod(func(o *ImageOptions) { o.Labels = []int{2} }), "label 2 out of range"},
		{"negative label", img, c, ok, mod(func(o *ImageOptions) { o.Labels = []int{-1} }), "negative label"},
		{"features", img, c, ok, mod(func(o *ImageOptions) { o.NumFeatures = 0 }), "NumFeatures"},
		{"kernel", img, c, ok, mod(func(o *ImageOptions) { o.KernelWidth = -1 }), "KernelWidth"},
		{"alpha", img, c, ok, mod(func(o *ImageOptions) { o.Alpha = math.NaN() }), "Alpha"},
		{"hide color", img, c, ok, mod(func(o *ImageOptions) { o.HideColor = []float32{0, 0} }), "HideColor"},
		{"nil classifier", img, c, nil, base, "nil classifier"},
		{"rows", img, c, bad([][]float64{{1}}), base, "1 rows"},
		{"nan", img, c, bad(make([][]float64, 10)), base, "empty row"},
		{"classifier error", img, c, fail, base, "model exploded"},
		{"segmenter", img, c, ok, mod(func(o *ImageOptions) {
			o.Segmenter = func([]float32, int, int, int) (*segment.Segmentation, error) {
				return &segment.Segmentation{H: h, W: w, K: 1, Labels: make([]int32, 5)}, nil
			}
		}), "segmenter output"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ExplainImage(context.Background(), tc.img, tc.c, h, w, tc.classify, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestImageCancel(t *testing.T) {
	const c, h, w = 1, 8, 8
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	classify := func(ctx context.Context, batch []float32, n int) ([][]float64, error) {
		calls++
		cancel()
		return quadrantModel(c, h, w)(ctx, batch, n)
	}
	o := DefaultImageOptions()
	o.NumSamples = 100
	o.BatchSize = 10
	_, err := ExplainImage(ctx, texture(c, h, w, 1), c, h, w, classify, o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if calls != 1 {
		t.Errorf("classifier called %d times after cancellation, want 1", calls)
	}
}
