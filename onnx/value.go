package onnx

import (
	"fmt"
	"math"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/tensor"
)

// value is what flows along a graph edge: floating-point data as an
// autograd variable (differentiable), or integer/boolean data (shapes,
// indices) as a plain intTensor that no gradient passes through.
type value struct {
	v  *autograd.Var
	it *intTensor
}

func (v value) present() bool { return v.v != nil || v.it != nil }

func (v value) shape() []int {
	if v.v != nil {
		return v.v.Shape()
	}
	if v.it != nil {
		return v.it.shape
	}
	return nil
}

// intTensor is a dense row-major integer tensor.
type intTensor struct {
	shape []int
	data  []int64
}

func newInts(shape []int, data []int64) *intTensor {
	return &intTensor{shape: append([]int(nil), shape...), data: data}
}

func scalarInts(v int64) *intTensor { return &intTensor{shape: []int{}, data: []int64{v}} }

func vecInts(v []int64) *intTensor { return &intTensor{shape: []int{len(v)}, data: v} }

// toFloat converts integers to a constant float variable of type dt.
func (t *intTensor) toFloat(dt tensor.DType) *autograd.Var {
	f := make([]float64, len(t.data))
	for i, v := range t.data {
		f[i] = float64(v)
	}
	return autograd.Const(tensor.FromFloat64(f, t.shape...).AsType(dt))
}

// floatToInts truncates float values toward zero (ONNX Cast).
func floatToInts(x *tensor.Tensor) *intTensor {
	d := make([]int64, x.Size())
	for i := range d {
		v := x.AtFlat(i)
		switch {
		case math.IsNaN(v):
			d[i] = 0
		case v >= math.MaxInt64:
			d[i] = math.MaxInt64
		case v <= math.MinInt64:
			d[i] = math.MinInt64
		default:
			d[i] = int64(v)
		}
	}
	return newInts(x.Shape(), d)
}

// strides returns row-major strides of shape.
func strides(shape []int) []int {
	s := make([]int, len(shape))
	n := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = n
		n *= shape[i]
	}
	return s
}

// checkSize fails when shape has a negative dimension or more than maxElems
// elements.
func checkSize(shape []int) error {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return fmt.Errorf("negative dimension in shape %v", shape)
		}
		if d > 0 && n > maxElems/d {
			return fmt.Errorf("shape %v has more than %d elements", shape, maxElems)
		}
		n *= d
	}
	return nil
}

// broadcastInts applies f elementwise with NumPy broadcasting.
func broadcastInts(a, b *intTensor, f func(x, y int64) (int64, error)) (*intTensor, error) {
	out, ok := tensor.BroadcastShapes(a.shape, b.shape)
	if !ok {
		return nil, fmt.Errorf("shapes %v and %v do not broadcast", a.shape, b.shape)
	}
	n := tensor.Numel(out)
	res := make([]int64, n)
	ai, bi := bcastIndex(a.shape, out), bcastIndex(b.shape, out)
	for i := 0; i < n; i++ {
		v, err := f(a.data[ai(i)], b.data[bi(i)])
		if err != nil {
			return nil, err
		}
		res[i] = v
	}
	return newInts(out, res), nil
}

// bcastIndex maps a flat index of shape out to the flat index of a tensor of
// shape in broadcast to out.
func bcastIndex(in, out []int) func(int) int {
	r := len(out)
	st := make([]int, r)
	is := strides(in)
	for i := 0; i < len(in); i++ {
		if in[i] != 1 {
			st[r-len(in)+i] = is[i]
		}
	}
	os := strides(out)
	return func(f int) int {
		idx := 0
		for d := 0; d < r; d++ {
			c := f / os[d]
			f -= c * os[d]
			idx += c * st[d]
		}
		return idx
	}
}

// gatherIndex returns, for a tensor of shape shape, the flat indices of the
// elements picked by index[i] along axis: the result has shape
// shape[:axis] + ishape + shape[axis+1:].
func gatherIndex(shape []int, axis int, index []int64, ishape []int) ([]int32, []int, error) {
	d := shape[axis]
	outer := tensor.Numel(shape[:axis])
	inner := tensor.Numel(shape[axis+1:])
	oshape := append(append(append([]int{}, shape[:axis]...), ishape...), shape[axis+1:]...)
	if err := checkSize(oshape); err != nil {
		return nil, nil, err
	}
	res := make([]int32, 0, tensor.Numel(oshape))
	for o := 0; o < outer; o++ {
		for _, k := range index {
			if k < 0 {
				k += int64(d)
			}
			if k < 0 || k >= int64(d) {
				return nil, nil, fmt.Errorf("index %d out of range for axis %d of size %d", k, axis, d)
			}
			base := (o*d + int(k)) * inner
			for i := 0; i < inner; i++ {
				res = append(res, int32(base+i))
			}
		}
	}
	return res, oshape, nil
}

// sliceIndex returns the flat indices of x[starts:ends:steps] along axes
// (already clamped) and the result's shape.
func sliceIndex(shape []int, starts, steps, counts []int) ([]int32, []int) {
	r := len(shape)
	st := strides(shape)
	n := 1
	for _, c := range counts {
		n *= c
	}
	res := make([]int32, 0, n)
	idx := make([]int, r)
	if n == 0 {
		return res, append([]int(nil), counts...)
	}
	for {
		f := 0
		for d := 0; d < r; d++ {
			f += (starts[d] + idx[d]*steps[d]) * st[d]
		}
		res = append(res, int32(f))
		d := r - 1
		for ; d >= 0; d-- {
			idx[d]++
			if idx[d] < counts[d] {
				break
			}
			idx[d] = 0
		}
		if d < 0 {
			break
		}
	}
	return res, append([]int(nil), counts...)
}

// pickInts applies flat indices to an intTensor.
func pickInts(t *intTensor, idx []int32, shape []int) *intTensor {
	d := make([]int64, len(idx))
	for i, j := range idx {
		d[i] = t.data[j]
	}
	return newInts(shape, d)
}
