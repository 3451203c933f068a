package attack

import (
	"context"
	"math"
	"math/rand/v2"

	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// The iterative gradient attacks are one loop (loop.run) with different
// parts. Each supplies an objective and a step rule:
//
//	objective  the gradient of what the attack increases at an iterate, and
//	           how an image is judged: success, and a score that chooses
//	           among failed restarts
//	step rule  where a restart starts, how a step moves the iterate along
//	           the gradient, and how it is projected back into the budget
//
//	attack          objective                  start              step                       projection
//	bim, iter-ll    cross-entropy              the clean image    alpha*sign(g)              L-inf ball (unprojected: none)
//	pgd             cross-entropy              uniform in ball    alpha*sign(g)              L-inf ball
//	pgd-l2          cross-entropy              uniform in ball    alpha*g/||g||_2            L2 ball
//	mifgsm          cross-entropy              the clean image    alpha*sign(momentum of g)  L-inf ball
//	attention-loss  CE + lambda*map distance   uniform in ball    alpha*sign(g)              L-inf ball
//	pgd-kl          KL(p(x) || p(x'))          x + 0.001*N(0,1)   alpha*sign(g)              L-inf ball
//
// Every projection also clips to [0,1]. The loop does the rest, alike for
// all: restarts, steps, judging every iterate, stopping an image at its
// first success and keeping each image's best.

// objective is what an iterative attack increases and how it judges an
// image.
type objective struct {
	// grad returns the logits at xt and the gradient of the objective at
	// xt; idx are the original positions of xt's images in the batch.
	grad func(xt *tensor.Tensor, idx []int) (logits, grad *tensor.Tensor, err error)
	// success and score judge an image (original position i) from its row
	// of logits: a successful attack, and the objective used to choose
	// among failed restarts.
	success func(logits *tensor.Tensor, row, i int) bool
	score   func(logits *tensor.Tensor, row, i int) float64
}

// stepRule is how an iterative attack moves. Slices are float32 NCHW
// batches of per values an image.
type stepRule struct {
	// start sets the first iterate xt from the clean images x0 (nil: the
	// clean images themselves, and restarts are pointless); image j draws
	// from its own generator r[j].
	start func(r []*rand.Rand, x0, xt []float32, per int)
	// step moves xt along the gradient g in place; idx are the images'
	// original positions (for per-image state such as momentum).
	step func(xt, g []float32, idx []int, per int)
	// project moves xt back into the budget around x0 and into [0,1].
	project func(xt, x0 []float32, per int)
}

// loop is the engine of the iterative attacks: restarts, steps, per-image
// early stopping and keeping each image's best result. An image that is
// broken at some iterate keeps its first successful iterate and is not
// attacked further; an image that no restart breaks keeps the final
// iterate of the restart with the highest score.
type loop struct {
	objective
	stepRule
	steps, restarts int
	// finalIterate runs every image through every step of a single run
	// and returns the final iterates unjudged: the plain loop of
	// adversarial training (and of timings), without early stopping, the
	// choice among restarts or the zero-gradient check.
	finalIterate bool
}

// run attacks the images x; image i draws its random starts from r[i].
func (l *loop) run(ctx context.Context, name string, m nn.Classifier, x *tensor.Tensor, r []*rand.Rand) (*tensor.Tensor, error) {
	n := x.Shape()[0]
	per := perImage(x)
	k := newKeeper(x)
	restarts := max(l.restarts, 1)
	if l.start == nil || l.finalIterate {
		restarts = 1
	}
	checked := l.finalIterate
	active := make([]int, n)
	for i := range active {
		active[i] = i
	}
	for rs := 0; rs < restarts && len(active) > 0; rs++ {
		cur := append([]int(nil), active...)
		x0 := rowsOf(x, cur)
		xt := x0.Clone()
		if l.start != nil {
			l.start(pick(r, cur), x0.F32(), xt.F32(), per)
		}
		for s := 0; ; s++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if s == l.steps {
				if l.finalIterate {
					k.keepAll(xt, cur)
					break
				}
				logits, err := forward(m, xt)
				if err != nil {
					return nil, err
				}
				k.judgeLast(l.objective, logits, xt, cur)
				break
			}
			logits, g, err := l.grad(xt, cur)
			if err == nil && !checked {
				err = checkGrad(name, g, logits)
				checked = true
			}
			if err != nil {
				return nil, err
			}
			if !l.finalIterate {
				keep := k.judge(l.objective, logits, xt, cur)
				if len(keep) == 0 {
					break
				}
				if len(keep) < len(cur) {
					xt, x0, g = keepRows(xt, keep), keepRows(x0, keep), keepRows(g, keep)
					cur = pick(cur, keep)
				}
			}
			l.step(xt.F32(), g.F32(), cur, per)
			l.project(xt.F32(), x0.F32(), per)
		}
		active = k.unbroken(active[:0])
	}
	return k.best, nil
}

// keeper holds each image's best iterate so far.
type keeper struct {
	best  *tensor.Tensor
	done  []bool    // broken: best is its first successful iterate
	score []float64 // best score of a failed restart (-Inf: none yet)
}

func newKeeper(x *tensor.Tensor) *keeper {
	n := x.Shape()[0]
	k := &keeper{best: x.Clone(), done: make([]bool, n), score: make([]float64, n)}
	for i := range k.score {
		k.score[i] = math.Inf(-1)
	}
	return k
}

// judge keeps the iterates xt (images cur) that succeed and returns the
// positions within xt of the others, which go on.
func (k *keeper) judge(o objective, logits, xt *tensor.Tensor, cur []int) (keep []int) {
	for j, i := range cur {
		if o.success(logits, j, i) {
			putRow(k.best, i, xt, j)
			k.done[i] = true
		} else {
			keep = append(keep, j)
		}
	}
	return keep
}

// judgeLast keeps the final iterates: the successful ones, and the failed
// ones that score higher than the image's earlier restarts.
func (k *keeper) judgeLast(o objective, logits, xt *tensor.Tensor, cur []int) {
	for _, j := range k.judge(o, logits, xt, cur) {
		i := cur[j]
		if sc := o.score(logits, j, i); sc > k.score[i] || math.IsInf(k.score[i], -1) {
			putRow(k.best, i, xt, j)
			k.score[i] = sc
		}
	}
}

// keepAll keeps the iterates xt of images cur unjudged.
func (k *keeper) keepAll(xt *tensor.Tensor, cur []int) {
	for j, i := range cur {
		putRow(k.best, i, xt, j)
	}
}

// unbroken appends the images not yet broken to dst.
func (k *keeper) unbroken(dst []int) []int {
	for i, d := range k.done {
		if !d {
			dst = append(dst, i)
		}
	}
	return dst
}

// iterate is the Perturb of an iterative attack once its own settings are
// checked: it picks the targets, builds the objective (cross-entropy
// unless obj is given), runs l and returns images of x's dtype.
func (b Base) iterate(ctx context.Context, name string, m nn.Classifier, x *tensor.Tensor, y []int, l loop,
	obj func(x32 *tensor.Tensor, t []int, sign float64) (objective, error)) (*tensor.Tensor, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t, sign, err := b.targetsFor(m, x, y)
	if err != nil {
		return nil, err
	}
	x32 := asF32(x)
	if obj == nil {
		l.objective = b.crossEntropy(m, y, t, sign)
	} else if l.objective, err = obj(x32, t, sign); err != nil {
		return nil, err
	}
	r, err := b.rands(name, x.Shape()[0], 13)
	if err != nil {
		return nil, err
	}
	adv, err := l.run(ctx, name, m, x32, r)
	if err != nil {
		return nil, err
	}
	return asDType(adv, x), nil
}

// crossEntropy is the objective sign*CE(f(x), t) (sign +1: move away from
// the true class; -1: towards the targets t), with success and scores
// judged by b.
func (b Base) crossEntropy(m nn.Classifier, y, t []int, sign float64) objective {
	return objective{
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

// Step rules.

// startUniformLinf starts at a uniform random point of the L-inf ball of
// radius eps, clipped to [0,1].
func startUniformLinf(eps float64) func(r []*rand.Rand, x0, xt []float32, per int) {
	return func(r []*rand.Rand, x0, xt []float32, per int) {
		for i := range xt {
			xt[i] = x0[i] + float32((2*r[i/per].Float64()-1)*eps)
		}
		projectLinf(xt, x0, eps)
	}
}

// startUniformL2 starts at a uniform random point of the L2 ball of radius
// eps around each image, clipped to [0,1].
func startUniformL2(eps float64) func(r []*rand.Rand, x0, xt []float32, per int) {
	return func(rs []*rand.Rand, x0, xt []float32, per int) {
		for lo := 0; lo < len(xt); lo += per {
			r := rs[lo/per]
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
}

// startGaussian starts at x0 + sd*N(0,1), clipped to the L-inf ball of
// radius eps and to [0,1].
func startGaussian(sd, eps float64) func(r []*rand.Rand, x0, xt []float32, per int) {
	return func(r []*rand.Rand, x0, xt []float32, per int) {
		for i := range xt {
			xt[i] = x0[i] + float32(sd*r[i/per].NormFloat64())
		}
		projectLinf(xt, x0, eps)
	}
}

// stepSign moves by alpha*sign(g).
func stepSign(alpha float64) func(xt, g []float32, idx []int, per int) {
	ab := math.Float32bits(float32(alpha))
	return func(xt, g []float32, _ []int, _ int) {
		// branch-free (the signs are unpredictable): xt+-alpha where g is
		// non-zero, xt itself (its bits, -0 included) where g is zero or NaN
		g = g[:len(xt)]
		for i, v := range xt {
			d, nz := signOf(g[i], ab)
			moved := math.Float32bits(v + math.Float32frombits(d))
			xt[i] = math.Float32frombits(moved&nz | math.Float32bits(v)&^nz)
		}
	}
}

// stepL2 moves each image by alpha along its L2-normalised gradient.
func stepL2(alpha float64) func(xt, g []float32, idx []int, per int) {
	return func(xt, g []float32, _ []int, per int) {
		for lo := 0; lo < len(xt); lo += per {
			s := 0.0
			for _, v := range g[lo : lo+per] {
				s += float64(v) * float64(v)
			}
			f := alpha / math.Max(math.Sqrt(s), 1e-12)
			for i := lo; i < lo+per; i++ {
				xt[i] += float32(f * float64(g[i]))
			}
		}
	}
}

// withinLinf projects to the L-inf ball of radius eps (eps < 0: no ball,
// only [0,1]).
func withinLinf(eps float64) func(xt, x0 []float32, per int) {
	return func(xt, x0 []float32, _ int) { projectLinf(xt, x0, eps) }
}

// withinL2 projects to the L2 ball of radius eps and [0,1].
func withinL2(eps float64) func(xt, x0 []float32, per int) {
	return func(xt, x0 []float32, per int) { projectL2(xt, x0, per, eps) }
}

// projectLinf clips xt to the L-inf ball of radius eps around x0 (unless
// eps < 0) and to [0,1], in place. The clips are min and max, without
// branches (after a few steps about half the pixels sit on the ball's
// surface, unpredictably); x0 holds no NaN (attacks' images are checked
// to lie in [0,1]).
func projectLinf(xt, x0 []float32, eps float64) {
	e := float32(eps)
	if eps < 0 {
		for i, v := range xt {
			xt[i] = min(max(v, 0), 1)
		}
		return
	}
	x0 = x0[:len(xt)]
	for i, v := range xt {
		xt[i] = min(max(min(max(v, x0[i]-e), x0[i]+e), 0), 1)
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
