package defense

import (
	"fmt"
	"math"
	"slices"

	"github.com/arp-robustness/arp/attack"
	"github.com/arp-robustness/arp/attention"
	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/mask"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// How ARP picks its adversarial samples.
const (
	// SamplesSingle: one update on (x, Attack(x)) per batch ("arp").
	SamplesSingle = "single"
	// SamplesTwoStep: one update on Step-LL(x), then one on
	// Step-LL(Step-LL(x)) made with the updated model ("two-step").
	SamplesTwoStep = "two-step"
	// SamplesIoU: after the first update, up to ExtraSteps rounds as in
	// the authors' iou_train.py: the clean/adversarial attention IoU is
	// computed for every image of the batch, the images whose IoU is above
	// IoUThreshold take one more Step-LL step, the others keep their last
	// adversarial image, and the model is updated on the whole batch
	// ("arp-iou"; see ARP.Step).
	SamplesIoU = "iou"
)

// ARP is the attention rectification and preservation objective of
// method.md §5:
//
//	L   = A*L_c + B*L_r + C*L_p
//	L_c = CE(f(x), y) + CE(f(x_adv), y)
//	L_p = sum over batch and pixels of (M(x) - M(x_adv))^2
//	L_r = -mean((p(x) - p(x_m))^2) - mean((p(x_adv) - p(x_adv_m))^2)
//
// M is the attention map of the true class, upsampled to the input size;
// x_m replaces the attended pixels B(x) = 1[M(x) > mean M(x)] (per image,
// a constant: no gradient flows through B) by MaskFill, and x_adv_m does
// the same with x_adv's own map; p is the softmax; the means run over
// batch and classes. Every term is computed in training mode from the
// same forward passes, and the maps are differentiated through the
// gradient that defines their channel weights (double backpropagation)
// unless FirstOrder is set.
type ARP struct {
	A, B, C float64
	// Attack makes the first adversarial sample of each batch.
	Attack attack.Spec
	// Map is "gradcam-arp" (default) or "gradcam"; BatchWide normalises
	// the ARP variant's gradients over the batch.
	Map       string
	BatchWide bool
	// FirstOrder treats the maps' channel weights as constants.
	FirstOrder bool
	// Layer is the attention layer ("" = the model's default).
	Layer string
	// MaskFill is the pixel value of the masked-out region (0.5: the
	// paper's x*(1-B) on its [-1,1] scale).
	MaskFill float64
	// Samples is SamplesSingle, SamplesTwoStep or SamplesIoU.
	Samples string
	// IoUThreshold and ExtraSteps configure SamplesIoU.
	IoUThreshold float64
	ExtraSteps   int
	// Project keeps the further Step-LL steps inside the eps-ball.
	Project bool
}

// Name is "arp", "two-step" or "arp-iou".
func (o *ARP) Name() string {
	switch o.Samples {
	case SamplesTwoStep:
		return "two-step"
	case SamplesIoU:
		return "arp-iou"
	}
	return "arp"
}

func (o *ARP) mapName() string {
	if o.Map == "" {
		return "gradcam-arp"
	}
	return o.Map
}

// MapVariants lists the attention maps ARP can train with.
func MapVariants() []string { return []string{"gradcam-arp", "gradcam"} }

// Validate checks the configuration.
func (o *ARP) Validate() error {
	for _, v := range []float64{o.A, o.B, o.C, o.MaskFill, o.IoUThreshold} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("defense arp: weights, mask fill and IoU threshold must be finite numbers")
		}
	}
	if o.A < 0 || o.B < 0 || o.C < 0 {
		return fmt.Errorf("defense arp: loss weights a=%g b=%g c=%g must be >= 0", o.A, o.B, o.C)
	}
	if o.MaskFill < 0 || o.MaskFill > 1 {
		return fmt.Errorf("defense arp: mask fill %g outside the pixel range [0,1]", o.MaskFill)
	}
	switch o.mapName() {
	case "gradcam-arp", "gradcam":
	default:
		return fmt.Errorf("unknown map variant %q; known: gradcam-arp, gradcam", o.Map)
	}
	switch o.Samples {
	case "", SamplesSingle, SamplesTwoStep:
	case SamplesIoU:
		if o.IoUThreshold < 0 || o.IoUThreshold > 1 {
			return fmt.Errorf("arp-iou: IoU threshold %g outside [0,1]", o.IoUThreshold)
		}
		if o.ExtraSteps < 0 {
			return fmt.Errorf("arp-iou: %d extra steps", o.ExtraSteps)
		}
	default:
		return fmt.Errorf("defense arp: unknown sample schedule %q", o.Samples)
	}
	return validateAttack(o.Attack)
}

// Settings describes the objective.
func (o *ARP) Settings() map[string]any {
	s := attackSettings(o.Attack)
	s["defense"] = o.Name()
	s["a"], s["b"], s["c"] = o.A, o.B, o.C
	s["map"] = o.mapName()
	s["batch_norm_grad"] = o.BatchWide
	s["first_order"] = o.FirstOrder
	s["mask_fill"] = o.MaskFill
	if o.Layer != "" {
		s["layer"] = o.Layer
	}
	if o.Samples != SamplesSingle && o.Samples != "" {
		s["project"] = o.Project
	}
	if o.Samples == SamplesIoU {
		s["iou_threshold"] = o.IoUThreshold
		s["extra_steps"] = o.ExtraSteps
	}
	return s
}

// WeightDecayScale is A: L_c, which A multiplies, includes the weight decay.
func (o *ARP) WeightDecayScale() float64 { return o.A }

// CheckModel checks, before training starts, that the attention layer
// exists in m and has a spatial map.
func (o *ARP) CheckModel(m nn.Classifier) error {
	l := o.Layer
	if l == "" {
		l = nn.DefaultAttentionLayer(m)
	}
	if err := attention.CheckMapLayer(m, l); err != nil {
		return fmt.Errorf("defense arp: attention layer %s: %v", l, err)
	}
	return nil
}

func (o *ARP) layer(m nn.Classifier) (string, error) {
	l := o.Layer
	if l == "" {
		l = nn.DefaultAttentionLayer(m)
	}
	if err := nn.CheckLayer(m, l); err != nil {
		return "", fmt.Errorf("defense arp: attention %v", err)
	}
	return l, nil
}

// Loss computes the ARP loss on clean images x and adversarial images xadv
// (pixels in [0,1], [N,C,H,W]) with labels y, the forward passes in mode.
// Terms holds "ce_clean", "ce_adv", "l_c", "l_r", "l_p" and "loss"; a term
// whose weight is 0 is not computed (and L_r's masked passes are skipped).
func (o *ARP) Loss(m nn.Classifier, x, xadv *tensor.Tensor, y []int, mode nn.Mode) (*Loss, error) {
	return o.loss(m, x, nil, xadv, y, mode)
}

// loss is Loss; clean, if not nil, is the attention layer's output on x
// from an earlier pass of m (see cleanTap), and the clean pass continues
// from it instead of starting again from the pixels.
func (o *ARP) loss(m nn.Classifier, x *tensor.Tensor, clean *autograd.Var, xadv *tensor.Tensor, y []int, mode nn.Mode) (*Loss, error) {
	layer, err := o.layer(m)
	if err != nil {
		return nil, err
	}
	method, err := attention.MethodByName(o.mapName(), o.BatchWide)
	if err != nil {
		return nil, err
	}
	h, w := x.Shape()[2], x.Shape()[3]
	opt := attention.Options{Layer: layer, Method: method, Mode: mode, Upsample: true,
		// the maps need to be differentiable only for L_p; L_r uses them
		// for the mask B alone
		CreateGraph: o.C != 0 && !o.FirstOrder}
	var l *Loss
	terr := autograd.Try(func() {
		var lx *autograd.Var
		var ax map[string]*autograd.Var
		if clean != nil {
			lx, _ = m.(*nn.Model).ForwardFrom(clean, layer, mode)
			ax = map[string]*autograd.Var{layer: clean}
		} else {
			lx, ax = m.Forward(autograd.Const(x), mode, layer)
		}
		la, aa := m.Forward(autograd.Const(xadv), mode, layer)
		cx := autograd.CrossEntropy(lx, y, 0)
		ca := autograd.CrossEntropy(la, y, 0)
		lc := autograd.Add(cx, ca)
		total := autograd.Scale(lc, o.A)
		terms := map[string]float64{"ce_clean": cx.Item(), "ce_adv": ca.Item(), "l_c": lc.Item()}
		if o.B != 0 || o.C != 0 {
			var mx, ma *autograd.Var
			if mx, err = attention.FromActivations(lx, ax[layer], y, opt, h, w); err != nil {
				return
			}
			if ma, err = attention.FromActivations(la, aa[layer], y, opt, h, w); err != nil {
				return
			}
			if o.C != 0 {
				lp := autograd.SumAll(autograd.Square(autograd.Sub(mx, ma)))
				total = autograd.Add(total, autograd.Scale(lp, o.C))
				terms["l_p"] = lp.Item()
			}
			if o.B != 0 {
				lxm, _ := m.Forward(autograd.Const(MaskAttended(x, mx.Value(), o.MaskFill)), mode)
				lam, _ := m.Forward(autograd.Const(MaskAttended(xadv, ma.Value(), o.MaskFill)), mode)
				dx := autograd.MeanAll(autograd.Square(autograd.Sub(autograd.Softmax(lx, 1), autograd.Softmax(lxm, 1))))
				da := autograd.MeanAll(autograd.Square(autograd.Sub(autograd.Softmax(la, 1), autograd.Softmax(lam, 1))))
				lr := autograd.Neg(autograd.Add(dx, da))
				total = autograd.Add(total, autograd.Scale(lr, o.B))
				terms["l_r"] = lr.Item()
			}
		}
		terms["loss"] = total.Item()
		l = &Loss{Total: total, Terms: terms, Logits: lx, Labels: y}
	})
	if terr != nil {
		return nil, terr
	}
	if err != nil {
		return nil, err
	}
	return l, nil
}

// MaskAttended returns a copy of x [N,C,H,W] in which every pixel of image
// i where the map maps[i] [H,W] is above its mean (mask.MeanThreshold) is
// set to fill in all channels: x_m = x*(1-B(x)) + fill*B(x).
func MaskAttended(x, maps *tensor.Tensor, fill float64) *tensor.Tensor {
	s := x.Shape()
	n, c, hw := s[0], s[1], s[2]*s[3]
	out := x.AsType(tensor.Float32).Clone()
	v := out.F32()
	mv := maps.AsType(tensor.Float32).F32()
	for i := 0; i < n; i++ {
		b := mask.MeanThreshold(mv[i*hw:(i+1)*hw], s[2], s[3])
		for ch := 0; ch < c; ch++ {
			img := v[(i*c+ch)*hw : (i*c+ch+1)*hw]
			for p, on := range b {
				if on {
					img[p] = float32(fill)
				}
			}
		}
	}
	return out
}

// Step runs the objective's sample schedule on a batch: one update on
// (x, Attack(x)); two-step then updates once more on a further Step-LL
// step of every image; arp-iou runs up to ExtraSteps gated rounds (see
// iouRounds).
func (o *ARP) Step(s *Step) (*Result, error) {
	am, tap := o.cleanTap(s.Model, s.X)
	xa, err := perturb(s.Ctx, o.Attack, am, s.X, s.Y, s.Seed)
	if err != nil {
		return nil, err
	}
	var clean *autograd.Var
	if tap != nil {
		clean = tap.out
	}
	l, err := o.loss(s.Model, s.X, clean, xa, s.Y, s.Mode)
	if err != nil {
		return nil, err
	}
	res, err := apply(s, l)
	if err != nil {
		return nil, err
	}
	switch o.Samples {
	case SamplesTwoStep:
		xa2, err := o.further(s, s.X, xa, s.Y)
		if err != nil {
			return nil, err
		}
		l2, err := o.Loss(s.Model, s.X, xa2, s.Y, s.Mode)
		if err != nil {
			return nil, err
		}
		if err := s.Update(l2); err != nil {
			return nil, err
		}
		res.Updates++
		res.Terms["loss_2"] = l2.Terms["loss"]
	case SamplesIoU:
		if err := o.iouRounds(s, xa, res, o.ious); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// cleanTap returns the classifier the step's attack runs on. When the
// attack is Step-LL (one forward pass, on the clean batch x) and every
// layer of m up to the attention layer computes the same in evaluation
// and training mode (CifarNet's and the MNIST CNNs' dropout sits in the
// dense layers only), the attack's model is m wrapped in a tapRecorder
// that keeps the attention layer's output on x with its graph: the loss's
// clean pass continues from it (nn.Model.ForwardFrom) instead of
// recomputing the convolutions, an exact saving of one forward pass
// through the feature layers per step. Otherwise m itself, and a nil tap.
func (o *ARP) cleanTap(m nn.Classifier, x *tensor.Tensor) (nn.Classifier, *tapRecorder) {
	nm, ok := m.(*nn.Model)
	if !ok || o.Attack.Name != "step-ll" {
		return m, nil
	}
	layer, err := o.layer(m)
	if err != nil || !nm.SameInModes(layer) {
		return m, nil
	}
	t := &tapRecorder{Model: nm, x: x, layer: layer}
	return t, t
}

// tapRecorder is a model that keeps the output of one layer from its
// first forward pass on the batch x.
type tapRecorder struct {
	*nn.Model
	x     *tensor.Tensor
	layer string
	out   *autograd.Var
}

// Forward runs the model; on the first pass on x it also taps the layer.
func (t *tapRecorder) Forward(x *autograd.Var, mode nn.Mode, taps ...string) (*autograd.Var, map[string]*autograd.Var) {
	if t.out != nil || x.Value() != t.x {
		return t.Model.Forward(x, mode, taps...)
	}
	logits, acts := t.Model.Forward(x, mode, append(slices.Clone(taps), t.layer)...)
	t.out = acts[t.layer]
	// the tap outlives the attack's gradient computation (and its arena):
	// the loss continues from it and differentiates through its graph
	autograd.Keep(t.out)
	if !slices.Contains(taps, t.layer) {
		delete(acts, t.layer)
	}
	return logits, acts
}

// gateFunc returns the clean/adversarial attention IoU of every image.
type gateFunc func(m nn.Classifier, x, xa *tensor.Tensor, y []int) ([]float64, error)

// iouRounds is arp-iou's schedule after the first update, as the authors'
// iou_train.py runs it. Each round recomputes the gate for every image of
// the batch with the current model (an image that failed an earlier round
// may pass again), moves the images whose IoU is above IoUThreshold one
// Step-LL step further, keeps the last adversarial image of the others,
// and updates the model on the whole batch, so every update weighs L_c
// (a batch mean) and L_p (a batch sum) over the same number of images.
// The rounds stop early when no image passes the gate (an update then
// would repeat the previous one's samples). xa is updated in place.
func (o *ARP) iouRounds(s *Step, xa *tensor.Tensor, res *Result, gate gateFunc) error {
	extra := 0
	for k := 0; k < o.ExtraSteps; k++ {
		ious, err := gate(s.Model, s.X, xa, s.Y)
		if err != nil {
			return err
		}
		var pass []int
		for i, v := range ious {
			if v > o.IoUThreshold {
				pass = append(pass, i)
			}
		}
		if len(pass) == 0 {
			break
		}
		next, err := o.further(s, rows(s.X, pass), rows(xa, pass), pick(s.Y, pass))
		if err != nil {
			return err
		}
		setRows(xa, pass, next)
		l, err := o.Loss(s.Model, s.X, xa, s.Y, s.Mode)
		if err != nil {
			return err
		}
		if err := s.Update(l); err != nil {
			return err
		}
		res.Updates++
		extra += len(pass)
	}
	res.Terms["extra_samples"] = float64(extra)
	return nil
}

// further applies one more Step-LL step of size eps to xa (clean images x),
// projected to the eps-ball around x when Project is set.
func (o *ARP) further(s *Step, x, xa *tensor.Tensor, y []int) (*tensor.Tensor, error) {
	eps := o.Attack.Config.Eps
	next, err := attack.NewStepLL(eps).Perturb(s.Ctx, s.Model, xa, y)
	if err != nil {
		return nil, err
	}
	if o.Project {
		lo, hi := tensor.AddScalar(x, -eps), tensor.AddScalar(x, eps)
		next = tensor.Clamp(tensor.Minimum(tensor.Maximum(next, lo), hi), 0, 1)
	}
	return next, nil
}

// ious returns, per image, the IoU of the mean-threshold masks of the
// clean and adversarial attention maps (true class, evaluation mode, at the
// attention layer's resolution).
func (o *ARP) ious(m nn.Classifier, x, xa *tensor.Tensor, y []int) ([]float64, error) {
	layer, err := o.layer(m)
	if err != nil {
		return nil, err
	}
	method, err := attention.MethodByName(o.mapName(), o.BatchWide)
	if err != nil {
		return nil, err
	}
	opt := attention.Options{Layer: layer, Method: method, Mode: nn.Eval}
	rc, err := attention.Compute(m, autograd.Const(x), y, opt)
	if err != nil {
		return nil, err
	}
	ra, err := attention.Compute(m, autograd.Const(xa), y, opt)
	if err != nil {
		return nil, err
	}
	s := rc.Map.Shape()
	h, w := s[2], s[3]
	mc, ma := rc.Map.Value().Float32s(), ra.Map.Value().Float32s()
	out := make([]float64, s[0])
	for i := range out {
		a := mask.MeanThreshold(mc[i*h*w:(i+1)*h*w], h, w)
		b := mask.MeanThreshold(ma[i*h*w:(i+1)*h*w], h, w)
		out[i] = mask.IoU(a, b)
	}
	return out, nil
}

// rows returns the images idx of x [N,...] as a new float32 tensor.
func rows(x *tensor.Tensor, idx []int) *tensor.Tensor {
	s := x.Shape()
	per := x.Size() / s[0]
	v := x.AsType(tensor.Float32).F32()
	out := make([]float32, len(idx)*per)
	for j, i := range idx {
		copy(out[j*per:(j+1)*per], v[i*per:(i+1)*per])
	}
	shape := append([]int{len(idx)}, s[1:]...)
	return tensor.FromFloat32(out, shape...)
}

// setRows writes the images of src into x at the rows idx.
func setRows(x *tensor.Tensor, idx []int, src *tensor.Tensor) {
	per := x.Size() / x.Shape()[0]
	v, sv := x.F32(), src.AsType(tensor.Float32).F32()
	for j, i := range idx {
		copy(v[i*per:(i+1)*per], sv[j*per:(j+1)*per])
	}
}

func pick(y []int, idx []int) []int {
	out := make([]int, len(idx))
	for j, i := range idx {
		out[j] = y[i]
	}
	return out
}

// TRADES is the objective of Zhang et al. (2019):
// CE(f(x), y) + Beta * KL(p(x) || p(x_adv)) / N, with x_adv maximising the
// KL divergence by PGD (attack pgd-kl in final-iterate mode: Steps steps of
// StepSize from x + 0.001*N(0,1), projected to the eps-ball; evaluation
// mode).
type TRADES struct {
	Beta     float64
	Eps      float64
	Steps    int     // default 10
	StepSize float64 // default Eps/4
}

func (o *TRADES) Name() string { return "trades" }

func (o *TRADES) steps() int {
	if o.Steps > 0 {
		return o.Steps
	}
	return 10
}

func (o *TRADES) stepSize() float64 {
	if o.StepSize > 0 {
		return o.StepSize
	}
	return o.Eps / 4
}

// Validate checks the configuration.
func (o *TRADES) Validate() error {
	if !(o.Beta >= 0) || math.IsInf(o.Beta, 0) {
		return fmt.Errorf("trades: beta %g must be >= 0", o.Beta)
	}
	if !(o.Eps > 0) || o.Eps > 1 {
		return fmt.Errorf("trades: eps %g must be in (0,1] (pixel scale)", o.Eps)
	}
	if o.Steps < 0 || o.StepSize < 0 || math.IsNaN(o.StepSize) {
		return fmt.Errorf("trades: steps %d and step size %g must be >= 0", o.Steps, o.StepSize)
	}
	return nil
}

func (o *TRADES) Settings() map[string]any {
	return map[string]any{"defense": "trades", "beta": o.Beta, "eps": o.Eps, "pgd_steps": o.steps(), "pgd_step_size": o.stepSize()}
}

// Loss is CE(f(x), y) + Beta * sum KL(p(x) || p(x_adv)) / N, both passes
// in mode and differentiated through both.
func (o *TRADES) Loss(m nn.Classifier, x, xadv *tensor.Tensor, y []int, mode nn.Mode) (*Loss, error) {
	var l *Loss
	err := autograd.Try(func() {
		lx, _ := m.Forward(autograd.Const(x), mode)
		la, _ := m.Forward(autograd.Const(xadv), mode)
		ce := autograd.CrossEntropy(lx, y, 0)
		kl := autograd.Scale(autograd.KLDivLogits(lx, la), 1/float64(len(y)))
		t := autograd.Add(ce, autograd.Scale(kl, o.Beta))
		l = &Loss{Total: t, Logits: lx, Labels: y,
			Terms: map[string]float64{"ce_clean": ce.Item(), "kl": kl.Item(), "loss": t.Item()}}
	})
	return l, err
}

func (o *TRADES) Step(s *Step) (*Result, error) {
	a := &attack.PGDKL{Base: attack.Base{Eps: o.Eps, Seed: s.Seed}, Steps: o.steps(), Alpha: o.stepSize(), FinalIterate: true}
	xa, err := a.Perturb(s.Ctx, s.Model, s.X, s.Y)
	if err != nil {
		return nil, err
	}
	l, err := o.Loss(s.Model, s.X, xa, s.Y, s.Mode)
	if err != nil {
		return nil, err
	}
	return apply(s, l)
}
