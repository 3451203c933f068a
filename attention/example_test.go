package attention_test

import (
	"fmt"
	"math"

	"github.com/arp-robustness/arp/attention"
	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/mask"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// Maps of an (untrained) MNIST model for two digits, their top-7 masks and
// how much the two regions overlap.
func Example() {
	spec, _ := nn.DefaultSpec("mnist-small", 1, 28, 28, 10)
	model, _ := nn.Build(spec, 1)
	d, _ := data.MNISTMini("test")
	x := tensor.FromFloat32(d.Images[:2*784], 2, 1, 28, 28)

	method, _ := attention.MethodByName("gradcam-arp", false)
	set, err := attention.Maps(model, x, d.Labels[:2], attention.Options{Method: method})
	if err != nil {
		fmt.Println(err)
		return
	}
	sum := 0.0
	for _, v := range set.Coarse[0] {
		sum += float64(v)
	}
	fmt.Printf("%s at %s: %dx%d maps upsampled to %dx%d, explaining the true classes %v\n",
		set.Method, set.Layer, set.H, set.W, set.InH, set.InW, set.Targets)
	fmt.Printf("the ARP map sums to %.3f\n", math.Round(sum*1000)/1000)
	a, _ := set.Mask(0, attention.MaskOptions{Method: attention.MaskTopK})
	b, _ := set.Mask(1, attention.MaskOptions{Method: attention.MaskTopK})
	fmt.Printf("top-7 masks: %d and %d pixels, IoU in [0,1]: %v\n", mask.Count(a), mask.Count(b), mask.IoU(a, b) >= 0 && mask.IoU(a, b) <= 1)
	// Output:
	// gradcam-arp at pool2: 7x7 maps upsampled to 28x28, explaining the true classes [6 5]
	// the ARP map sums to 1.000
	// top-7 masks: 112 and 112 pixels, IoU in [0,1]: true
}
