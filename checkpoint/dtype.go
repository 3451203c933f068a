package checkpoint

import "fmt"

// DType is a safetensors element type, spelled as in the file header ("F32", "I64", ...).
type DType string

// The element types of the safetensors format. All are stored little-endian.
const (
	Bool   DType = "BOOL"
	U8     DType = "U8"
	I8     DType = "I8"
	F8E5M2 DType = "F8_E5M2"
	F8E4M3 DType = "F8_E4M3"
	I16    DType = "I16"
	U16    DType = "U16"
	F16    DType = "F16"
	BF16   DType = "BF16"
	I32    DType = "I32"
	U32    DType = "U32"
	F32    DType = "F32"
	F64    DType = "F64"
	I64    DType = "I64"
	U64    DType = "U64"
)

var dtypeSizes = map[DType]int{
	Bool: 1, U8: 1, I8: 1, F8E5M2: 1, F8E4M3: 1,
	I16: 2, U16: 2, F16: 2, BF16: 2,
	I32: 4, U32: 4, F32: 4,
	F64: 8, I64: 8, U64: 8,
}

// Size returns the size of one element in bytes, or 0 if d is not a known type.
func (d DType) Size() int { return dtypeSizes[d] }

// Valid reports whether d is one of the types above.
func (d DType) Valid() bool { return dtypeSizes[d] != 0 }

func (d DType) isFloat() bool {
	switch d {
	case F16, BF16, F32, F64:
		return true
	}
	return false
}

func (d DType) isInt() bool {
	switch d {
	case Bool, U8, I8, I16, U16, I32, U32, I64, U64:
		return true
	}
	return false
}

func errUnknownDType(d DType) error {
	return fmt.Errorf("unknown dtype %q (known: BOOL, U8, I8, I16, U16, I32, U32, I64, U64, F16, BF16, F32, F64, F8_E5M2, F8_E4M3)", string(d))
}
