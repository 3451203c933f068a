package tensor

import "github.com/arp-robustness/arp/kernels"

// Scratch buffers come from the kernels package's size-classed pools.

func getBuf[T Float](n int) []T { return kernels.GetBuf[T](n) }

func putBuf[T Float](b []T) { kernels.PutBuf(b) }
