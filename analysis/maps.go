package analysis

import (
	"context"
	"fmt"

	"github.com/arp-robustness/arp/attention"
	"github.com/arp-robustness/arp/lime"
	"github.com/arp-robustness/arp/lime/segment"
	"github.com/arp-robustness/arp/mask"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// mapBatch holds the maps of a batch for the true classes with the model's
// predictions.
type mapBatch struct {
	h, w   int         // size of the coarse maps
	coarse [][]float32 // h x w (LIME: H x W)
	up     [][]float32 // H x W
	pred   []int
	probs  [][]float64
}

// mapper computes attention maps for given classes.
type mapper interface {
	// size returns the map size for inputs of the model.
	layer() string
	maps(ctx context.Context, x *tensor.Tensor, labels []int, seeds []uint64) (*mapBatch, error)
}

// camMapper computes Grad-CAM maps.
type camMapper struct {
	model  nn.Classifier
	method attention.Method
	lay    string
}

func (c *camMapper) layer() string { return c.lay }

func (c *camMapper) maps(ctx context.Context, x *tensor.Tensor, labels []int, _ []uint64) (*mapBatch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	set, err := attention.Maps(c.model, x, labels, attention.Options{Layer: c.lay, Method: c.method})
	if err != nil {
		return nil, err
	}
	b := &mapBatch{h: set.H, w: set.W, coarse: set.Coarse, pred: set.Pred, probs: set.Probs}
	for _, m := range set.Coarse {
		// Resize here rather than use set.Up so that the report, which
		// resizes stored maps with the same function, gets the same masks.
		if set.H == set.InH && set.W == set.InW {
			b.up = append(b.up, m)
		} else {
			b.up = append(b.up, mask.ResizeBilinear(m, set.H, set.W, set.InH, set.InW))
		}
	}
	return b, nil
}

// limeMapper computes LIME maps: every pixel carries its superpixel's
// weight for the class.
type limeMapper struct {
	model             nn.Classifier
	samples, segments int
	meanHide          bool
}

func (l *limeMapper) layer() string { return "" }

func (l *limeMapper) maps(ctx context.Context, x *tensor.Tensor, labels []int, seeds []uint64) (*mapBatch, error) {
	sh := x.Shape()
	n, c, h, w := sh[0], sh[1], sh[2], sh[3]
	xs := x.Float32s()
	pred, probs := nn.Predict(l.model, xs, n, 100)
	b := &mapBatch{h: h, w: w, pred: pred, probs: probs}
	classify := func(ctx context.Context, batch []float32, k int) ([][]float64, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		_, p := nn.Predict(l.model, batch, k, 100)
		return p, nil
	}
	per := c * h * w
	for i := 0; i < n; i++ {
		opts := lime.DefaultImageOptions()
		opts.NumSamples = l.samples
		opts.BatchSize = 100
		opts.Labels = []int{labels[i]}
		opts.Seed = seeds[i]
		if !l.meanHide {
			opts.HideColor = []float32{0}
		}
		slic := segment.DefaultSLICOptions()
		slic.NumSegments = l.segments
		opts.Segmenter = lime.SLICSegmenter(slic)
		e, err := lime.ExplainImage(ctx, xs[i*per:(i+1)*per], c, h, w, classify, opts)
		if err != nil {
			return nil, fmt.Errorf("LIME: %w", err)
		}
		m, err := e.Map(labels[i])
		if err != nil {
			return nil, fmt.Errorf("LIME: %w", err)
		}
		b.coarse = append(b.coarse, m)
		b.up = append(b.up, m)
	}
	return b, nil
}
