package attack

import (
	"context"
	"math"

	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// Square is the score-based black-box L-inf Square attack of Andriushchenko
// et al. (2020). It only queries the model's logits. It starts from vertical
// stripes (each column and channel moved by +-eps), then repeatedly proposes
// to set a random square window of each image, per channel, to x +- eps and
// keeps the proposal when it lowers the margin loss z_y - max_{j != y} z_j
// (targeted: max_{j != t} z_j - z_t). The window covers a fraction p of the
// image, halved on the paper's schedule (after 10, 50, 200, 500, 1000, 2000,
// 4000, 6000 and 8000 of 10,000 iterations, rescaled to the query budget).
// An image stops when it is misclassified (or reaches its target) or its
// Queries are used up; every query is one forward pass of that image.
//
// Defaults are those of AutoAttack's Square (Croce and Hein 2020): 5,000
// queries and p_init 0.8 (the paper uses 0.05 on ImageNet).
type Square struct {
	Base
	Queries int     // query budget per image; default 5000
	PInit   float64 // initial fraction of pixels in the window; default 0.8
}

// NewSquare returns the untargeted Square attack with budget eps on the
// [0,1] scale.
func NewSquare(eps float64, seed uint64) *Square { return &Square{Base: Base{Eps: eps, Seed: seed}} }

func (a *Square) Name() string { return "square" }

func (a *Square) queries() int   { return orDefault(a.Queries, 5000) }
func (a *Square) pInit() float64 { return orDefaultF(a.PInit, 0.8) }

func (a *Square) Settings() map[string]any {
	s := a.settings(a.Name())
	s["box"] = "black-box"
	s["kind"] = "score-based"
	s["queries"] = a.queries()
	s["steps"] = a.queries()
	s["p_init"] = a.pInit()
	s["step_size"] = 2 * a.Eps
	s["random_start"] = true
	s["loss"] = "margin"
	return s
}

// pSchedule is the paper's piecewise-constant schedule of the window's
// fraction of pixels at iteration it of n.
func pSchedule(p0 float64, it, n int) float64 {
	i := int(float64(it) / float64(n) * 10000)
	switch {
	case i <= 10:
		return p0
	case i <= 50:
		return p0 / 2
	case i <= 200:
		return p0 / 4
	case i <= 500:
		return p0 / 8
	case i <= 1000:
		return p0 / 16
	case i <= 2000:
		return p0 / 32
	case i <= 4000:
		return p0 / 64
	case i <= 6000:
		return p0 / 128
	case i <= 8000:
		return p0 / 256
	}
	return p0 / 512
}

func (a *Square) Perturb(ctx context.Context, m nn.Classifier, x *tensor.Tensor, y []int) (*tensor.Tensor, error) {
	if err := validate(a.Name(), m, x, y, a.Eps); err != nil {
		return nil, err
	}
	if a.PInit < 0 || a.PInit > 1 || math.IsNaN(a.PInit) {
		return nil, errorf(a.Name(), "p_init %g must be in (0,1]", a.PInit)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t, _, err := a.targetsFor(m, x, y)
	if err != nil {
		return nil, err
	}
	x32 := asF32(x)
	n, c, h, w := x.Shape()[0], x.Shape()[1], x.Shape()[2], x.Shape()[3]
	per := c * h * w
	xs := x32.F32()
	eps := float32(a.Eps)
	rs, err := a.rands(a.Name(), n, 29)
	if err != nil {
		return nil, err
	}
	// loss: margin of the class to leave (untargeted) or to reach
	loss := func(logits *tensor.Tensor, row, i int) float64 {
		mg := margin(logits, row, t[i])
		if a.targeted() {
			return -mg
		}
		return mg
	}
	// init: vertical stripes
	cur := x32.Clone()
	cf := cur.F32()
	for i := 0; i < n; i++ {
		r := rs[i]
		for ch := 0; ch < c; ch++ {
			for col := 0; col < w; col++ {
				s := eps
				if r.IntN(2) == 0 {
					s = -eps
				}
				for row := 0; row < h; row++ {
					k := i*per + (ch*h+row)*w + col
					cf[k] = min(max(xs[k]+s, 0), 1)
				}
			}
		}
	}
	logits, err := forward(m, cur)
	if err != nil {
		return nil, err
	}
	best := make([]float64, n)
	var active []int
	for i := 0; i < n; i++ {
		best[i] = loss(logits, i, i)
		if !a.success(argmaxRow(logits, i), y[i], t[i]) {
			active = append(active, i)
		}
	}
	nq := a.queries()
	cand := tensor.Zeros(tensor.Float32, append([]int{n}, x.Shape()[1:]...)...)
	for it := 1; it < nq && len(active) > 0; it++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p := pSchedule(a.pInit(), it, nq)
		s := int(math.Round(math.Sqrt(p * float64(h*w))))
		s = min(max(s, 1), min(h, w)-1)
		if min(h, w) == 1 {
			s = 1
		}
		// one proposal per active image, evaluated as one batch
		kf := cand.F32()[:len(active)*per]
		for j, i := range active {
			copy(kf[j*per:(j+1)*per], cf[i*per:(i+1)*per])
			r := rs[i]
			top, left := r.IntN(h-s+1), r.IntN(w-s+1)
			for try := 0; try < 10; try++ {
				changed := false
				for ch := 0; ch < c; ch++ {
					d := eps
					if r.IntN(2) == 0 {
						d = -eps
					}
					for row := top; row < top+s; row++ {
						for col := left; col < left+s; col++ {
							k := (ch*h+row)*w + col
							v := min(max(xs[i*per+k]+d, 0), 1)
							if v != cf[i*per+k] {
								changed = true
							}
							kf[j*per+k] = v
						}
					}
				}
				if changed {
					break
				}
			}
		}
		batch := tensor.FromFloat32(kf, append([]int{len(active)}, x.Shape()[1:]...)...)
		lg, err := forward(m, batch)
		if err != nil {
			return nil, err
		}
		next := active[:0]
		for j, i := range active {
			l := loss(lg, j, i)
			if l < best[i] {
				best[i] = l
				copy(cf[i*per:(i+1)*per], kf[j*per:(j+1)*per])
				if a.success(argmaxRow(lg, j), y[i], t[i]) {
					continue
				}
			}
			next = append(next, i)
		}
		active = next
	}
	return asDType(cur, x), nil
}
