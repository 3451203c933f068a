package autograd_test

import (
	"fmt"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/optim"
	"github.com/arp-robustness/arp/tensor"
)

// Fit y = 2x + 1 with a one-weight linear model, then take a second-order
// gradient: the derivative of the squared input-gradient norm (a "gradient
// penalty", the kind of term that double backpropagation exists for).
func Example() {
	xs := tensor.FromFloat64([]float64{0, 1, 2, 3}, 4, 1)
	ys := tensor.FromFloat64([]float64{1, 3, 5, 7}, 4, 1)
	w := autograd.Param(tensor.FromFloat64([]float64{0}, 1, 1))
	b := autograd.Param(tensor.FromFloat64([]float64{0}, 1))
	opt := optim.NewAdam([]*autograd.Var{w, b}, 0.1)
	for step := 0; step < 500; step++ {
		pred := autograd.Add(autograd.MatMul(autograd.Const(xs), w, false, false), b)
		loss := autograd.MeanAll(autograd.Square(autograd.Sub(pred, autograd.Const(ys))))
		g := autograd.MustGrad(loss, []*autograd.Var{w, b}, false)
		if err := opt.Step(g); err != nil {
			panic(err)
		}
	}
	fmt.Printf("w=%.2f b=%.2f\n", w.Value().Item(), b.Value().Item())

	// f(x) = sum(tanh(w*x)); penalty = |df/dx|^2; d(penalty)/dw needs the
	// graph of df/dx, hence createGraph.
	x := autograd.Param(tensor.FromFloat64([]float64{0.5}, 1, 1))
	v := autograd.Param(tensor.FromFloat64([]float64{1.5}, 1, 1))
	f := autograd.SumAll(autograd.Tanh(autograd.Mul(v, x)))
	dx := autograd.MustGrad(f, []*autograd.Var{x}, true)[0]
	penalty := autograd.SumAll(autograd.Square(dx))
	dv := autograd.MustGrad(penalty, []*autograd.Var{v}, false)[0]
	fmt.Printf("df/dx=%.4f d|df/dx|^2/dv=%.4f\n", dx.Value().Item(), dv.Value().Item())
	// Output:
	// w=2.00 b=1.00
	// df/dx=0.8949 d|df/dx|^2/dv=0.0505
}
