package checkpoint

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"unicode/utf8"
)

// Errors that the functions of this package wrap, for use with errors.Is.
var (
	// ErrCorrupt marks a file or byte slice that is not a valid safetensors file.
	ErrCorrupt = errors.New("not a valid safetensors file")
	// ErrMissing marks a lookup of a tensor name that the file does not contain.
	ErrMissing = errors.New("no such tensor")
	// ErrShape marks a tensor whose shape is not the one the caller expected.
	ErrShape = errors.New("shape mismatch")
	// ErrDType marks a tensor whose element type cannot be converted as asked.
	ErrDType = errors.New("dtype mismatch")
)

// MetadataKey is the reserved header key of the string-to-string metadata; no tensor may use it.
const MetadataKey = "__metadata__"

// Tensor is one named entry of a safetensors file: its element type, its shape (row-major;
// an empty shape is a scalar with one element) and its raw little-endian data.
//
// Tensors returned by [Read] and [Decode] share their Data with the file's buffer; treat it as
// read-only or copy it.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// numElements returns the product of shape, or an error if a dimension is negative or the
// product overflows.
func numElements(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		if d != 0 && n > math.MaxInt/d {
			return 0, fmt.Errorf("shape %v has too many elements", shape)
		}
		n *= d
	}
	return n, nil
}

// NumElements returns the number of elements the shape describes (1 for a scalar).
// It returns 0 for an invalid shape; [Tensor.Validate] reports why.
func (t Tensor) NumElements() int {
	n, err := numElements(t.Shape)
	if err != nil {
		return 0
	}
	return n
}

// Validate checks that t could be written: a non-empty name other than [MetadataKey], a known
// dtype, non-negative dimensions and len(Data) equal to the elements times the element size.
func (t Tensor) Validate() error {
	if t.Name == "" {
		return errors.New("tensor has an empty name")
	}
	if !utf8.ValidString(t.Name) {
		return fmt.Errorf("tensor name %q is not valid UTF-8", t.Name)
	}
	if t.Name == MetadataKey {
		return fmt.Errorf("tensor name %q is reserved for metadata", MetadataKey)
	}
	if !t.DType.Valid() {
		return fmt.Errorf("tensor %q: %w", t.Name, errUnknownDType(t.DType))
	}
	n, err := numElements(t.Shape)
	if err != nil {
		return fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	if n > math.MaxInt/t.DType.Size() {
		return fmt.Errorf("tensor %q: shape %v is too large", t.Name, t.Shape)
	}
	if want := n * t.DType.Size(); len(t.Data) != want {
		return fmt.Errorf("tensor %q: %d bytes of data, want %d for %s %v", t.Name, len(t.Data), want, t.DType, t.Shape)
	}
	return nil
}

func checkLen(name string, shape []int, n int) error {
	want, err := numElements(shape)
	if err != nil {
		return fmt.Errorf("tensor %q: %w", name, err)
	}
	if want != n {
		return fmt.Errorf("tensor %q: %d values do not fill shape %v (%d elements): %w", name, n, shape, want, ErrShape)
	}
	return nil
}

// NewFloat32 returns an F32 tensor holding a copy of v with the given shape.
func NewFloat32(name string, shape []int, v []float32) (Tensor, error) {
	if err := checkLen(name, shape, len(v)); err != nil {
		return Tensor{}, err
	}
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return newTensor(name, F32, shape, b)
}

// NewFloat64 returns an F64 tensor holding a copy of v with the given shape.
func NewFloat64(name string, shape []int, v []float64) (Tensor, error) {
	if err := checkLen(name, shape, len(v)); err != nil {
		return Tensor{}, err
	}
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
	}
	return newTensor(name, F64, shape, b)
}

// NewInt64 returns an I64 tensor holding a copy of v with the given shape.
func NewInt64(name string, shape []int, v []int64) (Tensor, error) {
	if err := checkLen(name, shape, len(v)); err != nil {
		return Tensor{}, err
	}
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(x))
	}
	return newTensor(name, I64, shape, b)
}

// NewInt32 returns an I32 tensor holding a copy of v with the given shape.
func NewInt32(name string, shape []int, v []int32) (Tensor, error) {
	if err := checkLen(name, shape, len(v)); err != nil {
		return Tensor{}, err
	}
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
	}
	return newTensor(name, I32, shape, b)
}

// NewUint8 returns a U8 tensor holding a copy of v with the given shape.
func NewUint8(name string, shape []int, v []uint8) (Tensor, error) {
	if err := checkLen(name, shape, len(v)); err != nil {
		return Tensor{}, err
	}
	return newTensor(name, U8, shape, slices.Clone(v))
}

func newTensor(name string, d DType, shape []int, b []byte) (Tensor, error) {
	if shape == nil {
		shape = []int{}
	}
	t := Tensor{Name: name, DType: d, Shape: slices.Clone(shape), Data: b}
	if err := t.Validate(); err != nil {
		return Tensor{}, err
	}
	return t, nil
}

// Float32 returns the elements as float32. F32, F16 and BF16 convert exactly; F64 is rounded to
// the nearest float32. Other dtypes give an error wrapping [ErrDType].
func (t Tensor) Float32() ([]float32, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	n := t.NumElements()
	out := make([]float32, n)
	b := t.Data
	switch t.DType {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case F64:
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		}
	case F16:
		for i := range out {
			out[i] = halfToFloat32(binary.LittleEndian.Uint16(b[2*i:]))
		}
	case BF16:
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
		}
	default:
		return nil, fmt.Errorf("tensor %q has dtype %s, want a floating-point type: %w", t.Name, t.DType, ErrDType)
	}
	return out, nil
}

// Float64 returns the elements as float64. All floating-point dtypes except the F8 types
// convert exactly; other dtypes give an error wrapping [ErrDType].
func (t Tensor) Float64() ([]float64, error) {
	if t.DType == F64 {
		if err := t.Validate(); err != nil {
			return nil, err
		}
		out := make([]float64, t.NumElements())
		for i := range out {
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(t.Data[8*i:]))
		}
		return out, nil
	}
	f, err := t.Float32()
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(f))
	for i, x := range f {
		out[i] = float64(x)
	}
	return out, nil
}

// Int64 returns the elements as int64. All integer dtypes and BOOL (0 or 1) convert; a U64
// value above math.MaxInt64 is an error. Floating-point dtypes give an error wrapping [ErrDType].
func (t Tensor) Int64() ([]int64, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if !t.DType.isInt() {
		return nil, fmt.Errorf("tensor %q has dtype %s, want an integer type: %w", t.Name, t.DType, ErrDType)
	}
	n := t.NumElements()
	out := make([]int64, n)
	b := t.Data
	le := binary.LittleEndian
	for i := range out {
		switch t.DType {
		case Bool:
			if b[i] != 0 {
				out[i] = 1
			}
		case U8:
			out[i] = int64(b[i])
		case I8:
			out[i] = int64(int8(b[i]))
		case I16:
			out[i] = int64(int16(le.Uint16(b[2*i:])))
		case U16:
			out[i] = int64(le.Uint16(b[2*i:]))
		case I32:
			out[i] = int64(int32(le.Uint32(b[4*i:])))
		case U32:
			out[i] = int64(le.Uint32(b[4*i:]))
		case I64:
			out[i] = int64(le.Uint64(b[8*i:]))
		case U64:
			u := le.Uint64(b[8*i:])
			if u > math.MaxInt64 {
				return nil, fmt.Errorf("tensor %q: element %d (%d) does not fit in int64", t.Name, i, u)
			}
			out[i] = int64(u)
		}
	}
	return out, nil
}

// halfToFloat32 converts an IEEE 754 binary16 value to float32 exactly.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0: // signed zero
		return math.Float32frombits(sign)
	default: // subnormal: mant * 2^-24
		f := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	}
}
