package limits_test

import (
	"fmt"

	"github.com/arp-robustness/arp/limits"
)

func Example() {
	// A device is refused before a byte is read.
	_, err := limits.ReadFile("/dev/zero", limits.MaxImageFile)
	fmt.Println(err)

	// Work is estimated before it starts and refused if it cannot fit.
	defer limits.SetAvailable(8e9)()
	need := limits.Need(4, 100, 3, 2048, 2048, 16) // float32 activations of 100 large images
	fmt.Println(limits.Check("a batch of 100 images", need))
	// Output:
	// open /dev/zero: not a regular file (a character device), want a file
	// a batch of 100 images would need about 80.5 GB of memory; 8 GB is available
}
