package attack

import (
	"context"
	"fmt"

	"github.com/arp-robustness/arp/mask"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// GatedStepLL is the ARP paper's attention-gated iterative attack (method.md
// §4): Step-LL steps of size Alpha (least-likely class, label smoothing
// 0.1), each projected to the eps-ball and [0,1], repeated for each image
// while the IoU between its clean and adversarial attention masks stays at
// or above Threshold, at most Steps times. The masks are the mean
// thresholds of the ARP Grad-CAM maps for the true class at the model's
// attention layer (Layer), upsampled to the image. An image stops after the
// step that drops its IoU below the threshold; the first step is always
// taken.
//
// Defaults: Threshold 0.6, at most 10 steps of eps/4.
type GatedStepLL struct {
	Base
	Steps     int
	Alpha     float64
	Threshold float64
	Layer     string // default: the model's attention layer
}

// NewGatedStepLL returns the attention-gated Step-LL attack with budget eps
// on the [0,1] scale.
func NewGatedStepLL(eps float64) *GatedStepLL {
	return &GatedStepLL{Base: Base{Eps: eps, Targeting: LeastLikely, Smoothing: 0.1}}
}

func (a *GatedStepLL) Name() string { return "gated-step-ll" }

func (a *GatedStepLL) steps() int { return orDefault(a.Steps, 10) }
func (a *GatedStepLL) alpha() float64 {
	if a.Alpha > 0 {
		return a.Alpha
	}
	return a.Eps / 4
}
func (a *GatedStepLL) threshold() float64 { return orDefaultF(a.Threshold, 0.6) }

func (a *GatedStepLL) Settings() map[string]any {
	s := a.settings(a.Name())
	s["kind"] = "attention-gated"
	s["steps"] = a.steps()
	s["step_size"] = a.alpha()
	s["iou_threshold"] = a.threshold()
	s["layer"] = layerSetting(a.Layer)
	s["mask"] = "mean threshold of the ARP Grad-CAM map (true class)"
	return s
}

func layerSetting(l string) string {
	if l == "" {
		return "model's attention layer"
	}
	return l
}

func (a *GatedStepLL) Perturb(ctx context.Context, m nn.Classifier, x *tensor.Tensor, y []int) (*tensor.Tensor, error) {
	if err := validate(a.Name(), m, x, y, a.Eps); err != nil {
		return nil, err
	}
	if a.Threshold < 0 || a.Threshold > 1 {
		return nil, fmt.Errorf("%s: IoU threshold %g outside [0,1]", a.Name(), a.Threshold)
	}
	layer, err := attentionLayer(a.Name(), m, a.Layer)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t, sign, err := a.targetsFor(m, x, y)
	if err != nil {
		return nil, err
	}
	x32 := asF32(x)
	_, clean, err := attentionMasks(m, x32, y, layer)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", a.Name(), err)
	}
	adv := x32.Clone()
	n := x.Shape()[0]
	active := make([]int, n)
	for i := range active {
		active[i] = i
	}
	step, project := stepSign(a.alpha()), withinLinf(a.Eps)
	for s := 0; s < a.steps() && len(active) > 0; s++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		xt, x0 := rowsOf(adv, active), rowsOf(x32, active)
		logits, g, _, err := lossGrad(m, xt, pick(t, active), a.Smoothing)
		if err == nil && s == 0 {
			err = checkGrad(a.Name(), g, logits)
		}
		if err != nil {
			return nil, err
		}
		if sign < 0 {
			g = tensor.Scale(g, -1)
		}
		step(xt.F32(), g.F32(), active, perImage(x))
		project(xt.F32(), x0.F32(), perImage(x))
		_, masks, err := attentionMasks(m, xt, pick(y, active), layer)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", a.Name(), err)
		}
		var next []int
		for j, i := range active {
			putRow(adv, i, xt, j)
			if mask.IoU(clean[i], masks[j]) >= a.threshold() {
				next = append(next, i)
			}
		}
		active = next
	}
	return asDType(adv, x), nil
}
