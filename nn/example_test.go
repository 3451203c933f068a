package nn_test

import (
	"fmt"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

func Example() {
	spec, err := nn.DefaultSpec("cifarnet", 3, 32, 32, 10)
	if err != nil {
		panic(err)
	}
	m, err := nn.Build(spec, 1)
	if err != nil {
		panic(err)
	}
	x := autograd.Const(tensor.Zeros(tensor.Float32, 2, 3, 32, 32))
	logits, acts := m.Forward(x, nn.Eval, spec.Attention)
	fmt.Println(logits.Shape(), spec.Attention, acts[spec.Attention].Shape())
	// Output: [2 10] pool2 [2 64 8 8]
}
