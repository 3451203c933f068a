package segment_test

import (
	"fmt"

	"github.com/arp-robustness/arp/lime/segment"
)

func ExampleSLIC() {
	// A 6x8 gray image: dark on the left, bright on the right.
	const h, w = 6, 8
	img := make([]float32, h*w)
	for p := range img {
		if p%w >= 5 {
			img[p] = 1
		}
	}
	opts := segment.DefaultSLICOptions()
	opts.NumSegments = 2
	s, err := segment.SLIC(img, 1, h, w, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	for y := 0; y < h; y++ {
		fmt.Println(s.Labels[y*w : (y+1)*w])
	}
	fmt.Println("connected:", segment.Connected(s.Labels, h, w))
	// Output:
	// [0 0 0 0 0 1 1 1]
	// [0 0 0 0 0 1 1 1]
	// [0 0 0 0 0 1 1 1]
	// [0 0 0 0 0 1 1 1]
	// [0 0 0 0 0 1 1 1]
	// [0 0 0 0 0 1 1 1]
	// connected: true
}
