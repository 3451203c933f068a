package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func mustT(t *testing.T) func(Tensor, error) Tensor {
	return func(x Tensor, err error) Tensor {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
}

func sampleTensors(t *testing.T) []Tensor {
	must := mustT(t)
	return []Tensor{
		must(NewFloat32("conv1.weight", []int{2, 1, 2, 2}, []float32{1, -2, 3.5, 0, float32(math.Inf(1)), float32(math.Copysign(0, -1)), 1e-30, 7})),
		must(NewFloat64("bn.running_var", []int{3}, []float64{1, 2, math.Pi})),
		must(NewInt64("step", []int{}, []int64{-42})),
		must(NewInt32("labels", []int{2, 2}, []int32{1, -1, math.MaxInt32, math.MinInt32})),
		must(NewUint8("mask", []int{3}, []uint8{0, 1, 255})),
		must(NewFloat32("empty", []int{0, 4}, nil)),
		{Name: "raw_half", DType: F16, Shape: []int{2}, Data: []byte{0x00, 0x3c, 0x00, 0xc0}}, // 1, -2
	}
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	ts := sampleTensors(t)
	meta := map[string]string{"arch": "cifarnet", "seed": "7", "unicode": "é ✓ \"quoted\" <tag>"}
	if err := Write(path, ts, meta); err != nil {
		t.Fatal(err)
	}
	f, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Path != path {
		t.Errorf("Path = %q, want %q", f.Path, path)
	}
	if !maps_equal(f.Metadata, meta) {
		t.Errorf("metadata = %v, want %v", f.Metadata, meta)
	}
	if f.Len() != len(ts) {
		t.Fatalf("Len = %d, want %d", f.Len(), len(ts))
	}
	for _, want := range ts {
		got, ok := f.Tensor(want.Name)
		if !ok {
			t.Fatalf("tensor %q missing", want.Name)
		}
		if got.DType != want.DType || !slices.Equal(got.Shape, want.Shape) || !bytes.Equal(got.Data, want.Data) {
			t.Errorf("tensor %q: got %s %v %x, want %s %v %x", want.Name, got.DType, got.Shape, got.Data, want.DType, want.Shape, want.Data)
		}
	}
	w, err := f.Float32("conv1.weight", []int{2, 1, 2, 2})
	if err != nil {
		t.Fatal(err)
	}
	if w[0] != 1 || w[2] != 3.5 || !math.IsInf(float64(w[4]), 1) || math.Float32bits(w[5]) != 0x80000000 {
		t.Errorf("conv1.weight = %v", w)
	}
	v, err := f.Float64("bn.running_var", []int{3})
	if err != nil || v[2] != math.Pi {
		t.Errorf("bn.running_var = %v, %v", v, err)
	}
	i, err := f.Int64("labels", nil)
	if err != nil || !slices.Equal(i, []int64{1, -1, math.MaxInt32, math.MinInt32}) {
		t.Errorf("labels = %v, %v", i, err)
	}
	s, err := f.Int64("step", []int{})
	if err != nil || !slices.Equal(s, []int64{-42}) {
		t.Errorf("step = %v, %v", s, err)
	}
	h, err := f.Float32("raw_half", nil)
	if err != nil || !slices.Equal(h, []float32{1, -2}) {
		t.Errorf("raw_half = %v, %v", h, err)
	}

	// Writing what was read gives identical bytes, as does writing the input in another order.
	first, _ := os.ReadFile(path)
	if err := Write(path, f.Tensors(), f.Metadata); err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(path)
	rev := slices.Clone(ts)
	slices.Reverse(rev)
	var third bytes.Buffer
	if err := Encode(&third, rev, meta); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) || !bytes.Equal(first, third.Bytes()) {
		t.Error("writing the same tensors twice gave different bytes")
	}
	// The data section starts at a multiple of 8 and every tensor is aligned to its size.
	n := binary.LittleEndian.Uint64(first)
	if (8+n)%8 != 0 {
		t.Errorf("data starts at %d, not a multiple of 8", 8+n)
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(first[8:8+n], &hdr); err != nil {
		t.Fatalf("header is not plain JSON: %v", err)
	}
	for _, tt := range ts {
		var e struct {
			DataOffsets [2]int `json:"data_offsets"`
		}
		if err := json.Unmarshal(hdr[tt.Name], &e); err != nil {
			t.Fatal(err)
		}
		if e.DataOffsets[0]%tt.DType.Size() != 0 {
			t.Errorf("tensor %q at offset %d is not aligned to %d", tt.Name, e.DataOffsets[0], tt.DType.Size())
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v, %v; want 0644", fi.Mode(), err)
	}
}

func maps_equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// header builds a file from a header string and data, per the format: an 8-byte little-endian
// length, the header, the data.
func header(h string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	b = append(b, h...)
	return append(b, data...)
}

// TestSpecBytes parses files built by hand from the format description, in the form the
// reference implementation writes them.
func TestSpecBytes(t *testing.T) {
	// {"test": I32 [2,2]} with metadata, padded with spaces to a multiple of 8.
	h := `{"__metadata__":{"format":"pt"},"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}`
	h += strings.Repeat(" ", (8-len(h)%8)%8)
	data := []byte{1, 0, 0, 0, 2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0x80}
	f, err := Decode(header(h, data), "spec")
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.Int64("test", []int{2, 2})
	if err != nil || !slices.Equal(got, []int64{1, 2, -1, math.MinInt32}) {
		t.Errorf("test = %v, %v", got, err)
	}
	if f.Metadata["format"] != "pt" {
		t.Errorf("metadata = %v", f.Metadata)
	}

	// No metadata, no padding, keys in any order, whitespace in the JSON, two tensors
	// listed out of data order, a scalar and a zero-size tensor.
	h = "{ \"b\" : {\"shape\": [], \"data_offsets\": [4, 12], \"dtype\": \"F64\"},\n" +
		"\"a\": {\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}, \"z\": {\"dtype\":\"F32\",\"shape\":[3,0],\"data_offsets\":[12,12]}}"
	data = binary.LittleEndian.AppendUint32(nil, math.Float32bits(0.5))
	data = binary.LittleEndian.AppendUint64(data, math.Float64bits(-1.25))
	f, err = Decode(header(h, data), "spec2")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := f.Float32("a", []int{1})
	b, _ := f.Float64("b", []int{})
	z, err := f.Float32("z", []int{3, 0})
	if !slices.Equal(a, []float32{0.5}) || !slices.Equal(b, []float64{-1.25}) || len(z) != 0 || err != nil {
		t.Errorf("a=%v b=%v z=%v err=%v", a, b, z, err)
	}
	if len(f.Metadata) != 0 || f.Metadata == nil {
		t.Errorf("metadata = %#v, want empty map", f.Metadata)
	}

	// An empty file: header {} and no data; metadata may be null.
	for _, h := range []string{"{}", `{"__metadata__":null}      `} {
		f, err = Decode(header(h, nil), "empty")
		if err != nil || f.Len() != 0 {
			t.Errorf("%q: %v, %d tensors", h, err, f.Len())
		}
	}
}

// TestGolden pins the exact bytes Write produces for a small input.
func TestGolden(t *testing.T) {
	must := mustT(t)
	ts := []Tensor{
		must(NewUint8("b", []int{2}, []uint8{7, 8})),
		must(NewFloat32("a", []int{1}, []float32{1})),
	}
	var buf bytes.Buffer
	if err := Encode(&buf, ts, map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	h := `{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]}}`
	h += strings.Repeat(" ", (8-len(h)%8)%8)
	want := header(h, []byte{0, 0, 0x80, 0x3f, 7, 8})
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("got\n%q\nwant\n%q", buf.Bytes(), want)
	}
}

// TestTorchFixture reads a file whose values and raw bytes PyTorch produced (see
// testdata/make_fixture.py) and compares with PyTorch's own float32 conversion.
func TestTorchFixture(t *testing.T) {
	f, err := Read(filepath.Join("testdata", "torch_fixture.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join("testdata", "torch_fixture.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]struct {
		DType       DType    `json:"dtype"`
		Shape       []int    `json:"shape"`
		Float32Bits []uint32 `json:"float32_bits"`
		Int64       []int64  `json:"int64"`
	}
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if f.Len() != len(want) || f.Metadata["format"] != "pt" {
		t.Fatalf("%d tensors, metadata %v; want %d tensors", f.Len(), f.Metadata, len(want))
	}
	for name, w := range want {
		tt, ok := f.Tensor(name)
		if !ok {
			t.Fatalf("tensor %q missing", name)
		}
		if tt.DType != w.DType {
			t.Errorf("%s: dtype %s, want %s", name, tt.DType, w.DType)
		}
		if w.DType.isFloat() {
			got, err := f.Float32(name, w.Shape)
			if err != nil {
				t.Fatal(err)
			}
			for i, g := range got {
				if math.Float32bits(g) != w.Float32Bits[i] {
					t.Errorf("%s[%d] = %v (%#x), PyTorch says %v (%#x)", name, i, g, math.Float32bits(g),
						math.Float32frombits(w.Float32Bits[i]), w.Float32Bits[i])
				}
			}
		} else {
			got, err := f.Int64(name, w.Shape)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, w.Int64) {
				t.Errorf("%s = %v, want %v", name, got, w.Int64)
			}
		}
	}
	// Re-writing the fixture keeps every value.
	path := filepath.Join(t.TempDir(), "copy.safetensors")
	if err := Write(path, f.Tensors(), f.Metadata); err != nil {
		t.Fatal(err)
	}
	g, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range f.Tensors() {
		u, _ := g.Tensor(tt.Name)
		if !bytes.Equal(u.Data, tt.Data) || !slices.Equal(u.Shape, tt.Shape) || u.DType != tt.DType {
			t.Errorf("%s changed on re-write", tt.Name)
		}
	}
}

func TestHalfToFloat32(t *testing.T) {
	tests := []struct {
		h    uint16
		want float32
	}{
		{0x0000, 0},
		{0x3c00, 1},
		{0xc000, -2},
		{0x7bff, 65504},
		{0x0400, float32(math.Ldexp(1, -14))}, // smallest normal
		{0x0001, float32(math.Ldexp(1, -24))}, // smallest subnormal
		{0x03ff, float32(math.Ldexp(1023, -24))},
		{0x8001, -float32(math.Ldexp(1, -24))},
		{0x3555, 0.333251953125},
		{0x7c00, float32(math.Inf(1))},
		{0xfc00, float32(math.Inf(-1))},
	}
	for _, tc := range tests {
		if got := halfToFloat32(tc.h); got != tc.want {
			t.Errorf("halfToFloat32(%#04x) = %v, want %v", tc.h, got, tc.want)
		}
	}
	if got := halfToFloat32(0x8000); math.Float32bits(got) != 0x80000000 {
		t.Errorf("negative zero: got %v", got)
	}
	if got := halfToFloat32(0x7e00); !math.IsNaN(float64(got)) {
		t.Errorf("NaN: got %v", got)
	}
}

// validFile returns the bytes of a small valid file.
func validFile(t testing.TB) []byte {
	var buf bytes.Buffer
	a, _ := NewFloat32("a", []int{2, 2}, []float32{1, 2, 3, 4})
	b, _ := NewInt64("b", []int{1}, []int64{9})
	if err := Encode(&buf, []Tensor{a, b}, map[string]string{"m": "x"}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCorrupt(t *testing.T) {
	f32 := func(name string, begin, end int, shape string) string {
		return fmt.Sprintf(`%q:{"dtype":"F32","shape":%s,"data_offsets":[%d,%d]}`, name, shape, begin, end)
	}
	d8 := make([]byte, 8)
	tests := []struct {
		name string
		file []byte
		want string // substring of the error
	}{
		{"empty file", nil, "too short"},
		{"short file", []byte{1, 2, 3}, "too short"},
		{"huge header length", binary.LittleEndian.AppendUint64(nil, 1<<40), "exceeds the limit"},
		{"header past end", append(binary.LittleEndian.AppendUint64(nil, 100), "{}"...), "exceeds the 2 bytes"},
		{"zero header length", header("", nil), "does not start with '{'"},
		{"not an object", header(`["a"]`, nil), "does not start with '{'"},
		{"invalid JSON", header(`{"a":`, nil), "invalid header JSON"},
		{"trailing garbage", header(`{}x`, nil), "after the JSON object"},
		{"two objects", header(`{}{}`, nil), "after the JSON object"},
		{"invalid UTF-8", header("{\"\xff\":1}", nil), "not valid UTF-8"},
		{"duplicate tensor", header("{"+f32("a", 0, 4, "[1]")+","+f32("a", 4, 8, "[1]")+"}", d8), `duplicate key "a"`},
		{"duplicate field", header(`{"a":{"dtype":"F32","dtype":"F64","shape":[1],"data_offsets":[0,4]}}`, d8[:4]), `duplicate key "dtype"`},
		{"deep nesting", header(`{"a":`+strings.Repeat("[", 100)+strings.Repeat("]", 100)+`}`, nil), "nested more than"},
		{"unknown dtype", header(`{"a":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}`, make([]byte, 16)), `unknown dtype "F128"`},
		{"lowercase dtype", header(`{"a":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}`, d8[:4]), `unknown dtype "f32"`},
		{"missing dtype", header(`{"a":{"shape":[1],"data_offsets":[0,4]}}`, d8[:4]), "missing dtype"},
		{"missing shape", header(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, d8[:4]), "missing shape"},
		{"missing offsets", header(`{"a":{"dtype":"F32","shape":[1]}}`, d8[:4]), "missing data_offsets"},
		{"three offsets", header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, d8[:4]), "3 values"},
		{"unknown field", header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}`, d8[:4]), `unknown field "x"`},
		{"field case", header(`{"a":{"DType":"F32","shape":[1],"data_offsets":[0,4]}}`, d8[:4]), `unknown field "DType"`},
		{"null dtype", header(`{"a":{"dtype":null,"shape":[1],"data_offsets":[0,4]}}`, d8[:4]), "missing dtype"},
		{"offsets not array", header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":"0,4"}}`, d8[:4]), "invalid data_offsets"},
		{"entry not object", header(`{"a":[1,2]}`, nil), "not an object"},
		{"entry null", header(`{"a":null}`, nil), "not an object"},
		{"empty name", header("{"+f32("", 0, 4, "[1]")+"}", d8[:4]), "empty tensor name"},
		{"negative dim", header("{"+f32("a", 0, 4, "[-1]")+"}", d8[:4]), "invalid dimension -1"},
		{"fractional dim", header("{"+f32("a", 0, 4, "[1.5]")+"}", d8[:4]), `tensor "a": invalid shape [1.5]`},
		{"dtype not string", header(`{"a":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}`, d8[:4]), `tensor "a": invalid dtype 4`},
		{"negative offset", header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, nil), `tensor "a": invalid data_offsets [-4,0]`},
		{"huge shape", header("{"+f32("a", 0, 4, "[4294967296,4294967296,4294967296]")+"}", d8[:4]), "too large"},
		{"reversed offsets", header("{"+f32("a", 4, 0, "[1]")+"}", d8[:4]), "end before they begin"},
		{"size mismatch", header("{"+f32("a", 0, 8, "[1]")+"}", d8), "needs 4 bytes but data_offsets [0, 8] span 8"},
		{"out of range", header("{"+f32("a", 0, 8, "[2]")+"}", d8[:4]), "run past the end of the 4-byte data section"},
		{"gap", header("{"+f32("a", 0, 4, "[1]")+","+f32("b", 8, 12, "[1]")+"}", make([]byte, 12)), "gap of 4 bytes"},
		{"overlap", header("{"+f32("a", 0, 8, "[2]")+","+f32("b", 4, 8, "[1]")+"}", d8), `overlap tensor "a"`},
		{"not starting at 0", header("{"+f32("a", 4, 8, "[1]")+"}", d8), "gap of 4 bytes after offset 0"},
		{"trailing data", header("{"+f32("a", 0, 4, "[1]")+"}", d8), "4 bytes of data after the last tensor"},
		{"metadata not strings", header(`{"__metadata__":{"a":1}}`, nil), "__metadata__ must be an object of string values"},
		{"metadata array", header(`{"__metadata__":["a"]}`, nil), "__metadata__ must be an object"},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".safetensors")
			if err := os.WriteFile(path, tc.file, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Read(path)
			if err == nil {
				t.Fatal("Read succeeded")
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("error does not wrap ErrCorrupt: %v", err)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name the file and contain %q", err, tc.want)
			}
			// Decode gives the same message.
			if _, err2 := Decode(tc.file, path); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("Decode error %v differs from Read error %v", err2, err)
			}
		})
	}
}

// TestTruncated checks that every proper prefix of a valid file is rejected.
func TestTruncated(t *testing.T) {
	b := validFile(t)
	if _, err := Decode(b, "ok"); err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(b); n++ {
		_, err := Decode(b[:n], "trunc")
		if err == nil || !errors.Is(err, ErrCorrupt) || !strings.HasPrefix(err.Error(), "trunc: ") {
			t.Errorf("prefix of %d bytes: err = %v", n, err)
		}
	}
	// And so is a file with a flipped byte in the length field or any extra byte.
	if _, err := Decode(append(slices.Clone(b), 0), "long"); err == nil {
		t.Error("file with an extra byte accepted")
	}
}

func TestReadFileErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := Read(filepath.Join(dir, "missing.safetensors"))
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "missing.safetensors") {
		t.Errorf("missing file: %v", err)
	}
	_, err = Read(dir)
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("directory: %v", err)
	}
}

func TestLookupErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "model.safetensors")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, sampleTensors(t), nil); err != nil {
		t.Fatal(err)
	}
	f, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		call   func() error
		target error
		want   []string
	}{
		{"shape", func() error { _, err := f.Float32("conv1.weight", []int{2, 1, 3, 3}); return err },
			ErrShape, []string{path, `"conv1.weight"`, "[2 1 2 2]", "want [2 1 3 3]"}},
		{"scalar vs vector", func() error { _, err := f.Int64("step", []int{1}); return err },
			ErrShape, []string{path, `"step"`, "shape [], want [1]"}},
		{"missing", func() error { _, err := f.Float64("fc.bias", nil); return err },
			ErrMissing, []string{path, `"fc.bias"`}},
		{"float from int", func() error { _, err := f.Float32("labels", nil); return err },
			ErrDType, []string{path, `"labels"`, "I32"}},
		{"int from float", func() error { _, err := f.Int64("conv1.weight", nil); return err },
			ErrDType, []string{path, `"conv1.weight"`, "F32"}},
	}
	for _, tc := range tests {
		err := tc.call()
		if !errors.Is(err, tc.target) {
			t.Errorf("%s: error %v does not wrap %v", tc.name, err, tc.target)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tc.name, err, w)
			}
		}
	}
}

func TestPutErrors(t *testing.T) {
	f := New("out.safetensors")
	if err := f.PutFloat32("w", []int{2, 2}, []float32{1, 2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"duplicate", f.PutFloat32("w", []int{1}, []float32{1}), `duplicate tensor name "w"`},
		{"wrong length", f.PutFloat64("x", []int{2, 3}, []float64{1}), "1 values do not fill shape [2 3]"},
		{"negative dim", f.PutInt64("x", []int{-1}, nil), "negative dimension"},
		{"reserved", f.PutFloat32(MetadataKey, []int{1}, []float32{1}), "reserved"},
		{"empty name", f.PutFloat32("", []int{1}, []float32{1}), "empty name"},
		{"bad utf8", f.PutFloat32("\xff", []int{1}, []float32{1}), "not valid UTF-8"},
		{"unknown dtype", f.Put(Tensor{Name: "q", DType: "Q4", Data: []byte{1}}), `unknown dtype "Q4"`},
		{"short data", f.Put(Tensor{Name: "q", DType: F32, Shape: []int{2}, Data: []byte{1}}), "1 bytes of data, want 8"},
	}
	for _, tc := range tests {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) || !strings.Contains(tc.err.Error(), "out.safetensors") {
			t.Errorf("%s: error %v, want one naming the file and containing %q", tc.name, tc.err, tc.want)
		}
	}
	if f.Len() != 1 {
		t.Errorf("failed puts changed the file: %v", f.Names())
	}
	// Write rejects duplicates and invalid tensors too.
	a, _ := NewFloat32("a", []int{1}, []float32{1})
	if err := Encode(io.Discard, []Tensor{a, a}, nil); err == nil || !strings.Contains(err.Error(), "duplicate") {
		t.Errorf("duplicate in Encode: %v", err)
	}
	if err := Encode(io.Discard, []Tensor{a}, map[string]string{"k": "\xff"}); err == nil {
		t.Error("invalid UTF-8 metadata accepted")
	}
}

func TestConversions(t *testing.T) {
	u64 := Tensor{Name: "u", DType: U64, Shape: []int{2}, Data: binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, 5), math.MaxUint64)}
	if _, err := u64.Int64(); err == nil || !strings.Contains(err.Error(), "does not fit") {
		t.Errorf("U64 overflow: %v", err)
	}
	f64, _ := NewFloat64("d", []int{2}, []float64{0.1, 1e300})
	f, err := f64.Float32()
	if err != nil || f[0] != float32(0.1) || !math.IsInf(float64(f[1]), 1) {
		t.Errorf("F64 to float32: %v, %v", f, err)
	}
	bf := Tensor{Name: "bf", DType: BF16, Shape: []int{2}, Data: []byte{0x80, 0x3f, 0x49, 0x40}} // 1, 3.140625
	g, err := bf.Float64()
	if err != nil || !slices.Equal(g, []float64{1, 3.140625}) {
		t.Errorf("BF16: %v, %v", g, err)
	}
	small := []struct {
		d    DType
		data []byte
		want int64
	}{
		{Bool, []byte{2}, 1}, {I8, []byte{0xff}, -1}, {U8, []byte{0xff}, 255},
		{I16, []byte{0xfe, 0xff}, -2}, {U16, []byte{0xfe, 0xff}, 65534},
		{U32, []byte{0xff, 0xff, 0xff, 0xff}, math.MaxUint32},
	}
	for _, tc := range small {
		v, err := Tensor{Name: "x", DType: tc.d, Shape: []int{}, Data: tc.data}.Int64()
		if err != nil || v[0] != tc.want {
			t.Errorf("%s %x: %v, %v; want %d", tc.d, tc.data, v, err, tc.want)
		}
	}
	f8 := Tensor{Name: "f8", DType: F8E4M3, Shape: []int{1}, Data: []byte{1}}
	if _, err := f8.Float32(); !errors.Is(err, ErrDType) {
		t.Errorf("F8 conversion: %v", err)
	}
}
