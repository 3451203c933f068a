package analysis

import (
	"math"
	"math/rand/v2"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// regionModel is a classifier built to attend to a fixed region: its only
// feature layer "feat" is the image times a fixed 0/1 region mask, and the
// logit of class 1 is (sum(feat) - t)/4 (class 0's logit is 0). Its Grad-CAM map
// for class 1 is therefore the image inside the region, so for a white
// object on black the attention mask is exactly object ∩ region, and the
// coverage of the object is |object ∩ region| / |object|.
type regionModel struct {
	h, w   int
	region *autograd.Var
	t      float64
}

func newRegionModel(h, w, regionCols int, t float64) *regionModel {
	r := make([]float32, h*w)
	for y := 0; y < h; y++ {
		for x := 0; x < regionCols; x++ {
			r[y*w+x] = 1
		}
	}
	// A parameter, so that the feature layer is differentiable as Grad-CAM
	// needs.
	return &regionModel{h: h, w: w, t: t, region: autograd.Param(tensor.FromFloat32(r, 1, 1, h, w))}
}

func (m *regionModel) Forward(x *autograd.Var, _ nn.Mode, taps ...string) (*autograd.Var, map[string]*autograd.Var) {
	n := x.Shape()[0]
	feat := autograd.Mul(x, m.region)
	// A gentle slope keeps the softmax away from saturation, so that input
	// gradients do not underflow.
	s := autograd.Reshape(autograd.Scale(autograd.AddScalar(autograd.Sum(feat, false, 1, 2, 3), -m.t), 0.25), n, 1)
	zero := autograd.Const(tensor.Zeros(x.DType(), n, 1))
	logits := autograd.Concat(1, zero, s)
	out := map[string]*autograd.Var{}
	for _, t := range taps {
		if t != "feat" {
			panic(&tensor.ShapeError{Op: "regionModel", Msg: "unknown tap " + t})
		}
		out[t] = feat
	}
	return logits, out
}

func (m *regionModel) LayerNames() []string { return []string{"feat"} }
func (m *regionModel) InputShape() []int    { return []int{1, m.h, m.w} }
func (m *regionModel) NumClasses() int      { return 2 }

// squares returns 16x16 images of a white 4x4 square (label 1) at every
// column 2..7 and row 0..11, with its pixels as the ground truth, so the
// square has 16, 16, 16, 12, 8 and 4 pixels in the left half (columns 0-7).
func squares() *data.Dataset {
	const h, w = 16, 16
	d := &data.Dataset{Name: "squares", C: 1, H: h, W: w, Classes: []string{"none", "square"}}
	for c := 2; c <= 7; c++ {
		for r := 0; r <= 11; r++ {
			img := make([]float32, h*w)
			m := make([]bool, h*w)
			for y := r; y < r+4; y++ {
				for x := c; x < c+4; x++ {
					img[y*w+x] = 1
					m[y*w+x] = true
				}
			}
			d.Images = append(d.Images, img...)
			d.Labels = append(d.Labels, 1)
			d.Masks = append(d.Masks, m)
		}
	}
	return d
}

// inRegion counts the square's pixels in the left half for image i of
// squares().
func inRegion(i int) int {
	c := 2 + i/12
	return 4 * max(0, min(8, c+4)-c)
}

// fakeHeader is a header for hand-made records.
func fakeHeader(attacks ...AttackInfo) *Header {
	return &Header{Format: Format, Config: Config{Method: "gradcam-arp", Seed: 1}.WithDefaults(),
		Data: DataRef{Spec: "fake", Name: "fake", C: 1, H: 2, W: 2, Images: 0, Total: 0, Truth: true},
		MapH: 2, MapW: 2, TopK: 1, Attacks: attacks}
}

// fakeRecords makes n records whose attack "a" succeeds on the first
// attacked of them; coverage and IoU come from the given functions.
func fakeRecords(n, attacked int, seed uint64, cov, iou func(r *rand.Rand, success bool) float64) []*Record {
	rng := rand.New(rand.NewPCG(seed, 7))
	var out []*Record
	for i := 0; i < n; i++ {
		s := i < attacked
		rec := &Record{Index: i, Label: i % 3, Pred: i % 3, Conf: 0.9,
			Clean:   &MapStats{Map: Map{1, 0, 0, 0}, Components: 1, CoverageTopK: Num(math.NaN()), IoUTruth: Num(math.NaN())},
			Attacks: map[string]*AttackRecord{"a": {Success: s, IoU: Num(iou(rng, s)), Adv: &MapStats{Components: 1}}}}
		c := Num(cov(rng, s))
		rec.Clean.Coverage, rec.Clean.CoverageArea = c, c
		out = append(out, rec)
	}
	return out
}
