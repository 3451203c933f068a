package attack_test

import (
	"context"
	"fmt"
	"math"

	"github.com/arp-robustness/arp/attack"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

func Example() {
	spec, _ := nn.DefaultSpec("mnist-small", 1, 28, 28, 10)
	model, _ := nn.Build(spec, 1)
	x := tensor.Full(tensor.Float32, 0.5, 2, 1, 28, 28) // two grey images, pixels in [0,1]
	y := []int{3, 7}

	// eps is always on the [0,1] pixel scale
	a, err := attack.New("pgd", attack.Config{Eps: 0.1, Steps: 5, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	adv, err := a.Perturb(context.Background(), model, x, y)
	if err != nil {
		fmt.Println(err)
		return
	}
	linf := 0.0
	for i := 0; i < x.Size(); i++ {
		linf = math.Max(linf, math.Abs(adv.AtFlat(i)-x.AtFlat(i)))
	}
	s := a.Settings()
	fmt.Printf("%s: %s, %v steps, %v restarts, within eps: %v\n", s["attack"], s["box"], s["steps"], s["restarts"], linf <= 0.1+1e-6)

	_, err = attack.New("pgd", attack.Config{Eps: 8})
	fmt.Println(err)
	// Output:
	// pgd: white-box, 5 steps, 1 restarts, within eps: true
	// pgd: eps 8: must be <= 1 (an L-inf budget on the [0,1] pixel scale; for [-1,1] inputs halve the value)
}

func ExampleParseSpec() {
	spec, err := attack.ParseSpec("pgd:steps=100:restarts=5")
	fmt.Println(spec.Name, spec.Config.Steps, spec.Config.Restarts, err)
	_, err = attack.ParseSpec("pgd:decay=0.9")
	fmt.Println(err)
	// Output:
	// pgd 100 5 <nil>
	// attack pgd has no option "decay"; valid keys: alpha, random-start, restarts, seed, smoothing, steps, targeting
}
