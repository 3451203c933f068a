package checkpoint

import (
	"fmt"
	"maps"
	"slices"
)

// File is a set of named tensors plus string metadata: the contents of one safetensors file.
// The zero value is not usable; create one with [New] or [Read].
type File struct {
	// Path is the file the tensors were read from; it names the file in error messages.
	Path string
	// Metadata is the header's "__metadata__" map (never nil after New or Read).
	Metadata map[string]string

	tensors map[string]Tensor
}

// New returns an empty File whose errors will name path (which may be empty).
func New(path string) *File {
	return &File{Path: path, Metadata: map[string]string{}, tensors: map[string]Tensor{}}
}

func (f *File) where() string {
	if f.Path == "" {
		return "safetensors"
	}
	return f.Path
}

// Len returns the number of tensors.
func (f *File) Len() int { return len(f.tensors) }

// Names returns the tensor names in sorted order.
func (f *File) Names() []string { return slices.Sorted(maps.Keys(f.tensors)) }

// Tensors returns all tensors sorted by name.
func (f *File) Tensors() []Tensor {
	out := make([]Tensor, 0, len(f.tensors))
	for _, name := range f.Names() {
		out = append(out, f.tensors[name])
	}
	return out
}

// Tensor returns the tensor with the given name.
func (f *File) Tensor(name string) (Tensor, bool) {
	t, ok := f.tensors[name]
	return t, ok
}

// Put adds t. It is an error if t is invalid or a tensor of that name is already present.
func (f *File) Put(t Tensor) error {
	if err := t.Validate(); err != nil {
		return fmt.Errorf("%s: %w", f.where(), err)
	}
	if _, dup := f.tensors[t.Name]; dup {
		return fmt.Errorf("%s: duplicate tensor name %q", f.where(), t.Name)
	}
	f.tensors[t.Name] = t
	return nil
}

// PutFloat32 adds an F32 tensor holding a copy of v; len(v) must match shape.
func (f *File) PutFloat32(name string, shape []int, v []float32) error {
	t, err := NewFloat32(name, shape, v)
	if err != nil {
		return fmt.Errorf("%s: %w", f.where(), err)
	}
	return f.Put(t)
}

// PutFloat64 adds an F64 tensor holding a copy of v; len(v) must match shape.
func (f *File) PutFloat64(name string, shape []int, v []float64) error {
	t, err := NewFloat64(name, shape, v)
	if err != nil {
		return fmt.Errorf("%s: %w", f.where(), err)
	}
	return f.Put(t)
}

// PutInt64 adds an I64 tensor holding a copy of v; len(v) must match shape.
func (f *File) PutInt64(name string, shape []int, v []int64) error {
	t, err := NewInt64(name, shape, v)
	if err != nil {
		return fmt.Errorf("%s: %w", f.where(), err)
	}
	return f.Put(t)
}

// lookup returns the named tensor after checking its shape against want (nil: any shape;
// an empty non-nil slice: a scalar).
func (f *File) lookup(name string, want []int) (Tensor, error) {
	t, ok := f.tensors[name]
	if !ok {
		return Tensor{}, fmt.Errorf("%s: tensor %q: %w (the file has %d tensors)", f.where(), name, ErrMissing, len(f.tensors))
	}
	if want != nil && !slices.Equal(t.Shape, want) {
		return Tensor{}, fmt.Errorf("%s: tensor %q: shape %v, want %v: %w", f.where(), name, t.Shape, want, ErrShape)
	}
	return t, nil
}

// Float32 returns the named tensor's elements as float32 (see [Tensor.Float32]). If shape is
// not nil the tensor must have exactly that shape; errors name the file, the tensor, and the
// expected and actual shapes.
func (f *File) Float32(name string, shape []int) ([]float32, error) {
	t, err := f.lookup(name, shape)
	if err != nil {
		return nil, err
	}
	v, err := t.Float32()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.where(), err)
	}
	return v, nil
}

// Float64 is like [File.Float32] for float64 values (see [Tensor.Float64]).
func (f *File) Float64(name string, shape []int) ([]float64, error) {
	t, err := f.lookup(name, shape)
	if err != nil {
		return nil, err
	}
	v, err := t.Float64()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.where(), err)
	}
	return v, nil
}

// Int64 is like [File.Float32] for int64 values (see [Tensor.Int64]).
func (f *File) Int64(name string, shape []int) ([]int64, error) {
	t, err := f.lookup(name, shape)
	if err != nil {
		return nil, err
	}
	v, err := t.Int64()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.where(), err)
	}
	return v, nil
}

// Save writes the tensors and metadata atomically to f.Path (see [Write]).
func (f *File) Save() error {
	return Write(f.Path, f.Tensors(), f.Metadata)
}
