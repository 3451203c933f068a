package checkpoint_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/arp-robustness/arp/checkpoint"
)

func Example() {
	dir, err := os.MkdirTemp("", "checkpoint-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.safetensors")

	// Save two parameters and some metadata.
	f := checkpoint.New(path)
	f.Metadata["arch"] = "tiny"
	if err := f.PutFloat32("fc.weight", []int{2, 3}, []float32{1, 2, 3, 4, 5, 6}); err != nil {
		log.Fatal(err)
	}
	if err := f.PutInt64("step", []int{}, []int64{1000}); err != nil {
		log.Fatal(err)
	}
	if err := f.Save(); err != nil {
		log.Fatal(err)
	}

	// Load them back, checking shapes.
	g, err := checkpoint.Read(path)
	if err != nil {
		log.Fatal(err)
	}
	w, err := g.Float32("fc.weight", []int{2, 3})
	if err != nil {
		log.Fatal(err)
	}
	step, err := g.Int64("step", []int{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(g.Names(), g.Metadata["arch"], w, step)

	// A model with another architecture fails clearly.
	_, err = g.Float32("fc.weight", []int{3, 3})
	fmt.Println(err != nil)
	// Output:
	// [fc.weight step] tiny [1 2 3 4 5 6] [1000]
	// true
}
