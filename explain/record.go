package explain

import (
	"fmt"
	"io"
	"math"

	"github.com/arp-robustness/arp/attention"
	"github.com/arp-robustness/arp/mask"
)

type ClassProb struct {
	Class       int     `json:"class"`
	Name        string  `json:"name"`
	Probability float64 `json:"probability"`
}

type MapRecord struct {
	H      int       `json:"h"`
	W      int       `json:"w"`
	Values []float32 `json:"values"`
}

type MaskRecord struct {
	H      int   `json:"h"`
	W      int   `json:"w"`
	Area   int   `json:"area"`
	Values []int `json:"values"` // row-major 0/1
}

type ScatterRecord struct {
	Components   int     `json:"components"`
	Largest      int     `json:"largest"`
	LargestShare float64 `json:"largest_share"`
}

type LIMERecord struct {
	Superpixels int             `json:"superpixels"`
	Weights     []SegmentWeight `json:"weights"` // selected superpixels by decreasing |weight|
	Intercept   float64         `json:"intercept"`
	Score       float64         `json:"score"`
	Segments    []int32         `json:"segments"` // row-major superpixel label of each pixel
}

type SegmentWeight struct {
	Segment int     `json:"segment"`
	Weight  float64 `json:"weight"`
}

type ViewRecord struct {
	Prediction        ClassProb   `json:"prediction"`
	TargetProbability float64     `json:"target_probability"`
	Probabilities     []ClassProb `json:"probabilities"`
	// Map is the map at the layer's resolution (Grad-CAM) or at input
	// resolution (LIME); MapUpsampled the Grad-CAM map at input resolution.
	Map               MapRecord     `json:"map"`
	MapUpsampled      *MapRecord    `json:"map_upsampled,omitempty"`
	Mask              MaskRecord    `json:"mask"`
	Scatter           ScatterRecord `json:"scatter"`
	Entropy           *float64      `json:"entropy"`            // nats, of the map normalised to sum 1
	NormalizedEntropy *float64      `json:"normalized_entropy"` // entropy / log(pixels)
	Centroid          []float64     `json:"centroid,omitempty"` // row, column in pixels
	Coverage          *float64      `json:"coverage,omitempty"` // |mask and G| / |G|
	IoUGroundTruth    *float64      `json:"iou_ground_truth,omitempty"`
	PointingGame      *bool         `json:"pointing_game,omitempty"`
	Lime              *LIMERecord   `json:"lime,omitempty"`
	// adversarial view only
	Linf    *float64 `json:"linf,omitempty"`
	Success *bool    `json:"attack_success,omitempty"` // prediction differs from the attack's label
}

// Record is the content of explanation.json.
type Record struct {
	ArpVersion  string       `json:"arp_version"`
	Model       ModelInfo    `json:"model"`
	Image       ImageInfo    `json:"image"`
	Settings    Settings     `json:"settings"`
	GroundTruth *GroundTruth `json:"ground_truth"`
	Clean       ViewRecord   `json:"clean"`
	Adversarial *ViewRecord  `json:"adversarial,omitempty"`
	Comparison  *Comparison  `json:"comparison,omitempty"`
	Files       []string     `json:"files"`
}

// num returns v for JSON, or nil when it is not a finite number.
func num(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// Settings are the settings of an explanation.
type Settings struct {
	Method       string                `json:"method"`
	Layer        string                `json:"layer,omitempty"`
	Target       ClassProb             `json:"target"` // probability on the clean image
	TargetSource string                `json:"target_source"`
	Mask         attention.MaskOptions `json:"mask"`
	MaskUnit     string                `json:"mask_unit"` // what topk counts
	Lime         map[string]any        `json:"lime,omitempty"`
	Attack       map[string]any        `json:"attack,omitempty"`
	Seed         uint64                `json:"seed"`
	Scale        int                   `json:"picture_scale"`
}

// ModelInfo describes the explained model.
type ModelInfo struct {
	Path    string   `json:"path"`
	Format  string   `json:"format"`
	Arch    string   `json:"arch"`
	Dataset string   `json:"dataset,omitempty"`
	Classes []string `json:"classes"`
}

// ImageInfo describes the explained image file.
type ImageInfo struct {
	Path     string   `json:"path"`
	Format   string   `json:"format"`
	Height   int      `json:"height"`
	Width    int      `json:"width"`
	Channels int      `json:"channels"`
	Notes    []string `json:"notes,omitempty"`
	Label    *int     `json:"label"`
}

// GroundTruth describes the ground-truth region.
type GroundTruth struct {
	Source string `json:"source"`
	Area   int    `json:"area"`
	Box    []int  `json:"box"` // x0, y0, x1, y1 (half-open)
}

// Comparison compares the clean and the adversarial view.
type Comparison struct {
	IoU               float64  `json:"iou_clean_adv"`
	CentroidShift     *float64 `json:"centroid_shift"` // pixels
	SpearmanRank      *float64 `json:"spearman_rank"`  // of the maps in "map"
	ComponentsClean   int      `json:"components_clean"`
	ComponentsAdv     int      `json:"components_adv"`
	PredictionChanged bool     `json:"prediction_changed"`
}

// record builds the JSON record of a view.
func (e *Explainer) record(v *View, gt []bool) ViewRecord {
	names := e.Model.ClassNames
	r := ViewRecord{Prediction: ClassProb{v.Pred, names[v.Pred], v.Probs[v.Pred]}, TargetProbability: v.Probs[e.Target]}
	for k, p := range v.Probs {
		r.Probabilities = append(r.Probabilities, ClassProb{k, names[k], p})
	}
	r.Map = MapRecord{v.H, v.W, v.Coarse}
	if v.LIME == nil {
		r.MapUpsampled = &MapRecord{e.H, e.W, v.Up}
	}
	r.Mask = MaskRecord{H: e.H, W: e.W, Area: mask.Count(v.Mask), Values: make([]int, len(v.Mask))}
	for i, b := range v.Mask {
		if b {
			r.Mask.Values[i] = 1
		}
	}
	sc := mask.Scatter(v.Mask, e.H, e.W, mask.Eight)
	r.Scatter = ScatterRecord{sc.Components, sc.Largest, sc.LargestShare}
	r.Entropy, r.NormalizedEntropy = num(mask.Entropy(v.Up)), num(mask.NormalizedEntropy(v.Up))
	if row, col, ok := mask.Centroid(v.Up, e.H, e.W); ok {
		r.Centroid = []float64{row, col}
	}
	if gt != nil {
		r.Coverage, r.IoUGroundTruth = num(mask.Coverage(v.Mask, gt)), num(mask.IoU(v.Mask, gt))
		hit := mask.PointingGame(v.Up, e.H, e.W, gt, 0)
		r.PointingGame = &hit
	}
	if v.LIME != nil {
		lr := &LIMERecord{Superpixels: v.LIME.Segments.K, Segments: v.LIME.Segments.Labels}
		if le, err := v.LIME.Explanation(e.Target); err == nil {
			lr.Intercept, lr.Score = le.Intercept, le.Score
			for i, f := range le.Features {
				lr.Weights = append(lr.Weights, SegmentWeight{f, le.Weights[i]})
			}
		}
		r.Lime = lr
	}
	return r
}

// Summary writes what the record says in a few lines: predictions, the
// map's class, the masks and, with an attack of budget eps, what the
// attack changed.
func (r *Record) Summary(w io.Writer, eps float64) {
	s := r.Settings
	desc := s.Method
	if s.Layer != "" {
		desc += " at " + s.Layer
	}
	fmt.Fprintf(w, "clean:       predicted %s (p=%.3f); %s map of class %s (%s)\n", r.Clean.Prediction.Name, r.Clean.Prediction.Probability, desc, s.Target.Name, s.TargetSource)
	fmt.Fprintf(w, "             %s mask: %d pixels%s\n", s.Mask.Method, r.Clean.Mask.Area, r.Clean.truthSummary())
	if a := r.Adversarial; a != nil {
		fmt.Fprintf(w, "adversarial: predicted %s (p=%.3f) after %v (eps %g); %s mask: %d pixels%s\n", a.Prediction.Name, a.Prediction.Probability,
			s.Attack["attack"], eps, s.Mask.Method, a.Mask.Area, a.truthSummary())
		fmt.Fprintf(w, "             IoU clean/adversarial mask %.3f, components %d -> %d\n", r.Comparison.IoU, r.Comparison.ComponentsClean, r.Comparison.ComponentsAdv)
	}
}

// truthSummary says how the mask meets the ground truth, if there is one.
func (r ViewRecord) truthSummary() string {
	if r.Coverage == nil {
		return ""
	}
	return fmt.Sprintf(", coverage of the ground truth %.3f, IoU with it %.3f", *r.Coverage, *r.IoUGroundTruth)
}
