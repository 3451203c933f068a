// Package shard splits a run over a dataset (an evaluation, an analysis)
// into shards of whole batches, for job arrays on Slurm or Kubernetes
// Indexed Jobs and for distributed engines.
//
// Batches are aligned to image indices: batch b holds images [b*size,
// (b+1)*size) of the run. A shard is a contiguous range of whole batches,
// so every image is computed in the same batch whether the run is sharded
// or not. That matters because arp's kernels may round differently for
// other batch sizes: bit-identical per-image results need identical
// batches, not only per-image seeds.
package shard

import (
	"fmt"
	"strconv"
	"strings"
)

// Spec is shard Index of Count (0 <= Index < Count). The zero value is
// the whole run.
type Spec struct {
	Index, Count int
}

// Parse reads "i/N": shard i (counted from 0, as SLURM_ARRAY_TASK_ID and
// JOB_COMPLETION_INDEX are) of N. An empty string is the whole run.
func Parse(s string) (Spec, error) {
	if strings.TrimSpace(s) == "" {
		return Spec{}, nil
	}
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(strings.TrimSpace(a))
	n, err2 := strconv.Atoi(strings.TrimSpace(b))
	switch {
	case !ok || err1 != nil || err2 != nil:
		return Spec{}, fmt.Errorf("shard %q: want i/N, e.g. 0/8 for the first of 8 shards", s)
	case n < 1:
		return Spec{}, fmt.Errorf("shard %q: the number of shards must be >= 1", s)
	case i < 0 || i >= n:
		return Spec{}, fmt.Errorf("shard %q: the index must be in 0..%d (shards are counted from 0)", s, n-1)
	}
	return Spec{Index: i, Count: n}, nil
}

// Whole reports whether s is the whole run.
func (s Spec) Whole() bool { return s.Count <= 1 }

// String returns "i/N", or "" for the whole run.
func (s Spec) String() string {
	if s.Whole() {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// Batches returns the batches [lo, hi) of shard s among nb batches: nb
// split into Count contiguous ranges whose sizes differ by at most one. A
// shard that would be empty (more shards than batches) is an error.
func (s Spec) Batches(nb int) (lo, hi int, err error) {
	if s.Whole() {
		return 0, nb, nil
	}
	if s.Index < 0 || s.Index >= s.Count {
		return 0, 0, fmt.Errorf("shard %d/%d: the index must be in 0..%d", s.Index, s.Count, s.Count-1)
	}
	if s.Count > nb {
		return 0, 0, fmt.Errorf("--shard %s: %d shards for %d batches would leave some empty; use at most %d shards (or a smaller --batch)", s, s.Count, nb, nb)
	}
	return s.Index * nb / s.Count, (s.Index + 1) * nb / s.Count, nil
}

// Images returns the images [lo, hi) of batches [blo, bhi) of a run of n
// images in batches of size.
func Images(blo, bhi, size, n int) (lo, hi int) {
	return min(blo*size, n), min(bhi*size, n)
}

// Count returns the number of batches of size in n images.
func Count(n, size int) int { return (n + size - 1) / size }
