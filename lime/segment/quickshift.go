package segment

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// QuickshiftOptions configures [Quickshift].
type QuickshiftOptions struct {
	// KernelSize is the standard deviation (in pixels) of the Gaussian Parzen
	// window used to estimate densities; the search window spans
	// ceil(3*KernelSize) pixels on each side. Must be > 0.
	KernelSize float64
	// MaxDist cuts links longer than this (in the joint colour/position
	// space); higher values give fewer segments. Must be > 0.
	MaxDist float64
	// Ratio in [0,1] weighs colour against position: colour features are
	// multiplied by Ratio.
	Ratio float64
	// Seed drives the tiny random jitter that breaks density ties.
	Seed uint64
	// MinSize: connected pieces smaller than this are merged into a
	// neighbour (0 or 1 disables). Disconnected pieces of one quickshift
	// tree other than its largest piece are always merged.
	MinSize int
}

// DefaultQuickshiftOptions returns the settings the Python LIME image
// explainer uses: kernel size 4, maximum distance 200, ratio 0.2.
func DefaultQuickshiftOptions() QuickshiftOptions {
	return QuickshiftOptions{KernelSize: 4, MaxDist: 200, Ratio: 0.2}
}

func (o QuickshiftOptions) validate() error {
	switch {
	case !(o.KernelSize > 0) || o.KernelSize > 1000:
		return fmt.Errorf("segment: quickshift KernelSize %v, want a value in (0, 1000]", o.KernelSize)
	case !(o.MaxDist > 0):
		return fmt.Errorf("segment: quickshift MaxDist %v, want > 0", o.MaxDist)
	case !(o.Ratio >= 0 && o.Ratio <= 1):
		return fmt.Errorf("segment: quickshift Ratio %v, want a value in [0,1]", o.Ratio)
	case o.MinSize < 0:
		return fmt.Errorf("segment: quickshift MinSize %d, want >= 0", o.MinSize)
	}
	return nil
}

// Quickshift segments a CHW image (1 or 3 channels, values in [0,1]) with
// quickshift mode seeking, then makes every segment 4-connected.
func Quickshift(img []float32, c, h, w int, opts QuickshiftOptions) (*Segmentation, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	feat, nf, err := checkImage(img, c, h, w)
	if err != nil {
		return nil, err
	}
	for i := range feat {
		feat[i] *= opts.Ratio
	}
	n := h * w
	win := int(math.Ceil(3 * opts.KernelSize))
	invK := -0.5 / (opts.KernelSize * opts.KernelSize)
	sqdist := func(p, q int) float64 {
		d := 0.0
		fp, fq := feat[p*nf:p*nf+nf], feat[q*nf:q*nf+nf]
		for j := range fp {
			t := fp[j] - fq[j]
			d += t * t
		}
		dy, dx := float64(p/w-q/w), float64(p%w-q%w)
		return d + dy*dy + dx*dx
	}

	// Parzen densities. The kernel is symmetric, so every pair is visited
	// once (q after p in raster order) and credited to both pixels.
	dens := make([]float64, n)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			p := y*w + x
			dens[p]++ // the pixel itself
			fp := feat[p*nf : p*nf+nf]
			for yy := y; yy < min(h, y+win+1); yy++ {
				x0 := max(0, x-win)
				if yy == y {
					x0 = x + 1
				}
				dy := float64(yy - y)
				for xx := x0; xx < min(w, x+win+1); xx++ {
					q := yy*w + xx
					fq := feat[q*nf : q*nf+nf]
					d := 0.0
					for j := range fp {
						t := fp[j] - fq[j]
						d += t * t
					}
					dx := float64(xx - x)
					e := math.Exp((d + dy*dy + dx*dx) * invK)
					dens[p] += e
					dens[q] += e
				}
			}
		}
	}
	rng := rand.New(rand.NewPCG(opts.Seed, 0x9e3779b97f4a7c15))
	for i := range dens {
		dens[i] += rng.Float64() * 1e-5
	}

	parent := make([]int32, n)
	maxD2 := opts.MaxDist * opts.MaxDist
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			p := y*w + x
			parent[p] = int32(p)
			closest := math.Inf(1)
			for yy := max(0, y-win); yy < min(h, y+win+1); yy++ {
				for xx := max(0, x-win); xx < min(w, x+win+1); xx++ {
					q := yy*w + xx
					if dens[q] <= dens[p] {
						continue
					}
					if d := sqdist(p, q); d < closest {
						closest = d
						parent[p] = int32(q)
					}
				}
			}
			if closest > maxD2 {
				parent[p] = int32(p)
			}
		}
	}
	// Follow links to the roots. Densities strictly increase along links,
	// so there are no cycles.
	root := make([]int32, n)
	for p := range root {
		r := int32(p)
		for parent[r] != r {
			r = parent[r]
		}
		root[p] = r
		// Path compression keeps this linear in practice.
		for q := int32(p); parent[q] != r && parent[q] != q; {
			next := parent[q]
			parent[q] = r
			q = next
		}
	}
	return connect(root, h, w, opts.MinSize, true), nil
}
