package mask

import (
	"fmt"
	"math"
)

// Connectivity selects which neighbours of a pixel belong to its component.
type Connectivity int

const (
	// Four connects a pixel to its left, right, upper and lower neighbours.
	Four Connectivity = 4
	// Eight also connects the four diagonal neighbours.
	Eight Connectivity = 8
)

// Components labels the connected components of an h x w mask. labels[i]
// is 0 for background and 1..len(sizes) for set pixels, numbered in the
// row-major order of each component's first pixel; sizes[k-1] is the pixel
// count of component k.
func Components(mask []bool, h, w int, conn Connectivity) (labels []int32, sizes []int) {
	checkLen("Components", "mask", len(mask), h, w)
	if conn != Four && conn != Eight {
		panic(fmt.Sprintf("mask.Components: connectivity %d, want 4 or 8", conn))
	}
	labels = make([]int32, len(mask))
	var stack []int
	for start, set := range mask {
		if !set || labels[start] != 0 {
			continue
		}
		label := int32(len(sizes) + 1)
		size := 0
		labels[start] = label
		stack = append(stack[:0], start)
		for len(stack) > 0 {
			p := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			size++
			r, c := p/w, p%w
			for dr := -1; dr <= 1; dr++ {
				for dc := -1; dc <= 1; dc++ {
					if dr == 0 && dc == 0 || conn == Four && dr != 0 && dc != 0 {
						continue
					}
					rr, cc := r+dr, c+dc
					if rr < 0 || rr >= h || cc < 0 || cc >= w {
						continue
					}
					q := rr*w + cc
					if mask[q] && labels[q] == 0 {
						labels[q] = label
						stack = append(stack, q)
					}
				}
			}
		}
		sizes = append(sizes, size)
	}
	return labels, sizes
}

// ScatterStats describes how a mask breaks into pieces.
type ScatterStats struct {
	Components   int     // number of connected components
	Area         int     // number of set pixels
	Largest      int     // pixel count of the largest component
	LargestShare float64 // Largest / Area; 0 for an empty mask
}

// Scatter counts the connected components of an h x w mask and the share of
// its area held by the largest one. An attention region that an attack
// scatters has more components and a smaller largest share.
func Scatter(mask []bool, h, w int, conn Connectivity) ScatterStats {
	_, sizes := Components(mask, h, w, conn)
	s := ScatterStats{Components: len(sizes)}
	for _, n := range sizes {
		s.Area += n
		s.Largest = max(s.Largest, n)
	}
	if s.Area > 0 {
		s.LargestShare = float64(s.Largest) / float64(s.Area)
	}
	return s
}

// mass returns max(v, 0) as float64, with NaN as 0.
func mass(v float32) float64 {
	if v > 0 {
		return float64(v)
	}
	return 0
}

// Entropy returns the Shannon entropy, in nats, of the map normalised to a
// probability distribution p = max(m, 0) / sum(max(m, 0)). It is NaN when
// the map has no positive mass.
func Entropy(m []float32) float64 {
	var total float64
	for _, v := range m {
		total += mass(v)
	}
	if !(total > 0) || math.IsInf(total, 0) {
		return math.NaN()
	}
	var e float64
	for _, v := range m {
		if p := mass(v) / total; p > 0 {
			e -= p * math.Log(p)
		}
	}
	return max(e, 0)
}

// EntropyBits is Entropy in bits.
func EntropyBits(m []float32) float64 {
	return Entropy(m) / math.Ln2
}

// NormalizedEntropy returns Entropy(m) / log(len(m)), which is 1 for a
// uniform map and 0 for a map with all its mass on one pixel. A one-pixel
// map scores 0; a map with no positive mass is NaN.
func NormalizedEntropy(m []float32) float64 {
	e := Entropy(m)
	if len(m) <= 1 || math.IsNaN(e) {
		return e * 0 // NaN stays NaN, anything else becomes 0
	}
	return min(e/math.Log(float64(len(m))), 1)
}

// Centroid returns the mass centroid (row, column) of an h x w map in pixel
// index units (pixel (i, j) sits at (i, j)), weighting each pixel by
// max(m, 0). ok is false when the map has no positive mass.
func Centroid(m []float32, h, w int) (row, col float64, ok bool) {
	checkLen("Centroid", "m", len(m), h, w)
	var total, sr, sc float64
	for i := range h {
		for j := range w {
			p := mass(m[i*w+j])
			total += p
			sr += p * float64(i)
			sc += p * float64(j)
		}
	}
	if !(total > 0) || math.IsInf(total, 0) {
		return math.NaN(), math.NaN(), false
	}
	return sr / total, sc / total, true
}

// CentroidShift returns the Euclidean distance in pixels between the mass
// centroids of two h x w maps, or NaN when either has no positive mass.
func CentroidShift(m1, m2 []float32, h, w int) float64 {
	checkLen("CentroidShift", "m1", len(m1), h, w)
	checkLen("CentroidShift", "m2", len(m2), h, w)
	r1, c1, ok1 := Centroid(m1, h, w)
	r2, c2, ok2 := Centroid(m2, h, w)
	if !ok1 || !ok2 {
		return math.NaN()
	}
	return math.Hypot(r1-r2, c1-c2)
}
