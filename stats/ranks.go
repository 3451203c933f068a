package stats

import (
	"cmp"
	"slices"
)

// Ranks returns the ranks (1 to n) of x, giving tied values the average of the ranks they span,
// and the sum over groups of tied values of t^3 - t (t the group size), which the tie
// corrections of rank tests use. x must not contain NaN.
func Ranks(x []float64) (ranks []float64, tieTerm float64) {
	n := len(x)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(x[a], x[b]) })
	ranks = make([]float64, n)
	for i := 0; i < n; {
		j := i + 1
		for j < n && x[idx[j]] == x[idx[i]] {
			j++
		}
		r := float64(i+j+1) / 2 // average of ranks i+1 .. j
		for k := i; k < j; k++ {
			ranks[idx[k]] = r
		}
		t := float64(j - i)
		tieTerm += t*t*t - t
		i = j
	}
	return ranks, tieTerm
}
