package mask

import (
	"cmp"
	"math"
	"slices"
)

// key maps a map value to a sortable float64: NaN ranks as -Inf.
func key(v float32) float64 {
	if v != v {
		return math.Inf(-1)
	}
	return float64(v)
}

// Ranks returns the ranks 1..n of the values of m, with tied values sharing
// the average of the ranks they span (as scipy.stats.rankdata does by
// default). NaN ranks below every number.
func Ranks(m []float32) []float64 {
	idx := make([]int, len(m))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(key(m[a]), key(m[b])) })
	r := make([]float64, len(m))
	for i := 0; i < len(idx); {
		j := i + 1
		for j < len(idx) && key(m[idx[j]]) == key(m[idx[i]]) {
			j++
		}
		avg := float64(i+j+1) / 2 // mean of the 1-based ranks i+1..j
		for _, k := range idx[i:j] {
			r[k] = avg
		}
		i = j
	}
	return r
}

// SpearmanRank returns Spearman's rank correlation between two maps of
// equal length: the Pearson correlation of their average ranks. It is NaN
// when either map is constant or has fewer than two values.
func SpearmanRank(m1, m2 []float32) float64 {
	checkSame("SpearmanRank", "m1", "m2", len(m1), len(m2))
	if len(m1) < 2 {
		return math.NaN()
	}
	r1, r2 := Ranks(m1), Ranks(m2)
	mean := float64(len(m1)+1) / 2 // ranks always average to (n+1)/2
	var sxy, sxx, syy float64
	for i := range r1 {
		dx, dy := r1[i]-mean, r2[i]-mean
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	return sxy / math.Sqrt(sxx*syy)
}

// KendallTau returns Kendall's tau-b between two maps of equal length,
// which accounts for ties in either map, computed in O(n log n) with
// Knight's algorithm. It is NaN when either map is constant or has fewer
// than two values.
func KendallTau(m1, m2 []float32) float64 {
	checkSame("KendallTau", "m1", "m2", len(m1), len(m2))
	n := len(m1)
	if n < 2 {
		return math.NaN()
	}
	type pair struct{ x, y float64 }
	p := make([]pair, n)
	for i := range p {
		p[i] = pair{key(m1[i]), key(m2[i])}
	}
	slices.SortFunc(p, func(a, b pair) int {
		if c := cmp.Compare(a.x, b.x); c != 0 {
			return c
		}
		return cmp.Compare(a.y, b.y)
	})
	// Pairs tied in x (n1) and tied in both x and y (n3).
	var n1, n3 int64
	for i := 0; i < n; {
		j := i + 1
		for j < n && p[j].x == p[i].x {
			j++
		}
		t := int64(j - i)
		n1 += t * (t - 1) / 2
		for k := i; k < j; {
			l := k + 1
			for l < j && p[l].y == p[k].y {
				l++
			}
			u := int64(l - k)
			n3 += u * (u - 1) / 2
			k = l
		}
		i = j
	}
	// Discordant pairs: inversions of y in x order, counted by merge sort.
	ys := make([]float64, n)
	for i := range p {
		ys[i] = p[i].y
	}
	swaps := mergeCount(ys, make([]float64, n))
	// ys is now sorted: pairs tied in y (n2).
	var n2 int64
	for i := 0; i < n; {
		j := i + 1
		for j < n && ys[j] == ys[i] {
			j++
		}
		t := int64(j - i)
		n2 += t * (t - 1) / 2
		i = j
	}
	n0 := int64(n) * int64(n-1) / 2
	if n0 == n1 || n0 == n2 {
		return math.NaN()
	}
	s := float64(n0-n1-n2+n3) - 2*float64(swaps)
	return s / math.Sqrt(float64(n0-n1)*float64(n0-n2))
}

// mergeCount sorts a ascending (using buf as scratch) and returns the
// number of pairs i < j with a[i] > a[j].
func mergeCount(a, buf []float64) int64 {
	n := len(a)
	if n < 2 {
		return 0
	}
	mid := n / 2
	c := mergeCount(a[:mid], buf[:mid]) + mergeCount(a[mid:], buf[mid:])
	i, j, k := 0, mid, 0
	for i < mid && j < n {
		if a[j] < a[i] {
			buf[k] = a[j]
			c += int64(mid - i)
			j++
		} else {
			buf[k] = a[i]
			i++
		}
		k++
	}
	k += copy(buf[k:], a[i:mid])
	copy(buf[k:], a[j:n])
	copy(a, buf[:n])
	return c
}
