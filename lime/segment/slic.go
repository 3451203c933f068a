package segment

import (
	"fmt"
	"math"
)

// SLICOptions configures [SLIC].
type SLICOptions struct {
	// NumSegments is the approximate number of superpixels (>= 1).
	NumSegments int
	// Compactness trades colour similarity for spatial proximity; higher
	// values give more square superpixels. Colour distances are in CIELAB
	// units (or 100*intensity for gray images). Must be > 0.
	Compactness float64
	// MaxIter is the number of k-means iterations (>= 1).
	MaxIter int
	// MinSizeFactor: connected pieces smaller than MinSizeFactor*H*W/NumSegments
	// pixels are merged into a neighbour. In [0, 1]; 0 only splits
	// disconnected pieces.
	MinSizeFactor float64
}

// DefaultSLICOptions returns the scikit-image defaults: 100 segments,
// compactness 10, 10 iterations, minimum size factor 0.5.
func DefaultSLICOptions() SLICOptions {
	return SLICOptions{NumSegments: 100, Compactness: 10, MaxIter: 10, MinSizeFactor: 0.5}
}

func (o SLICOptions) validate() error {
	switch {
	case o.NumSegments < 1:
		return fmt.Errorf("segment: SLIC NumSegments %d, want >= 1", o.NumSegments)
	case !(o.Compactness > 0) || math.IsInf(o.Compactness, 0):
		return fmt.Errorf("segment: SLIC Compactness %v, want a finite value > 0", o.Compactness)
	case o.MaxIter < 1:
		return fmt.Errorf("segment: SLIC MaxIter %d, want >= 1", o.MaxIter)
	case !(o.MinSizeFactor >= 0 && o.MinSizeFactor <= 1):
		return fmt.Errorf("segment: SLIC MinSizeFactor %v, want a value in [0,1]", o.MinSizeFactor)
	}
	return nil
}

// SLIC segments a CHW image (1 or 3 channels, values in [0,1]) into about
// opts.NumSegments connected superpixels with simple linear iterative
// clustering.
func SLIC(img []float32, c, h, w int, opts SLICOptions) (*Segmentation, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	feat, nf, err := checkImage(img, c, h, w)
	if err != nil {
		return nil, err
	}
	n := h * w
	k := min(opts.NumSegments, n)

	// Regular grid of ny x nx centres with ny*nx close to k.
	nx := int(math.Round(math.Sqrt(float64(k) * float64(w) / float64(h))))
	nx = max(1, min(nx, w))
	ny := max(1, min(int(math.Round(float64(k)/float64(nx))), h))
	sy, sx := float64(h)/float64(ny), float64(w)/float64(nx)
	step := math.Max(sy, sx)

	type centre struct {
		y, x float64
		f    [3]float64
	}
	at := func(y, x int) []float64 { p := y*w + x; return feat[p*nf : p*nf+nf] }
	grad := func(y, x int) float64 {
		if y <= 0 || x <= 0 || y >= h-1 || x >= w-1 {
			return math.Inf(1)
		}
		g := 0.0
		for j := 0; j < nf; j++ {
			dx := at(y, x+1)[j] - at(y, x-1)[j]
			dy := at(y+1, x)[j] - at(y-1, x)[j]
			g += dx*dx + dy*dy
		}
		return g
	}
	cs := make([]centre, 0, ny*nx)
	for i := 0; i < ny; i++ {
		for j := 0; j < nx; j++ {
			cy := int((float64(i) + 0.5) * sy)
			cx := int((float64(j) + 0.5) * sx)
			// Move the seed to the lowest gradient position of its 3x3
			// neighbourhood so that it does not start on an edge.
			by, bx, bg := cy, cx, grad(cy, cx)
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					if g := grad(cy+dy, cx+dx); g < bg {
						by, bx, bg = cy+dy, cx+dx, g
					}
				}
			}
			var ce centre
			ce.y, ce.x = float64(by), float64(bx)
			copy(ce.f[:], at(by, bx))
			cs = append(cs, ce)
		}
	}

	labels := make([]int32, n)
	dist := make([]float64, n)
	invM2 := 1 / (opts.Compactness * opts.Compactness)
	invS2 := 1 / (step * step)
	win := int(math.Ceil(step))
	sum := make([][5]float64, len(cs))
	cnt := make([]int, len(cs))
	for it := 0; it < opts.MaxIter; it++ {
		for i := range dist {
			dist[i] = math.Inf(1)
		}
		changed := false
		for ci, ce := range cs {
			y0, y1 := max(0, int(ce.y)-win), min(h-1, int(ce.y)+win)
			x0, x1 := max(0, int(ce.x)-win), min(w-1, int(ce.x)+win)
			for y := y0; y <= y1; y++ {
				for x := x0; x <= x1; x++ {
					f := at(y, x)
					dc := 0.0
					for j := 0; j < nf; j++ {
						d := f[j] - ce.f[j]
						dc += d * d
					}
					dy, dx := float64(y)-ce.y, float64(x)-ce.x
					d := dc*invM2 + (dy*dy+dx*dx)*invS2
					p := y*w + x
					if d < dist[p] {
						dist[p] = d
						if labels[p] != int32(ci) {
							labels[p] = int32(ci)
							changed = true
						}
					}
				}
			}
		}
		// Pixels outside every window (possible only in degenerate grids)
		// join the spatially nearest centre.
		for p, d := range dist {
			if !math.IsInf(d, 1) {
				continue
			}
			y, x := float64(p/w), float64(p%w)
			best, bd := 0, math.Inf(1)
			for ci, ce := range cs {
				if d := (y-ce.y)*(y-ce.y) + (x-ce.x)*(x-ce.x); d < bd {
					best, bd = ci, d
				}
			}
			if labels[p] != int32(best) {
				labels[p] = int32(best)
				changed = true
			}
		}
		if it > 0 && !changed {
			break
		}
		for i := range sum {
			sum[i] = [5]float64{}
			cnt[i] = 0
		}
		for p, l := range labels {
			s := &sum[l]
			s[0] += float64(p / w)
			s[1] += float64(p % w)
			f := feat[p*nf : p*nf+nf]
			for j := 0; j < nf; j++ {
				s[2+j] += f[j]
			}
			cnt[l]++
		}
		for ci := range cs {
			if cnt[ci] == 0 {
				continue
			}
			inv := 1 / float64(cnt[ci])
			cs[ci].y, cs[ci].x = sum[ci][0]*inv, sum[ci][1]*inv
			for j := 0; j < nf; j++ {
				cs[ci].f[j] = sum[ci][2+j] * inv
			}
		}
	}
	minSize := int(opts.MinSizeFactor * float64(n) / float64(k))
	return connect(labels, h, w, minSize, false), nil
}
