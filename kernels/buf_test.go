package kernels

import "testing"

// TestBufClass: pool buffers are a class's capacity, at least n, wasting
// at most a fifth of it above 64 elements, and every class is its own
// class (PutBuf recognises the buffers GetBuf made).
func TestBufClass(t *testing.T) {
	for n := 1; n < 1<<20; n += 1 + n/7 {
		c := bufClass(n)
		if c < n || bufClass(c) != c || (n > 64 && 5*(c-n) > c) {
			t.Fatalf("n %d: class %d", n, c)
		}
	}
}
