package attack

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// mlp is a one-hidden-layer tanh network on 1x4x4 images whose gradient
// the tests can compute by hand in float64. probs appends a softmax, as a
// model exported with its final Softmax does.
type mlp struct {
	w1, b1, w2, b2 []float64 // [H,16], [H], [K,H], [K]
	h, k           int
	probs          bool
}

func newMLP(seed uint64, h, k int, scale float64) *mlp {
	r := rand.New(rand.NewPCG(seed, 9))
	m := &mlp{h: h, k: k}
	fill := func(n int, s float64) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = s * r.NormFloat64()
		}
		return v
	}
	m.w1, m.b1, m.w2, m.b2 = fill(h*16, 0.5), fill(h, 0.1), fill(k*h, scale), fill(k, 0.1)
	return m
}

func (m *mlp) Forward(x *autograd.Var, _ nn.Mode, _ ...string) (*autograd.Var, map[string]*autograd.Var) {
	dt := x.DType()
	c := func(v []float64, shape ...int) *autograd.Var {
		return autograd.Const(tensor.FromFloat64(v, shape...).AsType(dt))
	}
	n := x.Shape()[0]
	hid := autograd.Tanh(autograd.Linear(autograd.Reshape(x, n, 16), c(m.w1, m.h, 16), c(m.b1, m.h)))
	z := autograd.Linear(hid, c(m.w2, m.k, m.h), c(m.b2, m.k))
	if m.probs {
		z = autograd.Softmax(z, 1)
	}
	return z, nil
}

func (m *mlp) LayerNames() []string { return nil }
func (m *mlp) InputShape() []int    { return []int{1, 4, 4} }
func (m *mlp) NumClasses() int      { return m.k }

// grad64 is the gradient of the cross-entropy of image x for label y,
// by hand in float64.
func (m *mlp) grad64(x []float64, y int) (g []float64, oneMinusP float64) {
	a := make([]float64, m.h)
	for j := range a {
		s := m.b1[j]
		for i, v := range x {
			s += m.w1[j*16+i] * v
		}
		a[j] = math.Tanh(s)
	}
	z := make([]float64, m.k)
	top := math.Inf(-1)
	for c := range z {
		s := m.b2[c]
		for j, v := range a {
			s += m.w2[c*m.h+j] * v
		}
		z[c] = s
		top = math.Max(top, s)
	}
	sum := 0.0
	for _, v := range z {
		sum += math.Exp(v - top)
	}
	dz := make([]float64, m.k)
	for c, v := range z {
		dz[c] = math.Exp(v-top) / sum
		if c != y {
			oneMinusP += dz[c]
		}
	}
	dz[y] = -oneMinusP
	g = make([]float64, 16)
	for j := range a {
		s := 0.0
		for c := range dz {
			s += dz[c] * m.w2[c*m.h+j]
		}
		s *= 1 - a[j]*a[j]
		for i := range g {
			g[i] += s * m.w1[j*16+i]
		}
	}
	return g, oneMinusP
}

// TestFGSMSignsOnConfidentImages: where 1 - p(label) is below 1e-6 the
// float32 cross-entropy gradient used to lose the label's term, and FGSM
// then stepped the wrong way; its signs must agree with float64's.
func TestFGSMSignsOnConfidentImages(t *testing.T) {
	m := newMLP(4, 8, 3, 12)
	r := rand.New(rand.NewPCG(5, 5))
	n := 40
	x := tensor.Zeros(tensor.Float32, n, 1, 4, 4)
	for i := 0; i < x.Size(); i++ {
		x.SetFlat(i, r.Float64())
	}
	// the label is each image's prediction, so every image is confident
	var pred []int
	autograd.NoGrad(func() {
		l, _ := m.Forward(autograd.Const(x), nn.Eval)
		pred = autograd.ArgMax(l, 1)
	})
	eps := 0.01
	adv, err := NewFGSM(eps).Perturb(context.Background(), m, x, pred)
	if err != nil {
		t.Fatal(err)
	}
	xs, as := x.Float64s(), adv.Float64s()
	confident, compared, wrong := 0, 0, 0
	for i := 0; i < n; i++ {
		img := make([]float64, 16)
		for p := range img {
			img[p] = float64(float32(xs[i*16+p]))
		}
		g, q := m.grad64(img, pred[i])
		if q >= 1e-6 {
			continue
		}
		confident++
		big := 0.0
		for _, v := range g {
			big = math.Max(big, math.Abs(v))
		}
		for p, v := range g {
			if math.Abs(v) < 1e-3*big || xs[i*16+p] < eps || xs[i*16+p] > 1-eps {
				continue // sign too close to call, or clipped at 0 or 1
			}
			compared++
			if (as[i*16+p] > xs[i*16+p]) != (v > 0) {
				wrong++
			}
		}
	}
	if confident < 10 || compared < 100 {
		t.Fatalf("only %d confident images, %d pixels compared: make the model more confident", confident, compared)
	}
	if wrong > 0 {
		t.Fatalf("FGSM steps against float64's gradient sign on %d of %d pixels of %d images with 1-p(label) < 1e-6", wrong, compared, confident)
	}
}

// TestNoGradientSaysWhy: when a model's output cannot pass a gradient the
// error names the reason and what to do about it.
func TestNoGradientSaysWhy(t *testing.T) {
	x := tensor.Zeros(tensor.Float32, 2, 1, 4, 4)
	for i := 0; i < x.Size(); i++ {
		x.SetFlat(i, 0.5)
	}
	// a model that ends in a softmax saturated at exactly 1
	probs := newMLP(4, 8, 3, 400)
	probs.probs = true
	var y []int
	autograd.NoGrad(func() {
		l, _ := probs.Forward(autograd.Const(x), nn.Eval)
		y = autograd.ArgMax(l, 1)
	})
	_, err := NewFGSM(0.1).Perturb(context.Background(), probs, x, y)
	if !errors.Is(err, ErrNoGradient) || !strings.Contains(err.Error(), "probabilities") || !strings.Contains(err.Error(), "output") {
		t.Fatalf("softmax-output model: %v", err)
	}
	// logits so far apart that every other class's probability is 0
	sat := newMLP(4, 8, 3, 4000)
	autograd.NoGrad(func() {
		l, _ := sat.Forward(autograd.Const(x), nn.Eval)
		y = autograd.ArgMax(l, 1)
	})
	_, err = NewFGSM(0.1).Perturb(context.Background(), sat, x, y)
	if !errors.Is(err, ErrNoGradient) || !strings.Contains(err.Error(), "saturated") || !strings.Contains(err.Error(), "square") {
		t.Fatalf("saturated model: %v", err)
	}
	// towards the least-likely class the loss is far from saturated
	if _, err := NewStepLL(0.1).Perturb(context.Background(), sat, x, y); err != nil {
		t.Fatalf("Step-LL on the saturated model: %v", err)
	}
}
