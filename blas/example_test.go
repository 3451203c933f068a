package blas_test

import (
	"fmt"

	"github.com/arp-robustness/arp/blas"
)

// A 2×3 matrix times the transpose of a 2×3 matrix, added to C.
func ExampleSgemm() {
	a := []float32{
		1, 2, 3,
		4, 5, 6,
	}
	b := []float32{ // used transposed: op(B) is 3×2
		1, 0, 1,
		0, 1, 0,
	}
	c := []float32{
		10, 10,
		10, 10,
	}
	// C = 1*A*Bᵀ + 1*C; m=2, n=2, k=3; rows of A and B are 3 long, of C 2.
	blas.Sgemm(false, true, 2, 2, 3, 1, a, 3, b, 3, 1, c, 2)
	fmt.Println(c)
	// Output:
	// [14 12 20 15]
}

// Padded storage: a 2×2 block inside a wider matrix, using the row stride.
func ExampleDgemm() {
	a := []float64{
		1, 2, -1, // the third column is not part of A
		3, 4, -1,
	}
	b := []float64{
		1, 1,
		1, 1,
	}
	c := make([]float64, 4)
	blas.Dgemm(false, false, 2, 2, 2, 0.5, a, 3, b, 2, 0, c, 2)
	fmt.Println(c)
	// Output:
	// [1.5 1.5 3.5 3.5]
}

// Which implementation is in use, e.g. for a version command. The output
// depends on the machine, for example
// "openblas 0.3.21 (/lib/x86_64-linux-gnu/libopenblas.so.0, core SkylakeX, 2 threads)".
func ExampleInfo() {
	if err := blas.Init(); err != nil {
		fmt.Println("warning:", err)
	}
	fmt.Println(blas.Info() != "")
	// Output:
	// true
}
