package mask

import "math"

// IoU returns |a and b| / |a or b|, the intersection over union of two
// masks of equal length. Two empty masks are the same set, so their IoU is 1.
func IoU(a, b []bool) float64 {
	checkSame("IoU", "a", "b", len(a), len(b))
	inter, union := 0, 0
	for i, x := range a {
		y := b[i]
		if x && y {
			inter++
		}
		if x || y {
			union++
		}
	}
	if union == 0 {
		return 1
	}
	return float64(inter) / float64(union)
}

// Coverage returns |a and g| / |g|, the share of the ground-truth region g
// that the attention mask a covers. It is NaN when g is empty. This is not
// IoU: a mask covering the whole image has coverage 1.
func Coverage(a, g []bool) float64 {
	checkSame("Coverage", "a", "g", len(a), len(g))
	inter, ng := 0, 0
	for i, y := range g {
		if y {
			ng++
			if a[i] {
				inter++
			}
		}
	}
	if ng == 0 {
		return math.NaN()
	}
	return float64(inter) / float64(ng)
}

// Argmax returns the row and column of the largest value of an h x w map;
// on ties the first in row-major order wins and NaN values are skipped. It
// returns (-1, -1) for an empty or all-NaN map.
func Argmax(m []float32, h, w int) (row, col int) {
	checkLen("Argmax", "m", len(m), h, w)
	best := -1
	for i, v := range m {
		if v == v && (best < 0 || v > m[best]) {
			best = i
		}
	}
	if best < 0 {
		return -1, -1
	}
	return best / w, best % w
}

// PointingGame reports a hit when the maximum of the h x w map m (see
// Argmax) lies inside the ground-truth mask g, or, for tol > 0, within a
// Euclidean distance of tol pixels of some pixel of g. An empty g or an
// all-NaN map is a miss.
func PointingGame(m []float32, h, w int, g []bool, tol float64) bool {
	checkLen("PointingGame", "m", len(m), h, w)
	checkLen("PointingGame", "g", len(g), h, w)
	r, c := Argmax(m, h, w)
	if r < 0 {
		return false
	}
	if g[r*w+c] {
		return true
	}
	if !(tol > 0) {
		return false
	}
	t := int(math.Floor(tol))
	t2 := tol * tol
	for i := max(0, r-t); i <= min(h-1, r+t); i++ {
		for j := max(0, c-t); j <= min(w-1, c+t); j++ {
			di, dj := float64(i-r), float64(j-c)
			if g[i*w+j] && di*di+dj*dj <= t2 {
				return true
			}
		}
	}
	return false
}
