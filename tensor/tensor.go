package tensor

import (
	"fmt"
	"math"
	"strings"
)

// DType is the element type of a Tensor.
type DType uint8

const (
	// Float32 is the working precision of models, attacks and training.
	Float32 DType = iota + 1
	// Float64 is used for gradient checking and reference computations.
	Float64
)

func (d DType) String() string {
	switch d {
	case Float32:
		return "float32"
	case Float64:
		return "float64"
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

// Float is the set of element types kernels are written for.
type Float interface{ ~float32 | ~float64 }

// Tensor is a dense, row-major, contiguous n-dimensional array of float32 or
// float64 values. Exactly one of its two backing slices is in use.
//
// Tensors are values of the engine, not of the user interface: operations
// panic with a *ShapeError when given shapes they cannot work with (a
// programming error), see the package documentation.
type Tensor struct {
	dtype DType
	shape []int
	f32   []float32
	f64   []float64
}

// ShapeError is the panic value of every operation given shapes, ranks or
// types it cannot work with. Op names the operation, Msg says what is wrong
// and includes the shapes involved.
type ShapeError struct {
	Op  string
	Msg string
}

func (e *ShapeError) Error() string { return e.Op + ": " + e.Msg }

// Panicf panics with a *ShapeError for operation op.
func Panicf(op, format string, args ...any) {
	panic(&ShapeError{Op: op, Msg: fmt.Sprintf(format, args...)})
}

// Numel returns the number of elements of a shape.
func Numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

func checkShape(op string, shape []int) {
	for _, d := range shape {
		if d < 0 {
			Panicf(op, "negative dimension in shape %v", shape)
		}
	}
}

// Zeros returns a tensor of zeros.
func Zeros(dt DType, shape ...int) *Tensor {
	checkShape("tensor.Zeros", shape)
	n := Numel(shape)
	t := &Tensor{dtype: dt, shape: append([]int(nil), shape...)}
	if arenaAlloc(dt, n, t) {
		clear(t.f32)
		clear(t.f64)
		return t
	}
	switch dt {
	case Float32:
		t.f32 = make([]float32, n)
	case Float64:
		t.f64 = make([]float64, n)
	default:
		Panicf("tensor.Zeros", "unknown dtype %v", dt)
	}
	return t
}

// Full returns a tensor filled with v.
func Full(dt DType, v float64, shape ...int) *Tensor {
	t := Zeros(dt, shape...)
	t.Fill(v)
	return t
}

// Scalar returns a 0-dimensional tensor holding v.
func Scalar(dt DType, v float64) *Tensor { return Full(dt, v) }

// ZerosLike returns zeros with the dtype and shape of t.
func ZerosLike(t *Tensor) *Tensor { return Zeros(t.dtype, t.shape...) }

// FromFloat32 wraps data (not copied) as a tensor of the given shape.
func FromFloat32(data []float32, shape ...int) *Tensor {
	checkShape("tensor.FromFloat32", shape)
	if Numel(shape) != len(data) {
		Panicf("tensor.FromFloat32", "%d values do not fill shape %v", len(data), shape)
	}
	return &Tensor{dtype: Float32, shape: append([]int(nil), shape...), f32: data}
}

// FromFloat64 wraps data (not copied) as a tensor of the given shape.
func FromFloat64(data []float64, shape ...int) *Tensor {
	checkShape("tensor.FromFloat64", shape)
	if Numel(shape) != len(data) {
		Panicf("tensor.FromFloat64", "%d values do not fill shape %v", len(data), shape)
	}
	return &Tensor{dtype: Float64, shape: append([]int(nil), shape...), f64: data}
}

// DType returns the element type.
func (t *Tensor) DType() DType { return t.dtype }

// Shape returns the shape. The caller must not modify it.
func (t *Tensor) Shape() []int { return t.shape }

// Dims returns the number of dimensions (the rank).
func (t *Tensor) Dims() int { return len(t.shape) }

// Dim returns the size of dimension i; negative i counts from the end.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.shape)
	}
	if i < 0 || i >= len(t.shape) {
		Panicf("tensor.Dim", "axis %d out of range for shape %v", i, t.shape)
	}
	return t.shape[i]
}

// Size returns the number of elements.
func (t *Tensor) Size() int {
	if t.dtype == Float32 {
		return len(t.f32)
	}
	return len(t.f64)
}

// F32 returns the backing float32 slice (nil for a float64 tensor).
func (t *Tensor) F32() []float32 { return t.f32 }

// F64 returns the backing float64 slice (nil for a float32 tensor).
func (t *Tensor) F64() []float64 { return t.f64 }

// Float64s returns a copy of the values as float64.
func (t *Tensor) Float64s() []float64 {
	if t.dtype == Float64 {
		return append([]float64(nil), t.f64...)
	}
	out := make([]float64, len(t.f32))
	for i, v := range t.f32 {
		out[i] = float64(v)
	}
	return out
}

// Float32s returns a copy of the values as float32.
func (t *Tensor) Float32s() []float32 {
	if t.dtype == Float32 {
		return append([]float32(nil), t.f32...)
	}
	out := make([]float32, len(t.f64))
	for i, v := range t.f64 {
		out[i] = float32(v)
	}
	return out
}

// NonFinite returns the index and value of the first NaN or infinite
// element of t, or -1 if every element is finite.
func (t *Tensor) NonFinite() (int, float64) {
	if t.dtype == Float64 {
		for i, v := range t.f64 {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return i, v
			}
		}
		return -1, 0
	}
	return NonFinite32(t.f32)
}

// NonFinite32 returns the index and value of the first NaN or infinite
// element of v, or -1 if every element is finite.
func NonFinite32(v []float32) (int, float64) {
	// x*0 is 0 for finite x and NaN otherwise: four independent sums over
	// blocks show whether a block holds one, without a branch per element
	const block = 256
	for b := 0; b < len(v); b += block {
		blk := v[b:min(b+block, len(v))]
		var s0, s1, s2, s3 float32
		i := 0
		for ; i+4 <= len(blk); i += 4 {
			s0 += blk[i] * 0
			s1 += blk[i+1] * 0
			s2 += blk[i+2] * 0
			s3 += blk[i+3] * 0
		}
		for ; i < len(blk); i++ {
			s0 += blk[i] * 0
		}
		if s0+s1+s2+s3 == 0 {
			continue
		}
		if i, x := nonFinite32(blk); i >= 0 {
			return b + i, x
		}
	}
	return -1, 0
}

func nonFinite32(v []float32) (int, float64) {
	for i, x := range v {
		if x-x != 0 { // NaN - NaN and Inf - Inf are NaN
			return i, float64(x)
		}
	}
	return -1, 0
}

// Item returns the single value of a one-element tensor.
func (t *Tensor) Item() float64 {
	if t.Size() != 1 {
		Panicf("tensor.Item", "tensor of shape %v has %d elements, want 1", t.shape, t.Size())
	}
	return t.AtFlat(0)
}

// AtFlat returns element i of the flat data as float64.
func (t *Tensor) AtFlat(i int) float64 {
	if t.dtype == Float32 {
		return float64(t.f32[i])
	}
	return t.f64[i]
}

// SetFlat sets element i of the flat data.
func (t *Tensor) SetFlat(i int, v float64) {
	if t.dtype == Float32 {
		t.f32[i] = float32(v)
	} else {
		t.f64[i] = v
	}
}

// At returns the element at the given index.
func (t *Tensor) At(idx ...int) float64 { return t.AtFlat(t.offset("tensor.At", idx)) }

// Set sets the element at the given index.
func (t *Tensor) Set(v float64, idx ...int) { t.SetFlat(t.offset("tensor.Set", idx), v) }

func (t *Tensor) offset(op string, idx []int) int {
	if len(idx) != len(t.shape) {
		Panicf(op, "index %v has rank %d, tensor has shape %v", idx, len(idx), t.shape)
	}
	off := 0
	for i, x := range idx {
		if x < 0 || x >= t.shape[i] {
			Panicf(op, "index %v out of range for shape %v", idx, t.shape)
		}
		off = off*t.shape[i] + x
	}
	return off
}

// Fill sets every element to v.
func (t *Tensor) Fill(v float64) {
	if t.dtype == Float32 {
		f := float32(v)
		for i := range t.f32 {
			t.f32[i] = f
		}
	} else {
		for i := range t.f64 {
			t.f64[i] = v
		}
	}
}

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	c := &Tensor{dtype: t.dtype, shape: append([]int(nil), t.shape...)}
	if t.f32 != nil {
		c.f32 = append([]float32(nil), t.f32...)
	}
	if t.f64 != nil {
		c.f64 = append([]float64(nil), t.f64...)
	}
	if c.f32 == nil && c.f64 == nil {
		if t.dtype == Float32 {
			c.f32 = []float32{}
		} else {
			c.f64 = []float64{}
		}
	}
	return c
}

// CopyFrom copies the values of src (same dtype and size) into t.
func (t *Tensor) CopyFrom(src *Tensor) {
	if src.dtype != t.dtype || src.Size() != t.Size() {
		Panicf("tensor.CopyFrom", "cannot copy %v%v into %v%v", src.dtype, src.shape, t.dtype, t.shape)
	}
	if t.dtype == Float32 {
		copy(t.f32, src.f32)
	} else {
		copy(t.f64, src.f64)
	}
}

// AsType returns t converted to dtype dt (t itself when it already has it).
func (t *Tensor) AsType(dt DType) *Tensor {
	if t.dtype == dt {
		return t
	}
	if dt == Float32 {
		return FromFloat32(t.Float32s(), t.shape...)
	}
	return FromFloat64(t.Float64s(), t.shape...)
}

// Reshape returns a view of t with a new shape sharing the same data. One
// dimension may be -1 and is then inferred.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	shape = ResolveShape("tensor.Reshape", t.shape, shape)
	return &Tensor{dtype: t.dtype, shape: shape, f32: t.f32, f64: t.f64}
}

// ResolveShape checks that shape (with at most one -1) fits the element count
// of from and returns it with -1 resolved.
func ResolveShape(op string, from, shape []int) []int {
	shape = append([]int(nil), shape...)
	n := Numel(from)
	infer := -1
	known := 1
	for i, d := range shape {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d < 0:
			Panicf(op, "invalid shape %v", shape)
		default:
			known *= d
		}
	}
	if infer >= 0 {
		if known == 0 || n%known != 0 {
			Panicf(op, "cannot reshape %v into %v", from, shape)
		}
		shape[infer] = n / known
	}
	if Numel(shape) != n {
		Panicf(op, "cannot reshape %v (%d elements) into %v", from, n, shape)
	}
	return shape
}

// SameShape reports whether two shapes are equal.
func SameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// HasNaN reports whether any element is NaN or infinite.
func (t *Tensor) HasNaN() bool {
	if t.dtype == Float32 {
		for _, v := range t.f32 {
			f := float64(v)
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return true
			}
		}
		return false
	}
	for _, v := range t.f64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return true
		}
	}
	return false
}

// String formats small tensors fully and large ones abbreviated.
func (t *Tensor) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Tensor(%v%v", t.dtype, t.shape)
	n := t.Size()
	if n > 0 {
		b.WriteString(" [")
		for i := 0; i < n && i < 8; i++ {
			if i > 0 {
				b.WriteString(" ")
			}
			fmt.Fprintf(&b, "%.6g", t.AtFlat(i))
		}
		if n > 8 {
			b.WriteString(" ...")
		}
		b.WriteString("]")
	}
	b.WriteString(")")
	return b.String()
}

func sameDType(op string, a, b *Tensor) {
	if a.dtype != b.dtype {
		Panicf(op, "dtype mismatch %v%v and %v%v", a.dtype, a.shape, b.dtype, b.shape)
	}
}
