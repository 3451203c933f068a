package shard_test

import (
	"fmt"

	"github.com/arp-robustness/arp/shard"
)

func Example() {
	// 10,000 images in batches of 100, as the third of 8 tasks of a job array
	s, err := shard.Parse("2/8")
	if err != nil {
		fmt.Println(err)
		return
	}
	nb := shard.Count(10000, 100)
	blo, bhi, _ := s.Batches(nb)
	lo, hi := shard.Images(blo, bhi, 100, 10000)
	fmt.Printf("shard %s: batches %d-%d, images %d-%d\n", s, blo, bhi-1, lo, hi-1)
	// Output:
	// shard 2/8: batches 25-36, images 2500-3699
}
