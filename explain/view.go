package explain

import (
	"context"
	"fmt"

	"github.com/arp-robustness/arp/attention"
	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/lime"
	"github.com/arp-robustness/arp/mask"
	"github.com/arp-robustness/arp/modelio"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// View is the map and mask of one image.
type View struct {
	Img          []float32 // the image, C x H x W
	Pred         int
	Probs        []float64
	Coarse       []float32 // the map, h x w
	H, W         int       // the size of Coarse
	Up           []float32 // the map at the image size
	Mask         []bool    // the attention mask at the image size
	LIME         *lime.ImageExplanation
	LIMESegments []int // the mask's superpixels (lime topk)
}

// Explainer computes views with fixed settings.
type Explainer struct {
	Model   *modelio.Model
	Method  string // a Grad-CAM method (attention.Methods) or "lime"
	CAM     attention.Options
	Mask    attention.MaskOptions
	LIME    lime.ImageOptions
	Target  int // the class every map explains
	C, H, W int // the model's input size
}

// View computes the view of img (C x H x W) for the target class.
func (e *Explainer) View(ctx context.Context, img []float32) (*View, error) {
	v := &View{Img: img}
	if err := autograd.Try(func() {
		pred, probs := predict(e.Model, img)
		v.Pred, v.Probs = pred[0], probs[0]
	}); err != nil {
		return nil, fmt.Errorf("model: %v", err)
	}
	x := tensor.FromFloat32(img, 1, e.C, e.H, e.W)
	var maps *Maps
	var err error
	if e.Method == "lime" {
		if maps, err = LIME(ctx, e.Model, x, []int{e.Target}, func(int) lime.ImageOptions { return e.LIME }); err != nil {
			return nil, fmt.Errorf("lime: %v", err)
		}
	} else if maps, err = CAM(ctx, e.Model, x, []int{e.Target}, e.CAM); err != nil {
		return nil, err
	}
	v.Coarse, v.H, v.W, v.Up = maps.Coarse[0], maps.H, maps.W, maps.Up[0]
	if e.Method == "lime" {
		v.LIME = maps.LIME[0]
		if e.Mask.Method == attention.MaskTopK {
			v.LIMESegments, err = v.LIME.TopSegments(e.Target, e.Mask.K, true)
			if err == nil {
				v.Mask, err = v.LIME.Mask(e.Target, e.Mask.K)
			}
			if err != nil {
				return nil, fmt.Errorf("lime: %v", err)
			}
			return v, nil
		}
	}
	if err := mask.CheckMap(v.Up, e.H, e.W); err != nil {
		return nil, fmt.Errorf("the %s map is not finite (%v); is the model's output finite?", e.Method, err)
	}
	v.Mask, err = attention.BinaryMask(v.Coarse, v.H, v.W, v.Up, e.H, e.W, e.Mask)
	return v, err
}

// predict returns the model's prediction and class probabilities for one
// image.
func predict(m nn.Classifier, img []float32) ([]int, [][]float64) { return nn.Predict(m, img, 1, 1) }
