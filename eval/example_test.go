package eval_test

import (
	"context"
	"fmt"

	"github.com/arp-robustness/arp/eval"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

func Example() {
	spec, _ := nn.DefaultSpec("mnist-small", 1, 28, 28, 10)
	model, _ := nn.Build(spec, 1) // untrained: a stand-in for nn.LoadRun(dir)
	x := tensor.Full(tensor.Float32, 0.5, 8, 1, 28, 28)
	y := make([]int, 8)

	attacks, err := eval.ParseAttacks([]string{"fgsm", "pgd:steps=5:restarts=2", "square:queries=20"})
	if err != nil {
		fmt.Println(err)
		return
	}
	rep, err := eval.Run(context.Background(), model, x, y, eval.Options{
		Attacks: attacks, Eps: []float64{0.1, 0.3}, Seed: 1, CheckImages: 4,
		Model: "untrained", Data: "grey images",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rep.ImagesLine())
	for _, t := range rep.Threats {
		fmt.Printf("L-inf eps %g = %v on the model's [-1,1] input scale, %d attacks\n", t.Eps, t.EpsInput, len(t.Attacks))
	}
	for _, c := range rep.Checks {
		fmt.Println(c.Name)
	}
	// Output:
	// all 8 images of grey images
	// L-inf eps 0.1 = [0.2] on the model's [-1,1] input scale, 3 attacks
	// L-inf eps 0.3 = [0.6] on the model's [-1,1] input scale, 3 attacks
	// attack suite
	// accuracy falls as eps grows
	// unbounded attack reaches ~0% accuracy
	// iterative attacks at least as strong as single-step ones
	// white-box attacks at least as strong as black-box ones
	// input gradients non-zero and finite
	// adversarial images within their budget
	// adaptive attack through the attention objective
}
