package analysis

import (
	"context"
	"fmt"

	"github.com/arp-robustness/arp/attention"
	"github.com/arp-robustness/arp/explain"
	"github.com/arp-robustness/arp/lime"
	"github.com/arp-robustness/arp/lime/segment"
	"github.com/arp-robustness/arp/mask"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// mapper computes attention maps for given classes.
type mapper interface {
	// size returns the map size for inputs of the model.
	layer() string
	maps(ctx context.Context, x *tensor.Tensor, labels []int, seeds []uint64) (*explain.Maps, error)
}

// camMapper computes Grad-CAM maps.
type camMapper struct {
	model  nn.Classifier
	method attention.Method
	lay    string
}

func (c *camMapper) layer() string { return c.lay }

func (c *camMapper) maps(ctx context.Context, x *tensor.Tensor, labels []int, _ []uint64) (*explain.Maps, error) {
	b, err := explain.CAM(ctx, c.model, x, labels, attention.Options{Layer: c.lay, Method: c.method})
	if err != nil {
		return nil, err
	}
	inH, inW := x.Shape()[2], x.Shape()[3]
	for i, m := range b.Coarse {
		// Resize here rather than use attention.Maps' upsampling so that
		// the report, which resizes stored maps with the same function,
		// gets the same masks.
		if b.H != inH || b.W != inW {
			b.Up[i] = mask.ResizeBilinear(m, b.H, b.W, inH, inW)
		} else {
			b.Up[i] = m
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

func (l *limeMapper) maps(ctx context.Context, x *tensor.Tensor, labels []int, seeds []uint64) (*explain.Maps, error) {
	b, err := explain.LIME(ctx, l.model, x, labels, func(i int) lime.ImageOptions {
		opts := lime.DefaultImageOptions()
		opts.NumSamples = l.samples
		opts.BatchSize = 100
		opts.Seed = seeds[i]
		if !l.meanHide {
			opts.HideColor = []float32{0}
		}
		slic := segment.DefaultSLICOptions()
		slic.NumSegments = l.segments
		opts.Segmenter = lime.SLICSegmenter(slic)
		return opts
	})
	if err != nil {
		return nil, fmt.Errorf("LIME: %w", err)
	}
	return b, nil
}
