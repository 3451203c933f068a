package checkpoint

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the parser. It must never panic; whatever it accepts
// must survive a write/read round trip unchanged, and writing it must be deterministic.
func FuzzDecode(f *testing.F) {
	f.Add(validFile(f))
	if b, err := os.ReadFile(filepath.Join("testdata", "torch_fixture.safetensors")); err == nil {
		f.Add(b)
	}
	f.Add(header("{}", nil))
	f.Add(header(`{"__metadata__":{"a":"b"}}`, nil))
	f.Add(header(`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BOOL","shape":[],"data_offsets":[4,5]}}`, []byte{0, 0x3c, 0, 0x7c, 1}))
	f.Add(header(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"U8","shape":[0,3],"data_offsets":[0,0]}}`, nil))
	f.Add(header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Add(header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{}}`, make([]byte, 4)))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Decode(b, "fuzz")
		if err != nil {
			if file != nil {
				t.Fatal("non-nil File with an error")
			}
			return
		}
		for _, tt := range file.Tensors() {
			if err := tt.Validate(); err != nil {
				t.Fatalf("accepted an invalid tensor: %v", err)
			}
			// Conversions must not panic either.
			tt.Float32()
			tt.Float64()
			tt.Int64()
		}
		var out bytes.Buffer
		if err := Encode(&out, file.Tensors(), file.Metadata); err != nil {
			t.Fatalf("cannot re-encode an accepted file: %v", err)
		}
		again, err := Decode(out.Bytes(), "again")
		if err != nil {
			t.Fatalf("cannot decode own output: %v", err)
		}
		if !slices.Equal(again.Names(), file.Names()) || !maps_equal(again.Metadata, file.Metadata) {
			t.Fatalf("round trip changed names or metadata")
		}
		for _, tt := range file.Tensors() {
			u, _ := again.Tensor(tt.Name)
			if u.DType != tt.DType || !slices.Equal(u.Shape, tt.Shape) || !bytes.Equal(u.Data, tt.Data) {
				t.Fatalf("round trip changed tensor %q", tt.Name)
			}
		}
		var out2 bytes.Buffer
		if err := Encode(&out2, again.Tensors(), again.Metadata); err != nil || !bytes.Equal(out.Bytes(), out2.Bytes()) {
			t.Fatalf("encoding is not deterministic (%v)", err)
		}
	})
}
