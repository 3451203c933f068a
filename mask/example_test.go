package mask_test

import (
	"fmt"

	"github.com/arp-robustness/arp/mask"
)

// A coarse 4x4 attention map for a clean image and for its adversarial
// version: the attack moved the attention from the top-left object to the
// bottom-right corner and split it.
func Example() {
	clean := []float32{
		.20, .15, .02, .01,
		.15, .20, .02, .01,
		.03, .03, .02, .01,
		.01, .01, .01, .12,
	}
	adv := []float32{
		.02, .01, .02, .15,
		.01, .02, .03, .02,
		.03, .03, .02, .12,
		.15, .02, .15, .20,
	}
	const h, w = 4, 4

	// Ground truth: the object occupies the top-left 4x4 pixels of an 8x8 image.
	gt, err := mask.BoxMask(8, 8, mask.VOCBox(1, 1, 4, 4))
	if err != nil {
		fmt.Println(err)
		return
	}

	// Masks at image resolution: mean threshold on the bilinearly resized
	// map, and the top 4 cells of the coarse map upsampled.
	cleanMask := mask.MeanThreshold(mask.ResizeBilinear(clean, h, w, 8, 8), 8, 8)
	advMask := mask.Upsample(mask.TopK(adv, h, w, 4), h, w, 8, 8)

	fmt.Printf("coverage of the object: %.2f\n", mask.Coverage(cleanMask, gt))
	fmt.Printf("IoU with the object:    %.2f\n", mask.IoU(cleanMask, gt))
	fmt.Printf("clean/adv mask IoU:     %.2f\n", mask.IoU(cleanMask, advMask))
	fmt.Println("pointing game (clean): ", mask.PointingGame(clean, h, w, mask.Upsample(gt, 8, 8, h, w), 0))
	fmt.Printf("centroid shift (cells): %.2f\n", mask.CentroidShift(clean, adv, h, w))
	fmt.Printf("rank correlation:       %.2f\n", mask.SpearmanRank(clean, adv))
	s := mask.Scatter(advMask, 8, 8, mask.Four)
	fmt.Printf("adv mask: %d components, largest holds %.0f%%\n", s.Components, 100*s.LargestShare)
	fmt.Printf("normalised entropy clean %.2f, adv %.2f\n", mask.NormalizedEntropy(clean), mask.NormalizedEntropy(adv))
	// Output:
	// coverage of the object: 1.00
	// IoU with the object:    0.73
	// clean/adv mask IoU:     0.12
	// pointing game (clean):  true
	// centroid shift (cells): 1.44
	// rank correlation:       -0.46
	// adv mask: 3 components, largest holds 50%
	// normalised entropy clean 0.79, adv 0.83
}

func ExampleTopK() {
	m := []float32{
		1, 5, 5,
		2, 9, 0,
	}
	top := mask.TopK(m, 2, 3, 2) // 9 first, then the first of the two 5s
	fmt.Println(top)
	fmt.Println(mask.Upsample(top, 2, 3, 4, 6)[:6])
	// Output:
	// [false true false false true false]
	// [false false true true false false]
}

func ExampleIoU() {
	a := []bool{true, true, false, false}
	b := []bool{false, true, true, false}
	fmt.Printf("%.3f\n", mask.IoU(a, b))
	fmt.Println(mask.IoU([]bool{false, false}, []bool{false, false})) // two empty masks
	fmt.Println(mask.Coverage(a, b))
	// Output:
	// 0.333
	// 1
	// 0.5
}
