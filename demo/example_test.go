package demo_test

import (
	"context"
	"fmt"
	"os"

	"github.com/arp-robustness/arp/demo"
)

// Run the quick demo into a directory and print where its report is
// (about 15 CPU-seconds; arp demo --quick is this with a progress bar).
func Example() {
	path, err := demo.Run(context.Background(), demo.Options{Dir: "arp-demo", Seed: 1, Config: demo.Quick, Out: os.Stdout})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("report:", path)
}
