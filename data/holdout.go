package data

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// DefaultHoldOutSeed is the seed that chooses held-out images when a spec
// or flag does not give one.
const DefaultHoldOutSeed = 1

// SeededSubset returns the positions of n of total images chosen by seed:
// the first n of a seeded permutation, sorted. The choice depends only on
// (total, n, seed), so every run that takes n images of the same data with
// the same seed takes the same ones, whatever else it does: the images
// arp train --holdout holds out, and the fixed evaluation subset of arp
// eval --subset. n must be in [0, total].
func SeededSubset(total, n int, seed uint64) []int {
	idx := append([]int(nil), Permutation(total, seed)[:n]...)
	slices.Sort(idx)
	return idx
}

// HoldOut splits d into the n images SeededSubset chooses with seed and
// the others, both in d's order. It returns an error unless 0 < n < Len().
func (d *Dataset) HoldOut(n int, seed uint64) (held, rest *Dataset, err error) {
	if n <= 0 || n >= d.Len() {
		return nil, nil, fmt.Errorf("cannot hold out %d of the %d images of %s (want 1 to %d)", n, d.Len(), d.Name, d.Len()-1)
	}
	idx := SeededSubset(d.Len(), n, seed)
	in := make([]bool, d.Len())
	for _, i := range idx {
		in[i] = true
	}
	others := make([]int, 0, d.Len()-n)
	for i, h := range in {
		if !h {
			others = append(others, i)
		}
	}
	return d.Subset(idx), d.Subset(others), nil
}

// HoldOutSpec returns the dataset spec of the n images held out of spec's
// images with seed: spec + ":heldout=N:seed=S".
func HoldOutSpec(spec string, n int, seed uint64) string {
	return fmt.Sprintf("%s:heldout=%d:seed=%d", spec, n, seed)
}

// selection is a ":heldout=N[:seed=S]" suffix of a dataset spec.
type selection struct {
	heldOut int
	seed    uint64
}

// parseSelection separates a ":heldout=N" option (and its ":seed=S") from
// the end of spec, unless spec is itself an existing path.
func parseSelection(spec string) (string, *selection, error) {
	if _, err := os.Stat(spec); err == nil {
		return spec, nil, nil
	}
	var sel *selection
	seedSet := false
	seed := uint64(DefaultHoldOutSeed)
	for {
		i := strings.LastIndexByte(spec, ':')
		if i < 0 {
			break
		}
		k, v, ok := strings.Cut(spec[i+1:], "=")
		if !ok {
			break
		}
		switch k {
		case "heldout":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return "", nil, fmt.Errorf("%s: heldout=%s must be a number of images >= 1", spec, v)
			}
			if sel != nil {
				return "", nil, fmt.Errorf("%s: heldout given twice", spec)
			}
			sel = &selection{heldOut: n}
		case "seed":
			s, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return "", nil, fmt.Errorf("%s: seed=%s must be a non-negative integer", spec, v)
			}
			if seedSet {
				return "", nil, fmt.Errorf("%s: seed given twice", spec)
			}
			seed, seedSet = s, true
		default:
			return "", nil, fmt.Errorf("%s: unknown dataset option %q (known: heldout=N, seed=S)", spec, k)
		}
		spec = spec[:i]
	}
	if sel == nil {
		if seedSet {
			return "", nil, fmt.Errorf("%s: seed=S only goes with heldout=N", spec)
		}
		return spec, nil, nil
	}
	sel.seed = seed
	return spec, sel, nil
}

// apply returns the held-out images of d (those Dataset.HoldOut holds
// out).
func (s *selection) apply(d *Source) (*Source, error) {
	if s.heldOut <= 0 || s.heldOut >= d.Len() {
		return nil, fmt.Errorf("cannot hold out %d of the %d images of %s (want 1 to %d)", s.heldOut, d.Len(), d.Name, d.Len()-1)
	}
	held := d.Subset(SeededSubset(d.Len(), s.heldOut, s.seed))
	held.Name = fmt.Sprintf("%s:heldout=%d:seed=%d", d.Name, s.heldOut, s.seed)
	return held, nil
}
