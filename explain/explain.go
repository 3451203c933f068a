package explain

import (
	"context"
	"fmt"
	"math"

	"github.com/arp-robustness/arp/attack"
	"github.com/arp-robustness/arp/attention"
	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/lime"
	"github.com/arp-robustness/arp/lime/segment"
	"github.com/arp-robustness/arp/mask"
	"github.com/arp-robustness/arp/modelio"
	"github.com/arp-robustness/arp/tensor"
)

// Request is one image to explain.
type Request struct {
	Model *modelio.Model
	Image []float32 // the model's C x H x W input, pixels in [0,1]
	// Method is a Grad-CAM method (attention.Methods, canonical name) or
	// "lime"; CAM holds the Grad-CAM layer and recipe.
	Method string
	CAM    attention.Options
	// Mask is the attention mask's threshold, its defaults filled in.
	Mask attention.MaskOptions
	LIME LIMEOptions
	// Label is the image's true class (-1: not known); Target the class
	// the maps explain (-1: Label when known, else the prediction).
	Label, Target int
	// Attack, when set, attacks the image (for Label, else the prediction)
	// and the adversarial image is explained too, for the same class.
	Attack attack.Attack
}

// LIMEOptions configure LIME's explanations.
type LIMEOptions struct {
	Samples int    // perturbed images
	Seed    uint64 // of the sampling (and of quickshift)
	// Segmenter is "quickshift", "slic" or "auto" (slic for images under
	// 64 pixels a side, else quickshift).
	Segmenter   string
	Superpixels int     // slic: approximate number of superpixels
	KernelSize  float64 // quickshift
	MaxDist     float64 // quickshift
}

// Explanation is an explained image.
type Explanation struct {
	Explainer
	Clean       *View
	Adversarial *View // nil without an attack
	Label       int
	// TargetSource says where the target class came from: "label",
	// "prediction" or "--target" (given).
	TargetSource string
	AttackLabel  int // the class the attack moved away from (-1: no attack)
	Attack       attack.Attack
	// LIMESettings records LIME's settings (lime only).
	LIMESettings map[string]any
}

// Explain computes the clean view of the request's image and, with an
// attack, the adversarial one.
func Explain(ctx context.Context, r Request) (*Explanation, error) {
	in := r.Model.InputShape()
	x := &Explanation{Explainer: Explainer{Model: r.Model, Method: r.Method, CAM: r.CAM, Mask: r.Mask, C: in[0], H: in[1], W: in[2]},
		Label: r.Label, AttackLabel: -1, Attack: r.Attack}
	// the clean prediction decides the default target
	var pred []int
	if err := autograd.Try(func() { pred, _ = predict(r.Model, r.Image) }); err != nil {
		return nil, fmt.Errorf("model: %v", err)
	}
	x.Target, x.TargetSource = pred[0], "prediction"
	if r.Label >= 0 {
		x.Target, x.TargetSource = r.Label, "label"
	}
	if r.Target >= 0 {
		x.Target, x.TargetSource = r.Target, "--target"
	}
	if r.Method == "lime" {
		x.LIME, x.LIMESettings = r.LIME.options(x.Target, x.H, x.W)
	}
	var err error
	if x.Clean, err = x.View(ctx, r.Image); err != nil {
		return nil, err
	}
	if r.Attack == nil {
		return x, nil
	}
	x.AttackLabel = pred[0]
	if r.Label >= 0 {
		x.AttackLabel = r.Label
	}
	var xadv *tensor.Tensor
	var aerr error
	if err := autograd.Try(func() {
		xadv, aerr = r.Attack.Perturb(ctx, r.Model, tensor.FromFloat32(r.Image, 1, x.C, x.H, x.W), []int{x.AttackLabel})
	}); err != nil || aerr != nil {
		if err == nil {
			err = aerr
		}
		return nil, fmt.Errorf("--attack %s: %v", r.Attack.Name(), err)
	}
	if x.Adversarial, err = x.View(ctx, xadv.Float32s()); err != nil {
		return nil, err
	}
	return x, nil
}

// options returns LIME's options for explaining class target of h x w
// images, and the settings to record.
func (o LIMEOptions) options(target, h, w int) (lime.ImageOptions, map[string]any) {
	settings := map[string]any{}
	opt := lime.DefaultImageOptions()
	opt.NumSamples, opt.Seed, opt.Labels, opt.BatchSize = o.Samples, o.Seed, []int{target}, 100
	segmenter := o.Segmenter
	if segmenter == "auto" {
		segmenter = "quickshift"
		if max(h, w) < 64 {
			segmenter = "slic"
		}
	}
	if segmenter == "slic" {
		so := segment.DefaultSLICOptions()
		so.NumSegments = o.Superpixels
		opt.Segmenter = lime.SLICSegmenter(so)
		settings["superpixels"] = o.Superpixels
	} else {
		qo := segment.DefaultQuickshiftOptions()
		qo.Seed, qo.MaxDist, qo.KernelSize = o.Seed, o.MaxDist, o.KernelSize
		opt.Segmenter = lime.QuickshiftSegmenter(qo)
		settings["kernel_size"], settings["max_dist"], settings["ratio"] = qo.KernelSize, qo.MaxDist, qo.Ratio
	}
	settings["samples"], settings["segmenter"], settings["seed"] = o.Samples, segmenter, o.Seed
	settings["kernel_width"], settings["ridge_alpha"], settings["hide"] = opt.KernelWidth, opt.Alpha, "superpixel mean colour"
	return opt, settings
}

// RecordOptions are what the record says besides the explanation itself.
type RecordOptions struct {
	Version     string    // arp's version
	Image       ImageInfo // the image file
	GroundTruth *GroundTruth
	Truth       []bool // the ground-truth mask (H x W) of GroundTruth
	AttackSpec  string // the attack as given
	Seed        uint64
	Scale       int      // of the pictures
	Files       []string // the files written
}

// Record returns the content of explanation.json.
func (x *Explanation) Record(o RecordOptions) *Record {
	m := x.Model
	rec := &Record{ArpVersion: o.Version, Image: o.Image, GroundTruth: o.GroundTruth, Files: o.Files,
		Model: ModelInfo{Path: m.Path, Format: m.Format, Arch: m.Arch, Dataset: m.Dataset, Classes: m.ClassNames}}
	if x.Label >= 0 {
		label := x.Label
		rec.Image.Label = &label
	}
	s := &rec.Settings
	s.Method, s.Layer, s.TargetSource, s.Mask, s.Seed, s.Scale = x.Method, x.CAM.Layer, x.TargetSource, x.Mask, o.Seed, o.Scale
	s.Target = ClassProb{x.Target, m.ClassNames[x.Target], x.Clean.Probs[x.Target]}
	s.MaskUnit = "pixels"
	switch {
	case x.Mask.Method == attention.MaskTopK && x.Method == "lime":
		s.MaskUnit = "superpixels (positively weighted)"
	case x.Mask.Method == attention.MaskTopK:
		s.MaskUnit = fmt.Sprintf("cells of the %dx%d layer map", x.Clean.H, x.Clean.W)
	}
	if x.Method == "lime" {
		s.Lime = x.LIMESettings
	}
	if x.Attack != nil {
		s.Attack = x.Attack.Settings()
		s.Attack["spec"] = o.AttackSpec
		s.Attack["label"] = x.AttackLabel
	}
	rec.Clean = x.record(x.Clean, o.Truth)
	if adv := x.Adversarial; adv != nil {
		r := x.record(adv, o.Truth)
		linf := 0.0
		for i := range x.Clean.Img {
			linf = math.Max(linf, math.Abs(float64(adv.Img[i]-x.Clean.Img[i])))
		}
		success := adv.Pred != x.AttackLabel
		r.Linf, r.Success = &linf, &success
		rec.Adversarial = &r
		rec.Comparison = &Comparison{
			IoU:               mask.IoU(x.Clean.Mask, adv.Mask),
			CentroidShift:     num(mask.CentroidShift(x.Clean.Up, adv.Up, x.H, x.W)),
			SpearmanRank:      num(mask.SpearmanRank(x.Clean.Coarse, adv.Coarse)),
			ComponentsClean:   rec.Clean.Scatter.Components,
			ComponentsAdv:     r.Scatter.Components,
			PredictionChanged: adv.Pred != x.Clean.Pred,
		}
	}
	return rec
}

// MaskDefaults fills in the defaults of the attention mask of method: the
// mean threshold for Grad-CAM and the top 10 positively weighted
// superpixels for LIME (the paper's), then attention's own (see
// attention.MaskOptions.WithDefaults). An area mask gets area 1 until
// the ground truth is known.
func MaskDefaults(method string, o attention.MaskOptions) attention.MaskOptions {
	lime := method == "lime"
	if o.Method == "" {
		o.Method = attention.MaskMean
		if lime {
			o.Method = attention.MaskTopK
		}
	}
	if lime && o.Method == attention.MaskTopK && o.K == 0 {
		o.K = 10
	}
	if o.Method == attention.MaskArea {
		o.Area = 1 // set from the ground truth
	}
	return o.WithDefaults()
}

// Truth returns the ground truth of an image (c x h x w) and its record:
// the box when given, else for 1-channel (digit-like) images the pixels
// brighter than objectThreshold (negative: none). Both are nil when there
// is none.
func Truth(img []float32, c, h, w int, box *mask.Box, objectThreshold float64) ([]bool, *GroundTruth) {
	var gt []bool
	var b mask.Box
	var source string
	switch {
	case box != nil:
		gt, _ = mask.BoxMask(h, w, *box)
		b, source = *box, "box"
	case c == 1 && objectThreshold >= 0:
		var ok bool
		if gt, _, ok = data.ObjectMask(img, h, w, float32(objectThreshold)); !ok {
			return nil, nil
		}
		b, _ = mask.Bounds(gt, h, w)
		source = fmt.Sprintf("object pixels above %g", objectThreshold)
	default:
		return nil, nil
	}
	return gt, &GroundTruth{Source: source, Area: mask.Count(gt), Box: []int{b.XMin, b.YMin, b.XMax, b.YMax}}
}
