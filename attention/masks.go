package attention

import (
	"fmt"
	"strings"

	"github.com/arp-robustness/arp/mask"
)

// Mask thresholds (MaskOptions.Method).
const (
	MaskMean     = "mean"     // M > mean(M) at input resolution
	MaskTopK     = "topk"     // the K highest cells of the coarse map, upsampled
	MaskArea     = "area"     // the Area highest pixels (area-matched to the ground truth)
	MaskFraction = "fraction" // M >= Fraction * max(M) at input resolution
)

// DefaultTopK is the paper's number of top cells (7 of an 8x8 map).
const DefaultTopK = 7

// DefaultFraction is the default share of the maximum for MaskFraction.
const DefaultFraction = 0.5

// MaskMethods lists the mask thresholds.
func MaskMethods() []string { return []string{MaskMean, MaskTopK, MaskArea, MaskFraction} }

// MaskOptions selects how a map becomes a binary mask.
type MaskOptions struct {
	// Method is one of MaskMethods (default MaskMean).
	Method string `json:"method"`
	// K is the number of coarse cells of MaskTopK (default DefaultTopK).
	K int `json:"k,omitempty"`
	// Area is the number of pixels of MaskArea, normally the ground-truth
	// area |G|; it must be positive.
	Area int `json:"area,omitempty"`
	// Fraction is the share of the maximum of MaskFraction (default
	// DefaultFraction), in (0, 1].
	Fraction float64 `json:"fraction,omitempty"`
}

// WithDefaults returns o with the defaults filled in for its method (and
// only the settings that method uses).
func (o MaskOptions) WithDefaults() MaskOptions {
	r := MaskOptions{Method: o.Method}
	if r.Method == "" {
		r.Method = MaskMean
	}
	switch r.Method {
	case MaskTopK:
		r.K = o.K
		if r.K == 0 {
			r.K = DefaultTopK
		}
	case MaskArea:
		r.Area = o.Area
	case MaskFraction:
		r.Fraction = o.Fraction
		if r.Fraction == 0 {
			r.Fraction = DefaultFraction
		}
	}
	return r
}

// Validate checks the options after WithDefaults.
func (o MaskOptions) Validate() error {
	switch o.Method {
	case MaskMean:
	case MaskTopK:
		if o.K < 1 {
			return fmt.Errorf("attention: top-k mask needs k >= 1, got %d", o.K)
		}
	case MaskArea:
		if o.Area < 1 {
			return fmt.Errorf("attention: area-matched mask needs the ground-truth area (> 0 pixels), got %d", o.Area)
		}
	case MaskFraction:
		if !(o.Fraction > 0 && o.Fraction <= 1) {
			return fmt.Errorf("attention: fraction-of-max mask needs a fraction in (0,1], got %g", o.Fraction)
		}
	default:
		return fmt.Errorf("attention: unknown mask method %q; known: %s", o.Method, strings.Join(MaskMethods(), ", "))
	}
	return nil
}

// BinaryMask turns one map into its attention region at input resolution
// H x W. coarse is the h x w map at the layer's resolution (used by
// MaskTopK) and up the same map at input resolution (used by the others);
// for a map that only exists at input resolution (LIME) pass coarse = up
// with h, w = H, W. The settings are opt.WithDefaults().
func BinaryMask(coarse []float32, h, w int, up []float32, H, W int, opt MaskOptions) ([]bool, error) {
	opt = opt.WithDefaults()
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	if err := mask.CheckMap(up, H, W); err != nil {
		return nil, fmt.Errorf("attention: map at input resolution: %v", err)
	}
	switch opt.Method {
	case MaskMean:
		return mask.MeanThreshold(up, H, W), nil
	case MaskTopK:
		if err := mask.CheckMap(coarse, h, w); err != nil {
			return nil, fmt.Errorf("attention: coarse map: %v", err)
		}
		return mask.Upsample(mask.TopK(coarse, h, w, opt.K), h, w, H, W), nil
	case MaskArea:
		return mask.AreaMatched(up, opt.Area), nil
	default: // MaskFraction
		return mask.FractionOfMax(up, float32(opt.Fraction)), nil
	}
}
