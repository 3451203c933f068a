package train_test

import (
	"context"
	"fmt"

	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/defense"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/train"
)

// Train a small CNN with the ARP objective on the embedded MNIST subset
// for a few steps and watch the loss fall.
func Example() {
	trainSet, _ := data.Open("mnist-mini:train", data.Options{})
	trainSet, _ = trainSet.Split(400)
	spec, _ := nn.DefaultSpec("mnist-small", trainSet.C, trainSet.H, trainSet.W, len(trainSet.Classes))
	model, _ := nn.Build(spec, 1)
	arp, _ := defense.New("arp", defense.Options{}) // a, b, c = 8, 4, 1; Step-LL with eps 0.075
	var losses []float64
	sum, err := train.Run(context.Background(), model, trainSet, nil, train.Config{
		Objective: arp, LR: 3e-3, BatchSize: 20, Steps: 12, LogEvery: 6, Seed: 1,
		Progress: func(p train.Progress) {
			if p.Step%6 == 0 {
				losses = append(losses, p.Loss)
			}
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("steps:", sum.Done)
	fmt.Println("loss fell:", losses[1] < losses[0])
	// Output:
	// steps: 12
	// loss fell: true
}
