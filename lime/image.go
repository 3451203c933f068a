package lime

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/arp-robustness/arp/lime/segment"
	"github.com/arp-robustness/arp/limits"
)

// ClassifyImages returns class probabilities (n rows of equal length) for
// n images stored as one NCHW float32 batch. The batch buffer is reused
// between calls and must not be retained.
type ClassifyImages func(ctx context.Context, batch []float32, n int) ([][]float64, error)

// Segmenter splits a CHW image into superpixels.
type Segmenter func(img []float32, c, h, w int) (*segment.Segmentation, error)

// QuickshiftSegmenter returns a [Segmenter] running quickshift with opts.
func QuickshiftSegmenter(opts segment.QuickshiftOptions) Segmenter {
	return func(img []float32, c, h, w int) (*segment.Segmentation, error) {
		return segment.Quickshift(img, c, h, w, opts)
	}
}

// SLICSegmenter returns a [Segmenter] running SLIC with opts.
func SLICSegmenter(opts segment.SLICOptions) Segmenter {
	return func(img []float32, c, h, w int) (*segment.Segmentation, error) {
		return segment.SLIC(img, c, h, w, opts)
	}
}

// ImageOptions configures [ExplainImage]. Start from [DefaultImageOptions].
type ImageOptions struct {
	// Segmenter makes the superpixels (the interpretable features); nil
	// means quickshift with [segment.DefaultQuickshiftOptions] (seeded with
	// Seed).
	Segmenter Segmenter
	// HideColor is what a switched-off superpixel is replaced with: nil
	// means the superpixel's own mean colour (LIME's default); one value is
	// used for every channel; c values give a colour per channel.
	HideColor []float32
	// NumSamples is the number of perturbed images, the unperturbed one
	// included (>= 2).
	NumSamples int
	// BatchSize is the number of images per classify call (0: all at once).
	BatchSize int
	// Labels are the classes to explain. If empty, the TopLabels most
	// probable classes of the unperturbed image are explained.
	Labels    []int
	TopLabels int
	// NumFeatures is the maximum number of superpixels per explanation.
	NumFeatures int
	// Selection is the feature-selection method.
	Selection Selection
	// KernelWidth of the exponential kernel on cosine distance (0: 0.25).
	KernelWidth float64
	// Alpha is the ridge penalty of the local model.
	Alpha float64
	// Seed makes the sampling (and the default segmentation) reproducible.
	Seed uint64
}

// DefaultImageOptions returns the Python LIME image defaults: 1000 samples
// in batches of 10, the top 5 labels, all superpixels, automatic feature
// selection, kernel width 0.25, ridge alpha 1, mean-colour hiding.
func DefaultImageOptions() ImageOptions {
	return ImageOptions{
		NumSamples:  1000,
		BatchSize:   10,
		TopLabels:   5,
		NumFeatures: 100000,
		Selection:   SelectAuto,
		KernelWidth: 0.25,
		Alpha:       1,
	}
}

// ImageExplanation is the result of [ExplainImage].
type ImageExplanation struct {
	H, W int
	// Segments are the superpixels; feature j of every explanation is
	// superpixel j.
	Segments *segment.Segmentation
	// Predictions are the class probabilities of the unperturbed image.
	Predictions []float64
	// Labels lists the explained classes (most probable first when chosen
	// by TopLabels).
	Labels []int
	// Local holds one explanation per explained class.
	Local map[int]*Explanation
}

// Explanation returns the explanation of class label.
func (e *ImageExplanation) Explanation(label int) (*Explanation, error) {
	x, ok := e.Local[label]
	if !ok {
		return nil, fmt.Errorf("lime: class %d was not explained (explained: %v)", label, e.Labels)
	}
	return x, nil
}

// TopSegments returns up to n superpixels of class label by decreasing
// |weight|; with positiveOnly, only superpixels with positive weight.
func (e *ImageExplanation) TopSegments(label, n int, positiveOnly bool) ([]int, error) {
	x, err := e.Explanation(label)
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, fmt.Errorf("lime: %d top segments requested", n)
	}
	var out []int
	for i, f := range x.Features {
		if len(out) == n {
			break
		}
		if positiveOnly && !(x.Weights[i] > 0) {
			continue
		}
		out = append(out, f)
	}
	return out, nil
}

// Mask returns the H x W binary mask of the n positively weighted
// superpixels with the largest weights for class label (the LIME attention
// region; the paper uses n = 10).
func (e *ImageExplanation) Mask(label, n int) ([]bool, error) {
	segs, err := e.TopSegments(label, n, true)
	if err != nil {
		return nil, err
	}
	on := make([]bool, e.Segments.K)
	for _, s := range segs {
		on[s] = true
	}
	m := make([]bool, e.H*e.W)
	for p, l := range e.Segments.Labels {
		m[p] = on[l]
	}
	return m, nil
}

// Map returns an H x W attribution map: every pixel carries the weight of
// its superpixel for class label (0 for superpixels left out of the model).
func (e *ImageExplanation) Map(label int) ([]float32, error) {
	x, err := e.Explanation(label)
	if err != nil {
		return nil, err
	}
	wt := make([]float32, e.Segments.K)
	for i, f := range x.Features {
		wt[f] = float32(x.Weights[i])
	}
	m := make([]float32, e.H*e.W)
	for p, l := range e.Segments.Labels {
		m[p] = wt[l]
	}
	return m, nil
}

// MaxSamples bounds ImageOptions.NumSamples: LIME's explanations stop
// changing long before (the paper uses 1,000).
const MaxSamples = 1000000

func (o *ImageOptions) validate(c int) error {
	switch {
	case o.NumSamples < 2 || o.NumSamples > MaxSamples:
		return fmt.Errorf("lime: NumSamples %d, want 2 to %d", o.NumSamples, MaxSamples)
	case o.BatchSize < 0:
		return fmt.Errorf("lime: BatchSize %d, want >= 0", o.BatchSize)
	case len(o.Labels) == 0 && o.TopLabels < 1:
		return fmt.Errorf("lime: no labels to explain: Labels is empty and TopLabels is %d", o.TopLabels)
	case o.NumFeatures < 1:
		return fmt.Errorf("lime: NumFeatures %d, want >= 1", o.NumFeatures)
	case o.KernelWidth < 0 || math.IsNaN(o.KernelWidth) || math.IsInf(o.KernelWidth, 0):
		return fmt.Errorf("lime: KernelWidth %v, want a finite value > 0 (or 0 for the default)", o.KernelWidth)
	case !(o.Alpha >= 0) || math.IsInf(o.Alpha, 0):
		return fmt.Errorf("lime: Alpha %v, want a finite value >= 0", o.Alpha)
	case o.HideColor != nil && len(o.HideColor) != 1 && len(o.HideColor) != c:
		return fmt.Errorf("lime: HideColor has %d values, want 1 or %d (one per channel)", len(o.HideColor), c)
	}
	for _, l := range o.Labels {
		if l < 0 {
			return fmt.Errorf("lime: negative label %d", l)
		}
	}
	return nil
}

// checkProbs validates a classifier output of n rows with k columns (k <= 0:
// take it from the first row).
func checkProbs(out [][]float64, n, k int) (int, error) {
	if len(out) != n {
		return 0, fmt.Errorf("lime: classifier returned %d rows for %d inputs", len(out), n)
	}
	for i, row := range out {
		if k <= 0 {
			k = len(row)
			if k == 0 {
				return 0, errors.New("lime: classifier returned an empty row")
			}
		}
		if len(row) != k {
			return 0, fmt.Errorf("lime: classifier row %d has %d values, want %d", i, len(row), k)
		}
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, fmt.Errorf("lime: classifier returned %v for input %d class %d", v, i, j)
			}
		}
	}
	return k, nil
}

// pickLabels returns opts labels (validated against k classes) or the top
// labels of probs.
func pickLabels(labels []int, top int, probs []float64) ([]int, error) {
	k := len(probs)
	if len(labels) > 0 {
		for _, l := range labels {
			if l >= k {
				return nil, fmt.Errorf("lime: label %d out of range: the model has %d outputs", l, k)
			}
		}
		var out []int
		for _, l := range labels {
			if !slices.Contains(out, l) {
				out = append(out, l)
			}
		}
		return out, nil
	}
	order := make([]int, k)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmpDesc(probs[a], probs[b]) })
	return order[:min(top, k)], nil
}

// newRand returns the package's seeded generator.
func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x6c696d65)) // "lime"
}

// SampleBinary returns n on/off vectors over p features: the first all on
// (the instance), the others uniformly random, drawn from seed.
func SampleBinary(n, p int, seed uint64) [][]float64 {
	rng := newRand(seed)
	data := make([][]float64, n)
	for i := range data {
		row := make([]float64, p)
		for j := range row {
			if i == 0 || rng.IntN(2) == 1 {
				row[j] = 1
			}
		}
		data[i] = row
	}
	return data
}

// ExplainImage explains classify's prediction for one CHW image (c is 1
// or 3, values in [0,1]). It segments the image into superpixels, samples
// NumSamples on/off vectors over them (the first all on, the others
// uniformly random), builds the perturbed images by replacing switched-off
// superpixels with HideColor, classifies them in batches, weights each
// sample by the exponential kernel of its cosine distance to the all-on
// vector, and fits a sparse weighted ridge model per explained class.
// The same options (Seed included) always give the same explanation.
// Cancelling ctx stops the run between classifier batches with ctx's error.
func ExplainImage(ctx context.Context, img []float32, c, h, w int, classify ClassifyImages, opts ImageOptions) (*ImageExplanation, error) {
	if classify == nil {
		return nil, errors.New("lime: nil classifier")
	}
	if c != 1 && c != 3 {
		return nil, fmt.Errorf("lime: image has %d channels, want 1 or 3", c)
	}
	if h <= 0 || w <= 0 {
		return nil, fmt.Errorf("lime: image size %dx%d must be positive", h, w)
	}
	if len(img) != c*h*w {
		return nil, fmt.Errorf("lime: image has %d values, want %d (%dx%dx%d CHW)", len(img), c*h*w, c, h, w)
	}
	if err := opts.validate(c); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	seg := opts.Segmenter
	if seg == nil {
		q := segment.DefaultQuickshiftOptions()
		q.Seed = opts.Seed
		seg = QuickshiftSegmenter(q)
	}
	s, err := seg(img, c, h, w)
	if err != nil {
		return nil, fmt.Errorf("lime: segmentation: %w", err)
	}
	if s == nil || s.H != h || s.W != w {
		return nil, fmt.Errorf("lime: segmenter returned a segmentation of the wrong size (want %dx%d)", h, w)
	}
	k, err := segment.Validate(s.Labels, h, w)
	if err != nil {
		return nil, fmt.Errorf("lime: segmenter output: %w", err)
	}
	if k != s.K {
		return nil, fmt.Errorf("lime: segmenter reports %d superpixels but labels run 0..%d", s.K, k-1)
	}

	// The image with every superpixel hidden.
	hw := h * w
	fudged := make([]float32, len(img))
	switch len(opts.HideColor) {
	case 0:
		sum := make([]float64, c*k)
		cnt := make([]int, k)
		for p, l := range s.Labels {
			cnt[l]++
			for ch := 0; ch < c; ch++ {
				sum[ch*k+int(l)] += float64(img[ch*hw+p])
			}
		}
		for p, l := range s.Labels {
			for ch := 0; ch < c; ch++ {
				fudged[ch*hw+p] = float32(sum[ch*k+int(l)] / float64(cnt[l]))
			}
		}
	default:
		for ch := 0; ch < c; ch++ {
			v := opts.HideColor[0]
			if len(opts.HideColor) == c {
				v = opts.HideColor[ch]
			}
			for p := 0; p < hw; p++ {
				fudged[ch*hw+p] = v
			}
		}
	}

	n := opts.NumSamples
	// the samples' on/off vectors, their weights and the regression's
	// copies (float64 each), and a batch of perturbed images
	need := limits.Need(8, n, 3*k+8)
	if err := limits.Check(fmt.Sprintf("LIME with %d samples of %d superpixels", n, k), need); err != nil {
		return nil, fmt.Errorf("lime: %w", err)
	}
	data := SampleBinary(n, k, opts.Seed)

	bs := opts.BatchSize
	if bs == 0 {
		bs = n
	}
	size := c * hw
	batch := make([]float32, min(bs, n)*size)
	probs, err := predictBatches(ctx, n, bs, func(ctx context.Context, lo, hi int) ([][]float64, error) {
		b := batch[:(hi-lo)*size]
		for i := lo; i < hi; i++ {
			dst := b[(i-lo)*size : (i-lo+1)*size]
			row := data[i]
			for ch := 0; ch < c; ch++ {
				for p, l := range s.Labels {
					if row[l] == 1 {
						dst[ch*hw+p] = img[ch*hw+p]
					} else {
						dst[ch*hw+p] = fudged[ch*hw+p]
					}
				}
			}
		}
		return classify(ctx, b, hi-lo)
	})
	if err != nil {
		return nil, err
	}
	width := opts.KernelWidth
	if width == 0 {
		width = 0.25
	}
	dist := make([]float64, n)
	for i, row := range data {
		dist[i] = CosineDistance(row, data[0])
	}
	res := &ImageExplanation{H: h, W: w, Segments: s, Predictions: probs[0], Local: map[int]*Explanation{}}
	res.Labels, err = pickLabels(opts.Labels, opts.TopLabels, probs[0])
	if err != nil {
		return nil, err
	}
	if err := fitLabels(ctx, data, probs, KernelWeights(dist, width), res.Labels, opts.NumFeatures, opts.Selection, opts.Alpha, res.Local); err != nil {
		return nil, err
	}
	return res, nil
}
