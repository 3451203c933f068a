package attention

import (
	"fmt"
	"slices"
	"strings"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// MapSet holds the plain (non-differentiable) maps of a batch of images, one
// per image, with what they were computed for.
type MapSet struct {
	Method string // the method's name, e.g. "gradcam-arp"
	Layer  string // the tapped layer
	// H, W is the layer's (coarse) map size; InH, InW the input size.
	H, W, InH, InW int
	// Coarse[i] is image i's h x w map and Up[i] the same map resized
	// bilinearly to InH x InW (row-major).
	Coarse, Up [][]float32
	// Targets[i] is the class map i explains; Pred[i] the model's
	// prediction and Probs[i] its softmax probabilities.
	Targets []int
	Pred    []int
	Probs   [][]float64
}

// Maps computes the maps of images x (pixels in [0,1], [N,C,H,W]) for the
// classes DefaultTargets picks from labels (nil, or -1 entries, for the
// prediction) and returns them as plain float32 slices. opt.Upsample and
// opt.CreateGraph are ignored: both resolutions are returned and nothing is
// differentiable. With a batch-wide method the maps depend on the whole
// batch, so pass the batch the normalisation should run over.
func Maps(model nn.Classifier, x *tensor.Tensor, labels []int, opt Options) (*MapSet, error) {
	if x == nil {
		return nil, fmt.Errorf("attention: no images")
	}
	if err := nn.CheckInput(model, x.Shape()); err != nil {
		return nil, fmt.Errorf("attention: %v", err)
	}
	n := x.Shape()[0]
	if labels != nil && len(labels) != n {
		return nil, fmt.Errorf("attention: %d labels for %d images", len(labels), n)
	}
	for _, l := range labels {
		if l >= model.NumClasses() {
			return nil, fmt.Errorf("attention: label %d outside [0,%d)", l, model.NumClasses())
		}
	}
	if opt.Method.Weighting == nil {
		opt.Method, _ = MethodByName("gradcam-arp", false)
	}
	if opt.Layer == "" {
		opt.Layer = nn.DefaultAttentionLayer(model)
	}
	targets := labels
	if targets == nil {
		targets = make([]int, n)
		for i := range targets {
			targets[i] = -1
		}
	}
	opt.Upsample, opt.CreateGraph = false, false
	// the passes' working memory is recycled (the maps and probabilities
	// are copied out below)
	ar := autograd.OpenArena()
	defer ar.Close()
	res, err := computePlain(model, x, targets, opt)
	if err != nil {
		return nil, err
	}
	set := &MapSet{Method: opt.Method.Name, Layer: opt.Layer, InH: x.Shape()[2], InW: x.Shape()[3],
		Targets: res.Targets}
	var up, probs *tensor.Tensor
	if terr := autograd.Try(func() {
		ms := res.Map.Value().Shape()
		set.H, set.W = ms[2], ms[3]
		up = res.Map.Value()
		if set.H != set.InH || set.W != set.InW {
			up = tensor.ResizeBilinear(up, set.InH, set.InW, false)
		}
		autograd.NoGrad(func() { probs = autograd.Softmax(autograd.Const(res.Logits.Value()), 1).Value() })
	}); terr != nil {
		return nil, fmt.Errorf("attention: %v", terr)
	}
	coarse := res.Map.Value().Float32s()
	upv := up.Float32s()
	k := probs.Shape()[1]
	pv := probs.Float64s()
	hw, HW := set.H*set.W, set.InH*set.InW
	for i := 0; i < n; i++ {
		set.Coarse = append(set.Coarse, append([]float32(nil), coarse[i*hw:(i+1)*hw]...))
		set.Up = append(set.Up, append([]float32(nil), upv[i*HW:(i+1)*HW]...))
		row := append([]float64(nil), pv[i*k:(i+1)*k]...)
		best := 0
		for j, p := range row {
			if p > row[best] {
				best = j
			}
		}
		set.Probs = append(set.Probs, row)
		set.Pred = append(set.Pred, best)
	}
	return set, nil
}

// computePlain is Compute for maps that need no gradient beyond the
// tapped layer's (Maps): an arp model runs its layers up to opt.Layer
// without a graph (fused ops, no pooling indices, storage recycled) and
// only the layers after it with one, from the layer's output as the leaf
// the map's gradient is taken at. Same values as Compute, which other
// classifiers use.
func computePlain(model nn.Classifier, x *tensor.Tensor, targets []int, opt Options) (*Result, error) {
	m, ok := model.(*nn.Model)
	if !ok || opt.Layer == "" || nn.CheckLayer(model, opt.Layer) != nil || nn.CheckInput(model, x.Shape()) != nil {
		return Compute(model, autograd.Const(x), targets, opt)
	}
	return mapOf(func() (*autograd.Var, *autograd.Var, error) {
		var a *autograd.Var
		autograd.NoGrad(func() { a = m.ForwardTo(autograd.Const(x), opt.Layer, opt.Mode) })
		a = autograd.Param(a.Value())
		logits, _ := m.ForwardFrom(a, opt.Layer, opt.Mode)
		return logits, a, nil
	}, targets, opt, x.Shape()[2], x.Shape()[3])
}

// Mask returns the binary attention mask of image i at input resolution
// (see BinaryMask).
func (s *MapSet) Mask(i int, opt MaskOptions) ([]bool, error) {
	if i < 0 || i >= len(s.Up) {
		return nil, fmt.Errorf("attention: image %d outside [0,%d)", i, len(s.Up))
	}
	return BinaryMask(s.Coarse[i], s.H, s.W, s.Up[i], s.InH, s.InW, opt)
}

// CheckMapLayer checks that layer is a layer of model with a spatial map
// (an [N,C,H,W] output), one Grad-CAM can explain with; the error says
// which layers have maps, and callers put the layer's name (and where it
// came from) in front of it.
func CheckMapLayer(model nn.Classifier, layer string) error {
	spatial, err := SpatialLayers(model)
	if err != nil {
		return err
	}
	if slices.Contains(spatial, layer) {
		return nil
	}
	if layer != "" && nn.CheckLayer(model, layer) == nil {
		return fmt.Errorf("no spatial map (its output is not [N,C,H,W]); layers with maps: %s", strings.Join(spatial, ", "))
	}
	return fmt.Errorf("no such layer; layers with maps: %s", strings.Join(spatial, ", "))
}

// SpatialLayers lists the layers of model whose output is a spatial map
// [N,C,h,w], the layers a CAM can be taken at, in order. It runs the model
// once on a blank image (float32, or float64 for a model that only takes
// float64).
func SpatialLayers(model nn.Classifier) ([]string, error) {
	in := model.InputShape()
	names := model.LayerNames()
	var out []string
	var err error
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64} {
		out = nil
		err = autograd.Try(func() {
			autograd.NoGrad(func() {
				_, acts := model.Forward(autograd.Const(tensor.Zeros(dt, 1, in[0], in[1], in[2])), nn.Eval, names...)
				for _, n := range names {
					if a := acts[n]; a != nil && len(a.Shape()) == 4 {
						out = append(out, n)
					}
				}
			})
		})
		if err == nil {
			return out, nil
		}
	}
	return nil, fmt.Errorf("attention: %v", err)
}
