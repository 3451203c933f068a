package attack

import (
	"context"
	"math"
	"math/rand/v2"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// The helpers below work on float32 NCHW tensors; attacks convert their
// input once (asF32) and hand back the caller's dtype (asDType).

// asF32 returns x as a float32 tensor the caller may modify.
func asF32(x *tensor.Tensor) *tensor.Tensor {
	if x.DType() == tensor.Float32 {
		return x.Clone()
	}
	return x.AsType(tensor.Float32)
}

// asDType converts an attack's float32 result back to the input's dtype.
func asDType(adv, like *tensor.Tensor) *tensor.Tensor { return adv.AsType(like.DType()) }

// perImage returns the number of values per image of a batch.
func perImage(x *tensor.Tensor) int { return x.Size() / x.Shape()[0] }

// rowsOf copies the images idx of x into a new batch.
func rowsOf(x *tensor.Tensor, idx []int) *tensor.Tensor {
	per := perImage(x)
	sh := append([]int{len(idx)}, x.Shape()[1:]...)
	out := tensor.Zeros(tensor.Float32, sh...)
	src, dst := x.F32(), out.F32()
	for j, i := range idx {
		copy(dst[j*per:(j+1)*per], src[i*per:(i+1)*per])
	}
	return out
}

// putRow copies image j of src into image i of dst.
func putRow(dst *tensor.Tensor, i int, src *tensor.Tensor, j int) {
	per := perImage(dst)
	copy(dst.F32()[i*per:(i+1)*per], src.F32()[j*per:(j+1)*per])
}

// keepRows returns the images keep of x (positions within x).
func keepRows(x *tensor.Tensor, keep []int) *tensor.Tensor {
	if len(keep) == x.Shape()[0] {
		return x
	}
	return rowsOf(x, keep)
}

// pick returns v[idx[j]] for every j.
func pick(v []int, idx []int) []int {
	out := make([]int, len(idx))
	for j, i := range idx {
		out[j] = v[i]
	}
	return out
}

// forward returns the logits of m on x in evaluation mode, without
// recording a graph.
func forward(m nn.Classifier, x *tensor.Tensor) (*tensor.Tensor, error) {
	var out *tensor.Tensor
	err := autograd.Try(func() {
		autograd.NoGrad(func() {
			l, _ := m.Forward(autograd.Const(x), nn.Eval)
			out = l.Value()
		})
	})
	return out, err
}

// argmaxRows returns the predicted class of every row of logits [N,K].
func argmaxRows(logits *tensor.Tensor) []int { return tensor.ArgMax(logits, 1) }

// crossEntropyRow returns -log softmax(z)[t] of one row of logits.
func crossEntropyRow(logits *tensor.Tensor, row, t int) float64 {
	k := logits.Shape()[1]
	mx := math.Inf(-1)
	for j := 0; j < k; j++ {
		mx = math.Max(mx, logits.AtFlat(row*k+j))
	}
	s := 0.0
	for j := 0; j < k; j++ {
		s += math.Exp(logits.AtFlat(row*k+j) - mx)
	}
	return mx + math.Log(s) - logits.AtFlat(row*k+t)
}

// margin returns z_t - max_{j != t} z_j for one row of logits.
func margin(logits *tensor.Tensor, row, t int) float64 {
	k := logits.Shape()[1]
	other := math.Inf(-1)
	for j := 0; j < k; j++ {
		if j != t {
			other = math.Max(other, logits.AtFlat(row*k+j))
		}
	}
	return logits.AtFlat(row*k+t) - other
}

// projectLinf clips xt to the L-inf ball of radius eps around x0 (unless
// eps < 0) and to [0,1], in place.
func projectLinf(xt, x0 []float32, eps float64) {
	e := float32(eps)
	for i, v := range xt {
		if eps >= 0 {
			if lo := x0[i] - e; v < lo {
				v = lo
			}
			if hi := x0[i] + e; v > hi {
				v = hi
			}
		}
		xt[i] = min(max(v, 0), 1)
	}
}

// projectL2 scales each image's perturbation xt-x0 back onto the L2 ball of
// radius eps, then clips to [0,1] (which only shrinks it), in place.
func projectL2(xt, x0 []float32, per int, eps float64) {
	for lo := 0; lo < len(xt); lo += per {
		s := 0.0
		for i := lo; i < lo+per; i++ {
			d := float64(xt[i] - x0[i])
			s += d * d
		}
		if nrm := math.Sqrt(s); nrm > eps {
			f := eps / nrm
			for i := lo; i < lo+per; i++ {
				xt[i] = x0[i] + float32(f*float64(xt[i]-x0[i]))
			}
		}
		for i := lo; i < lo+per; i++ {
			xt[i] = min(max(xt[i], 0), 1)
		}
	}
}

// uniformLinf sets xt = clip(x0 + U(-eps, eps), 0, 1).
func uniformLinf(r *rand.Rand, x0, xt []float32, eps float64) {
	for i := range xt {
		xt[i] = x0[i] + float32((2*r.Float64()-1)*eps)
	}
	projectLinf(xt, x0, eps)
}

// uniformL2 draws a point uniformly from the L2 ball of radius eps around
// each image and clips it to [0,1].
func uniformL2(r *rand.Rand, x0, xt []float32, per int, eps float64) {
	for lo := 0; lo < len(xt); lo += per {
		s := 0.0
		for i := lo; i < lo+per; i++ {
			z := r.NormFloat64()
			xt[i] = float32(z)
			s += z * z
		}
		rad := eps * math.Pow(r.Float64(), 1/float64(per)) / math.Max(math.Sqrt(s), 1e-12)
		for i := lo; i < lo+per; i++ {
			xt[i] = x0[i] + float32(rad*float64(xt[i]))
		}
	}
	projectL2(xt, x0, per, eps)
}

// gradFunc returns the logits at xt and the gradient of the attack's
// objective (to be increased) at xt; idx are the original positions of
// xt's images in the batch.
type gradFunc func(xt *tensor.Tensor, idx []int) (logits, grad *tensor.Tensor, err error)

// loop is the engine of the iterative gradient attacks: restarts, steps,
// per-image early stopping and keeping each image's best result. An image
// that is broken at some iterate keeps its first successful iterate and is
// not attacked further; an image that no restart breaks keeps the final
// iterate of the restart with the highest objective.
type loop struct {
	steps, restarts int
	// start sets the first iterate xt from the clean images x0 (nil: the
	// clean images themselves, and restarts are pointless).
	start func(r *rand.Rand, x0, xt []float32, per int)
	// reset clears per-image state (momentum) at each restart.
	reset func()
	// update moves xt along g in place (step, projection, clipping); idx
	// are the images' original positions.
	update func(xt, g, x0 []float32, idx []int, per int)
	grad   gradFunc
	// success and score judge an image (original position i) from its row
	// of logits: a successful attack, and the objective used to choose
	// among failed restarts.
	success func(logits *tensor.Tensor, row, i int) bool
	score   func(logits *tensor.Tensor, row, i int) float64
	// fullSteps disables early stopping (every image takes every step),
	// for benchmarks that must do a fixed amount of work.
	fullSteps bool
}

func (l *loop) run(ctx context.Context, name string, m nn.Classifier, x *tensor.Tensor, seed uint64) (*tensor.Tensor, error) {
	n := x.Shape()[0]
	per := perImage(x)
	best := x.Clone()
	done := make([]bool, n)
	bestScore := make([]float64, n)
	for i := range bestScore {
		bestScore[i] = math.Inf(-1)
	}
	r := newRand(seed, 13)
	restarts := max(l.restarts, 1)
	if l.start == nil {
		restarts = 1
	}
	checked := false
	active := make([]int, n)
	for i := range active {
		active[i] = i
	}
	for rs := 0; rs < restarts && len(active) > 0; rs++ {
		cur := append([]int(nil), active...)
		x0 := rowsOf(x, cur)
		xt := x0.Clone()
		if l.start != nil {
			l.start(r, x0.F32(), xt.F32(), per)
		}
		if l.reset != nil {
			l.reset()
		}
		for s := 0; s <= l.steps; s++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			var logits, g *tensor.Tensor
			var err error
			if s < l.steps {
				logits, g, err = l.grad(xt, cur)
				if err == nil && !checked {
					err = checkGrad(name, g)
					checked = true
				}
			} else {
				logits, err = forward(m, xt)
			}
			if err != nil {
				return nil, err
			}
			var keep []int
			for j, i := range cur {
				switch {
				case (s == l.steps || !l.fullSteps) && l.success(logits, j, i):
					putRow(best, i, xt, j)
					done[i] = true
				case s == l.steps:
					if sc := l.score(logits, j, i); sc > bestScore[i] || math.IsInf(bestScore[i], -1) {
						putRow(best, i, xt, j)
						bestScore[i] = sc
					}
				default:
					keep = append(keep, j)
				}
			}
			if s == l.steps || len(keep) == 0 {
				break
			}
			if len(keep) < len(cur) {
				xt, x0, g = keepRows(xt, keep), keepRows(x0, keep), keepRows(g, keep)
				cur = pick(cur, keep)
			}
			l.update(xt.F32(), g.F32(), x0.F32(), cur, per)
		}
		active = active[:0]
		for i := 0; i < n; i++ {
			if !done[i] {
				active = append(active, i)
			}
		}
	}
	return best, nil
}

// ceLoop returns a loop whose objective is sign*CE(f(x), t) (sign +1:
// move away from the true class; -1: towards the targets t), with success
// and scores judged by b.
func (b Base) ceLoop(m nn.Classifier, y, t []int, sign float64) *loop {
	return &loop{
		grad: func(xt *tensor.Tensor, idx []int) (*tensor.Tensor, *tensor.Tensor, error) {
			logits, g, _, err := lossGrad(m, xt, pick(t, idx), b.Smoothing)
			if err != nil {
				return nil, nil, err
			}
			if sign < 0 {
				g = tensor.Scale(g, -1)
			}
			return logits, g, nil
		},
		success: func(logits *tensor.Tensor, row, i int) bool {
			return b.success(argmaxRow(logits, row), y[i], t[i])
		},
		score: func(logits *tensor.Tensor, row, i int) float64 {
			return sign * crossEntropyRow(logits, row, t[i])
		},
	}
}

// argmaxRow returns the predicted class of one row of logits.
func argmaxRow(logits *tensor.Tensor, row int) int {
	k := logits.Shape()[1]
	best := 0
	for j := 1; j < k; j++ {
		if logits.AtFlat(row*k+j) > logits.AtFlat(row*k+best) {
			best = j
		}
	}
	return best
}

// signUpdate returns an update that steps by alpha*sign(g) and projects to
// the L-inf ball of radius eps (eps < 0: no projection, only [0,1]).
func signUpdate(alpha, eps float64) func(xt, g, x0 []float32, idx []int, per int) {
	a := float32(alpha)
	return func(xt, g, x0 []float32, idx []int, per int) {
		for i, v := range g {
			switch {
			case v > 0:
				xt[i] += a
			case v < 0:
				xt[i] -= a
			}
		}
		projectLinf(xt, x0, eps)
	}
}
