package mask

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// checkLen panics when a slice length disagrees with the stated size.
func checkLen(fn, name string, n, h, w int) {
	if h < 0 || w < 0 {
		panic(fmt.Sprintf("mask.%s: negative size h=%d w=%d", fn, h, w))
	}
	if n != h*w {
		panic(fmt.Sprintf("mask.%s: len(%s)=%d, want h*w=%d*%d=%d", fn, name, n, h, w, h*w))
	}
}

// checkSame panics when two slices that must match have different lengths.
func checkSame(fn, a, b string, na, nb int) {
	if na != nb {
		panic(fmt.Sprintf("mask.%s: len(%s)=%d differs from len(%s)=%d", fn, a, na, b, nb))
	}
}

// CheckMap reports whether m is a valid h x w attention map: positive
// sizes, len(m) == h*w and only finite values. Use it on maps read from
// files before handing them to the other functions.
func CheckMap(m []float32, h, w int) error {
	if h <= 0 || w <= 0 {
		return fmt.Errorf("map size %dx%d: height and width must be positive", h, w)
	}
	if len(m) != h*w {
		return fmt.Errorf("map has %d values, want %d for %dx%d", len(m), h*w, h, w)
	}
	for i, v := range m {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("map value %d (row %d, column %d) is %v, want a finite number", i, i/w, i%w, v)
		}
	}
	return nil
}

// CheckMask reports whether mask is a valid h x w mask: positive sizes and
// len(mask) == h*w.
func CheckMask(mask []bool, h, w int) error {
	if h <= 0 || w <= 0 {
		return fmt.Errorf("mask size %dx%d: height and width must be positive", h, w)
	}
	if len(mask) != h*w {
		return fmt.Errorf("mask has %d values, want %d for %dx%d", len(mask), h*w, h, w)
	}
	return nil
}

// MeanThreshold returns the mask m > mean(m) of an h x w map. The mean
// ignores NaN values; a constant map gives an empty mask.
func MeanThreshold(m []float32, h, w int) []bool {
	checkLen("MeanThreshold", "m", len(m), h, w)
	var sum float64
	n := 0
	for _, v := range m {
		if !math.IsNaN(float64(v)) {
			sum += float64(v)
			n++
		}
	}
	out := make([]bool, len(m))
	if n == 0 {
		return out
	}
	mean := sum / float64(n)
	for i, v := range m {
		out[i] = float64(v) > mean
	}
	return out
}

// order returns the indices of m sorted by decreasing value, ties by
// increasing index, NaN last.
func order(m []float32) []int {
	idx := make([]int, len(m))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		va, vb := m[a], m[b]
		na, nb := va != va, vb != vb
		switch {
		case na && !nb:
			return 1
		case !na && nb:
			return -1
		case !na && va > vb:
			return -1
		case !na && va < vb:
			return 1
		}
		return cmp.Compare(a, b)
	})
	return idx
}

// topN marks the n highest entries of m (clamped to [0, len(m)]).
func topN(m []float32, n int) []bool {
	out := make([]bool, len(m))
	n = max(0, min(n, len(m)))
	if n == 0 {
		return out
	}
	for _, i := range order(m)[:n] {
		out[i] = true
	}
	return out
}

// TopK returns the mask of the k highest cells of an h x w map; k is
// clamped to [0, h*w]. Of equal values the one with the smaller row-major
// index is taken first, so exactly k cells are set. Follow it with Upsample
// to get a mask at input resolution.
func TopK(m []float32, h, w, k int) []bool {
	checkLen("TopK", "m", len(m), h, w)
	return topN(m, k)
}

// AreaMatched returns the mask of the n highest pixels of m (n clamped to
// [0, len(m)]), typically with n the ground-truth area, so that the
// attention mask and the ground truth have equal size. Ties as in TopK.
func AreaMatched(m []float32, n int) []bool {
	return topN(m, n)
}

// FractionOfMax returns the mask m >= f*max(m), where the maximum ignores
// NaN. It is meant for non-negative maps: with a negative maximum and f < 1
// the mask is empty. An empty or all-NaN map gives an empty mask.
func FractionOfMax(m []float32, f float32) []bool {
	out := make([]bool, len(m))
	mx := float32(math.Inf(-1))
	found := false
	for _, v := range m {
		if v == v && (!found || v > mx) {
			mx, found = v, true
		}
	}
	if !found {
		return out
	}
	t := f * mx
	for i, v := range m {
		out[i] = v >= t
	}
	return out
}

// Above returns the mask m > t, e.g. the object pixels of a digit image
// used as its ground truth.
func Above(m []float32, t float32) []bool {
	out := make([]bool, len(m))
	for i, v := range m {
		out[i] = v > t
	}
	return out
}

// Upsample resizes an h x w mask to H x W by nearest neighbour: output
// pixel (Y, X) takes the input cell that contains its centre, i.e. row
// floor((Y+0.5)*h/H) and column floor((X+0.5)*w/W). For integer ratios each
// cell becomes an (H/h) x (W/w) block. It also works for downsampling.
func Upsample(mask []bool, h, w, H, W int) []bool {
	checkLen("Upsample", "mask", len(mask), h, w)
	if H < 0 || W < 0 {
		panic(fmt.Sprintf("mask.Upsample: negative output size H=%d W=%d", H, W))
	}
	out := make([]bool, H*W)
	if h == 0 || w == 0 {
		return out
	}
	cols := make([]int, W)
	for X := range W {
		cols[X] = (2*X + 1) * w / (2 * W)
	}
	for Y := range H {
		r := (2*Y + 1) * h / (2 * H)
		row := mask[r*w : (r+1)*w]
		o := out[Y*W : (Y+1)*W]
		for X, c := range cols {
			o[X] = row[c]
		}
	}
	return out
}

// Count returns the number of true entries of mask.
func Count(mask []bool) int {
	n := 0
	for _, b := range mask {
		if b {
			n++
		}
	}
	return n
}

// Float converts a mask to a map with 1 for true and 0 for false, e.g. to
// take the centroid of a mask.
func Float(mask []bool) []float32 {
	out := make([]float32, len(mask))
	for i, b := range mask {
		if b {
			out[i] = 1
		}
	}
	return out
}
