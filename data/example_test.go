package data_test

import (
	"fmt"

	"github.com/arp-robustness/arp/data"
)

// Load the embedded MNIST subset and iterate over shuffled, flipped
// mini-batches scaled to [-1,1].
func Example() {
	train, err := data.Open("mnist-mini:train", data.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(train.Name, train.Len(), "images of", train.C, "x", train.H, "x", train.W)
	fmt.Println("first label:", train.Classes[train.Labels[0]], "box:", train.Boxes[0][0].XMin, train.Boxes[0][0].YMin, train.Boxes[0][0].XMax, train.Boxes[0][0].YMax)

	it, err := train.Batches(data.BatchOptions{Size: 64, DropLast: true, Shuffle: true, Flip: true, Seed: 1, Range: data.Signed})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("batches:", it.Len())
	b, _ := it.Next()
	lo, hi := b.Images[0], b.Images[0]
	for _, v := range b.Images {
		lo, hi = min(lo, v), max(hi, v)
	}
	fmt.Println("batch:", b.N, "x", b.C, "x", b.H, "x", b.W, "values in", lo, hi)
	// Output:
	// mnist-mini:train 2000 images of 1 x 28 x 28
	// first label: 7 box: 6 7 22 27
	// batches: 31
	// batch: 64 x 1 x 28 x 28 values in -1 1
}

// Read a dataset a batch at a time: the Source lists the images and their
// labels; each Read decodes only its range.
func ExampleOpenSource() {
	s, err := data.OpenSource("mnist-mini:test", data.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Name, s.Len(), "images; one batch of 100 needs", s.Need(100), "bytes")
	for lo := 0; lo < s.Len(); lo += 100 {
		b, err := s.Read(lo, min(s.Len(), lo+100))
		if err != nil {
			fmt.Println(err)
			return
		}
		if lo == 900 {
			fmt.Println("images", lo, "to", lo+b.Len()-1, "first label:", b.Labels[0])
		}
	}
	// Output:
	// mnist-mini:test 1000 images; one batch of 100 needs 392000 bytes
	// images 900 to 999 first label: 4
}
