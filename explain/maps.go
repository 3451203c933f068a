package explain

import (
	"context"

	"github.com/arp-robustness/arp/attention"
	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/lime"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// Maps holds attention maps of a batch of images, each for one class, with
// the model's predictions: what an explanation (Explain) and the
// attention study (package analysis) compute their masks and metrics from.
type Maps struct {
	H, W   int         // size of the coarse maps (LIME: of the images)
	Coarse [][]float32 // H x W per image
	Up     [][]float32 // at the image size (LIME: the coarse map itself)
	Pred   []int
	Probs  [][]float64
	LIME   []*lime.ImageExplanation // LIME only
}

// CAM computes Grad-CAM maps of the images x [N,C,H,W] for classes (one
// per image) with opt (see attention.Maps; Up is its upsampling).
func CAM(ctx context.Context, m nn.Classifier, x *tensor.Tensor, classes []int, opt attention.Options) (*Maps, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	set, err := attention.Maps(m, x, classes, opt)
	if err != nil {
		return nil, err
	}
	return &Maps{H: set.H, W: set.W, Coarse: set.Coarse, Up: set.Up, Pred: set.Pred, Probs: set.Probs}, nil
}

// LIME explains each image i of x [N,C,H,W] for classes[i] with LIME and
// the options opts(i) (whose Labels it sets): every pixel of a map carries
// its superpixel's weight for the class.
func LIME(ctx context.Context, m nn.Classifier, x *tensor.Tensor, classes []int, opts func(i int) lime.ImageOptions) (*Maps, error) {
	sh := x.Shape()
	n, c, h, w := sh[0], sh[1], sh[2], sh[3]
	xs := x.Float32s()
	out := &Maps{H: h, W: w}
	if err := autograd.Try(func() { out.Pred, out.Probs = nn.Predict(m, xs, n, 100) }); err != nil {
		return nil, err
	}
	classify := Classify(m)
	per := c * h * w
	for i := 0; i < n; i++ {
		o := opts(i)
		o.Labels = []int{classes[i]}
		e, err := lime.ExplainImage(ctx, xs[i*per:(i+1)*per], c, h, w, classify, o)
		if err != nil {
			return nil, err
		}
		mp, err := e.Map(classes[i])
		if err != nil {
			return nil, err
		}
		out.Coarse, out.Up, out.LIME = append(out.Coarse, mp), append(out.Up, mp), append(out.LIME, e)
	}
	return out, nil
}

// Classify is LIME's view of m: the class probabilities of a batch of
// images, 100 forward passes at a time.
func Classify(m nn.Classifier) lime.ClassifyImages {
	return func(ctx context.Context, batch []float32, n int) ([][]float64, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var probs [][]float64
		err := autograd.Try(func() { _, probs = nn.Predict(m, batch, n, 100) })
		return probs, err
	}
}
