package segment

import (
	"fmt"
	"math"
)

// Segmentation is a superpixel label map.
type Segmentation struct {
	H, W   int     // image height and width
	K      int     // number of superpixels
	Labels []int32 // row-major H*W labels in [0, K)
}

// Sizes returns the number of pixels in each superpixel.
func (s *Segmentation) Sizes() []int {
	n := make([]int, s.K)
	for _, l := range s.Labels {
		n[l]++
	}
	return n
}

// Validate checks that labels is a label map of an h x w image with labels
// 0..k-1 (each used at least once) and returns k. It does not require the
// superpixels to be connected; see [Connected].
func Validate(labels []int32, h, w int) (int, error) {
	if h <= 0 || w <= 0 {
		return 0, fmt.Errorf("segment: image size %dx%d must be positive", h, w)
	}
	if len(labels) != h*w {
		return 0, fmt.Errorf("segment: %d labels for a %dx%d image (want %d)", len(labels), h, w, h*w)
	}
	k := int32(0)
	for i, l := range labels {
		if l < 0 {
			return 0, fmt.Errorf("segment: negative label %d at pixel (%d,%d)", l, i/w, i%w)
		}
		if l >= k {
			k = l + 1
		}
	}
	if int(k) > h*w {
		return 0, fmt.Errorf("segment: label %d exceeds the pixel count %d", k-1, h*w)
	}
	used := make([]bool, k)
	for _, l := range labels {
		used[l] = true
	}
	for l, u := range used {
		if !u {
			return 0, fmt.Errorf("segment: label %d is unused (labels must run 0..%d without gaps)", l, k-1)
		}
	}
	return int(k), nil
}

// Connected reports whether every label of the h x w label map forms a single
// 4-connected region. It returns false for maps that fail [Validate].
func Connected(labels []int32, h, w int) bool {
	k, err := Validate(labels, h, w)
	if err != nil {
		return false
	}
	comp, _ := components(labels, h, w)
	seen := make([]int32, k)
	for i := range seen {
		seen[i] = -1
	}
	for i, l := range labels {
		switch seen[l] {
		case -1:
			seen[l] = comp[i]
		case comp[i]:
		default:
			return false
		}
	}
	return true
}

// checkImage validates a CHW image and returns per-pixel features
// (CIELAB for colour, 100*intensity for gray) in pixel-major order.
func checkImage(img []float32, c, h, w int) ([]float64, int, error) {
	if c != 1 && c != 3 {
		return nil, 0, fmt.Errorf("segment: %d channels, want 1 (gray) or 3 (RGB)", c)
	}
	if h <= 0 || w <= 0 {
		return nil, 0, fmt.Errorf("segment: image size %dx%d must be positive", h, w)
	}
	if len(img) != c*h*w {
		return nil, 0, fmt.Errorf("segment: image has %d values, want %d (%dx%dx%d CHW)", len(img), c*h*w, c, h, w)
	}
	for i, v := range img {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			ch, p := i/(h*w), i%(h*w)
			return nil, 0, fmt.Errorf("segment: non-finite value %v at channel %d pixel (%d,%d)", v, ch, p/w, p%w)
		}
	}
	n := h * w
	if c == 1 {
		f := make([]float64, n)
		for i := range f {
			f[i] = 100 * float64(img[i])
		}
		return f, 1, nil
	}
	f := make([]float64, 3*n)
	for i := 0; i < n; i++ {
		l, a, b := RGBToLab(float64(img[i]), float64(img[n+i]), float64(img[2*n+i]))
		f[3*i], f[3*i+1], f[3*i+2] = l, a, b
	}
	return f, 3, nil
}

// RGBToLab converts an sRGB colour with components in [0,1] (values outside
// are clamped) to CIELAB under the D65 white point.
func RGBToLab(r, g, b float64) (l, a, bb float64) {
	lin := func(v float64) float64 {
		v = math.Min(1, math.Max(0, v))
		if v > 0.04045 {
			return math.Pow((v+0.055)/1.055, 2.4)
		}
		return v / 12.92
	}
	r, g, b = lin(r), lin(g), lin(b)
	x := (0.412453*r + 0.357580*g + 0.180423*b) / 0.95047
	y := 0.212671*r + 0.715160*g + 0.072169*b
	z := (0.019334*r + 0.119193*g + 0.950227*b) / 1.08883
	f := func(t float64) float64 {
		if t > 0.008856 {
			return math.Cbrt(t)
		}
		return 7.787*t + 16.0/116
	}
	fx, fy, fz := f(x), f(y), f(z)
	return 116*fy - 16, 500 * (fx - fy), 200 * (fy - fz)
}
