package autograd

import (
	"errors"

	"github.com/arp-robustness/arp/tensor"
)

// Try runs fn and turns a *tensor.ShapeError panic (how ops report shapes,
// ranks or types they cannot work with) into an error. Other panics are
// passed on.
func Try(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			var se *tensor.ShapeError
			if e, ok := r.(error); ok && errors.As(e, &se) {
				err = se
				return
			}
			panic(r)
		}
	}()
	fn()
	return nil
}
