package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"unsafe"

	"github.com/arp-robustness/arp/limits"
	"github.com/arp-robustness/arp/onnx/pb"
	"github.com/arp-robustness/arp/tensor"
	"google.golang.org/protobuf/proto"
)

// ONNX element types (TensorProto.DataType) that arp reads.
const (
	typeFloat    = int32(pb.TensorProto_FLOAT)
	typeUint8    = int32(pb.TensorProto_UINT8)
	typeInt8     = int32(pb.TensorProto_INT8)
	typeUint16   = int32(pb.TensorProto_UINT16)
	typeInt16    = int32(pb.TensorProto_INT16)
	typeInt32    = int32(pb.TensorProto_INT32)
	typeInt64    = int32(pb.TensorProto_INT64)
	typeString   = int32(pb.TensorProto_STRING)
	typeBool     = int32(pb.TensorProto_BOOL)
	typeFloat16  = int32(pb.TensorProto_FLOAT16)
	typeDouble   = int32(pb.TensorProto_DOUBLE)
	typeUint32   = int32(pb.TensorProto_UINT32)
	typeUint64   = int32(pb.TensorProto_UINT64)
	typeBfloat16 = int32(pb.TensorProto_BFLOAT16)
)

// MinOpset and MaxOpset bound the versions of the default ONNX operator set
// that arp imports (tested against PyTorch exports at 11, 13 and 17).
const (
	MinOpset = 7
	MaxOpset = 21
)

// maxElems bounds the number of elements of any tensor arp creates from
// sizes found in a file (initialisers are bounded by the file's size).
// Tests lower it.
var maxElems = 1 << 30

// Model is a decoded ONNX file: its graph's nodes in file order with their
// constant tensors, inputs and outputs. Import turns it into a Graph that
// can run.
type Model struct {
	Path      string // file name used in error messages ("" when decoded from memory)
	IRVersion int64
	Opset     int64            // version of the default operator set ("" / "ai.onnx")
	Opsets    map[string]int64 // all imported operator sets by domain
	Producer  string           // producer name and version
	GraphName string
	Doc       string
	Nodes     []*Node
	Inits     map[string]*Const // initialisers by name
	Inputs    []ValueInfo       // graph inputs that are not initialisers
	Outputs   []ValueInfo
	Props     map[string]string // metadata_props
}

// ValueInfo is a typed graph input or output.
type ValueInfo struct {
	Name     string
	ElemType int32 // ONNX element type (1 = float32)
	// Shape lists the dimensions; a dimension that is symbolic or unknown is
	// -1 (with its name in DimNames). Shape is nil when the rank is unknown.
	Shape    []int
	DimNames []string
}

// Node is one operator application.
type Node struct {
	Name, Op, Domain string
	Inputs, Outputs  []string // "" for an omitted optional input or output
	Attrs            map[string]*Attr
	Index            int // position in the file
}

// Attr is a node attribute; Type says which field is set.
type Attr struct {
	Name    string
	Type    pb.AttributeProto_AttributeType
	F       float32
	I       int64
	S       string
	T       *Const
	Floats  []float32
	Ints    []int64
	Strings []string
}

// Const is a constant tensor: an initialiser, a Constant node's value or a
// value computed from constants at import. Floating-point tensors hold F,
// integer and boolean tensors I.
type Const struct {
	Name  string
	DType int32 // ONNX element type
	Shape []int
	F     []float32
	I     []int64
}

// IsFloat reports whether c holds floating-point values.
func (c *Const) IsFloat() bool { return isFloatType(c.DType) }

func isFloatType(t int32) bool {
	return t == typeFloat || t == typeDouble || t == typeFloat16 || t == typeBfloat16
}

// typeName names an ONNX element type.
func typeName(t int32) string {
	if s, ok := pb.TensorProto_DataType_name[t]; ok {
		return s
	}
	return "type " + strconv.Itoa(int(t))
}

// where names a node in messages.
func (n *Node) where() string {
	if n.Name != "" {
		return fmt.Sprintf("node %q (%s)", n.Name, n.Op)
	}
	return fmt.Sprintf("node %d (%s)", n.Index, n.Op)
}

// ReadFile reads and decodes an ONNX file. Tensors stored as external data
// are read from files next to it.
func ReadFile(path string) (*Model, error) {
	b, err := limits.ReadFile(path, limits.FitsMemory)
	if err != nil {
		return nil, err
	}
	return decode(b, path, filepath.Dir(path))
}

// Decode decodes an ONNX model held in memory (external tensor data is not
// available this way).
func Decode(b []byte) (*Model, error) { return decode(b, "", "") }

func decode(b []byte, path, dir string) (*Model, error) {
	where := path
	if where == "" {
		where = "onnx model"
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("%s: empty file", where)
	}
	var mp pb.ModelProto
	if err := (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, &mp); err != nil {
		return nil, fmt.Errorf("%s: not a valid ONNX file (truncated or corrupt protobuf): %v", where, err)
	}
	m, err := fromProto(&mp, path, dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return m, nil
}

func fromProto(mp *pb.ModelProto, path, dir string) (*Model, error) {
	g := mp.GetGraph()
	if g == nil {
		return nil, errors.New("no graph (not an ONNX model file)")
	}
	m := &Model{Path: path, IRVersion: mp.GetIrVersion(), Opsets: map[string]int64{},
		Producer:  strings.TrimSpace(mp.GetProducerName() + " " + mp.GetProducerVersion()),
		GraphName: g.GetName(), Doc: mp.GetDocString(),
		Inits: map[string]*Const{}, Props: map[string]string{}}
	for _, o := range mp.GetOpsetImport() {
		d := o.GetDomain()
		if d == "ai.onnx" {
			d = ""
		}
		m.Opsets[d] = o.GetVersion()
	}
	v, ok := m.Opsets[""]
	if !ok {
		return nil, errors.New("no opset_import for the default ONNX domain")
	}
	if v < MinOpset || v > MaxOpset {
		return nil, fmt.Errorf("opset %d is not supported (arp imports opsets %d to %d)", v, MinOpset, MaxOpset)
	}
	m.Opset = v
	for _, p := range mp.GetMetadataProps() {
		m.Props[p.GetKey()] = p.GetValue()
	}
	for i, t := range g.GetInitializer() {
		c, err := tensorFromProto(t, dir)
		if err != nil {
			return nil, fmt.Errorf("initialiser %d %q: %w", i, t.GetName(), err)
		}
		if c.Name == "" {
			return nil, fmt.Errorf("initialiser %d has no name", i)
		}
		if i, v := tensor.NonFinite32(c.F); i >= 0 {
			return nil, fmt.Errorf("initialiser %q holds %v at element %d: non-finite weights are refused", c.Name, v, i)
		}
		if _, dup := m.Inits[c.Name]; dup {
			return nil, fmt.Errorf("initialiser %q appears twice", c.Name)
		}
		m.Inits[c.Name] = c
	}
	for _, vi := range g.GetInput() {
		if _, isInit := m.Inits[vi.GetName()]; isInit {
			continue // IR < 4 lists initialisers as inputs too
		}
		m.Inputs = append(m.Inputs, valueInfo(vi))
	}
	for _, vi := range g.GetOutput() {
		m.Outputs = append(m.Outputs, valueInfo(vi))
	}
	if len(m.Outputs) == 0 {
		return nil, errors.New("graph has no outputs")
	}
	for i, np := range g.GetNode() {
		n := &Node{Name: np.GetName(), Op: np.GetOpType(), Domain: np.GetDomain(),
			Inputs: np.GetInput(), Outputs: np.GetOutput(), Attrs: map[string]*Attr{}, Index: i}
		if n.Domain == "ai.onnx" {
			n.Domain = ""
		}
		if n.Op == "" {
			return nil, fmt.Errorf("node %d %q has no op_type", i, n.Name)
		}
		for _, ap := range np.GetAttribute() {
			a, err := attrFromProto(ap, dir)
			if err != nil {
				return nil, fmt.Errorf("%s: attribute %q: %w", n.where(), ap.GetName(), err)
			}
			n.Attrs[a.Name] = a
		}
		m.Nodes = append(m.Nodes, n)
	}
	return m, nil
}

func valueInfo(vi *pb.ValueInfoProto) ValueInfo {
	v := ValueInfo{Name: vi.GetName()}
	tt := vi.GetType().GetTensorType()
	if tt == nil {
		return v
	}
	v.ElemType = tt.GetElemType()
	if sh := tt.GetShape(); sh != nil {
		v.Shape = make([]int, len(sh.GetDim()))
		v.DimNames = make([]string, len(sh.GetDim()))
		for i, d := range sh.GetDim() {
			v.Shape[i] = -1
			if x, ok := d.GetValue().(*pb.TensorShapeProto_Dimension_DimValue); ok && x.DimValue > 0 && x.DimValue <= math.MaxInt32 {
				v.Shape[i] = int(x.DimValue)
			}
			v.DimNames[i] = d.GetDimParam()
		}
	}
	return v
}

func attrFromProto(ap *pb.AttributeProto, dir string) (*Attr, error) {
	a := &Attr{Name: ap.GetName(), Type: ap.GetType(), F: ap.GetF(), I: ap.GetI(), S: string(ap.GetS()),
		Floats: ap.GetFloats(), Ints: ap.GetInts()}
	if a.Name == "" {
		return nil, errors.New("attribute without a name")
	}
	for _, s := range ap.GetStrings() {
		a.Strings = append(a.Strings, string(s))
	}
	if ap.GetT() != nil {
		c, err := tensorFromProto(ap.GetT(), dir)
		if err != nil {
			return nil, err
		}
		a.T = c
	}
	if a.Type == pb.AttributeProto_UNDEFINED {
		// Producers before IR 2 left the type out; infer it from the field set.
		switch {
		case ap.T != nil:
			a.Type = pb.AttributeProto_TENSOR
		case len(ap.Floats) > 0:
			a.Type = pb.AttributeProto_FLOATS
		case len(ap.Ints) > 0:
			a.Type = pb.AttributeProto_INTS
		case len(ap.Strings) > 0:
			a.Type = pb.AttributeProto_STRINGS
		case ap.S != nil:
			a.Type = pb.AttributeProto_STRING
		case ap.F != nil:
			a.Type = pb.AttributeProto_FLOAT
		case ap.I != nil:
			a.Type = pb.AttributeProto_INT
		}
	}
	return a, nil
}

// numel multiplies dims, failing on negative dimensions or more than limit
// elements.
func numel(dims []int64, limit int) (int, []int, error) {
	n := 1
	shape := make([]int, len(dims))
	for i, d := range dims {
		if d < 0 {
			return 0, nil, fmt.Errorf("negative dimension in %v", dims)
		}
		if d > int64(limit) || (d > 0 && n > limit/int(d)) {
			return 0, nil, fmt.Errorf("shape %v has more than %d elements", dims, limit)
		}
		n *= int(d)
		shape[i] = int(d)
	}
	return n, shape, nil
}

var elemSize = map[int32]int{typeFloat: 4, typeDouble: 8, typeFloat16: 2, typeBfloat16: 2,
	typeInt64: 8, typeInt32: 4, typeInt16: 2, typeInt8: 1, typeUint8: 1, typeUint16: 2,
	typeUint32: 4, typeUint64: 8, typeBool: 1}

func tensorFromProto(t *pb.TensorProto, dir string) (*Const, error) {
	dt := t.GetDataType()
	size, ok := elemSize[dt]
	if !ok {
		return nil, fmt.Errorf("element type %s is not supported", typeName(dt))
	}
	if t.Segment != nil {
		return nil, errors.New("segmented tensors are not supported")
	}
	raw := t.GetRawData()
	hasRaw := t.RawData != nil
	if t.GetDataLocation() == pb.TensorProto_EXTERNAL {
		b, err := readExternal(t, dir)
		if err != nil {
			return nil, err
		}
		raw, hasRaw = b, true
	}
	// The shape is checked against the data present before anything is
	// allocated, so a corrupt shape cannot make arp allocate more than the
	// file holds.
	avail := len(raw) / size
	switch {
	case hasRaw:
	case dt == typeFloat:
		avail = len(t.GetFloatData())
	case dt == typeDouble:
		avail = len(t.GetDoubleData())
	case dt == typeInt64:
		avail = len(t.GetInt64Data())
	case dt == typeUint32 || dt == typeUint64:
		avail = len(t.GetUint64Data())
	default:
		avail = len(t.GetInt32Data())
	}
	n, shape, err := numel(t.GetDims(), maxElems)
	if err != nil {
		return nil, err
	}
	c := &Const{Name: t.GetName(), DType: dt, Shape: shape}
	if hasRaw {
		if len(raw) != n*size {
			return nil, fmt.Errorf("raw_data has %d bytes, shape %v of %s needs %d", len(raw), shape, typeName(dt), n*size)
		}
		if dt == typeFloat {
			if f, ok := float32View(raw, n); ok {
				c.F = f // the common case: no second copy of the weights
				return c, nil
			}
		}
		if isFloatType(dt) {
			c.F = make([]float32, n)
		} else {
			c.I = make([]int64, n)
		}
		le := binary.LittleEndian
		for i := 0; i < n; i++ {
			p := raw[i*size:]
			switch dt {
			case typeFloat:
				c.F[i] = math.Float32frombits(le.Uint32(p))
			case typeDouble:
				c.F[i] = float32(math.Float64frombits(le.Uint64(p)))
			case typeFloat16:
				c.F[i] = halfToFloat(le.Uint16(p))
			case typeBfloat16:
				c.F[i] = math.Float32frombits(uint32(le.Uint16(p)) << 16)
			case typeInt64, typeUint64:
				c.I[i] = int64(le.Uint64(p))
			case typeInt32:
				c.I[i] = int64(int32(le.Uint32(p)))
			case typeUint32:
				c.I[i] = int64(le.Uint32(p))
			case typeInt16:
				c.I[i] = int64(int16(le.Uint16(p)))
			case typeUint16:
				c.I[i] = int64(le.Uint16(p))
			case typeInt8:
				c.I[i] = int64(int8(p[0]))
			case typeUint8:
				c.I[i] = int64(p[0])
			case typeBool:
				if p[0] != 0 {
					c.I[i] = 1
				}
			}
		}
		return c, nil
	}
	if n != avail {
		return nil, fmt.Errorf("shape %v needs %d values, the tensor holds %d", shape, n, avail)
	}
	switch dt {
	case typeFloat:
		c.F = append([]float32(nil), t.GetFloatData()...)
	case typeDouble:
		c.F = make([]float32, n)
		for i, v := range t.GetDoubleData() {
			c.F[i] = float32(v)
		}
	case typeFloat16, typeBfloat16:
		c.F = make([]float32, n)
		for i, v := range t.GetInt32Data() {
			if dt == typeFloat16 {
				c.F[i] = halfToFloat(uint16(v))
			} else {
				c.F[i] = math.Float32frombits(uint32(uint16(v)) << 16)
			}
		}
	case typeInt64:
		c.I = append([]int64(nil), t.GetInt64Data()...)
	case typeUint32, typeUint64:
		c.I = make([]int64, n)
		for i, v := range t.GetUint64Data() {
			c.I[i] = int64(v)
		}
	default:
		c.I = make([]int64, n)
		for i, v := range t.GetInt32Data() {
			c.I[i] = int64(v)
			if dt == typeBool && v != 0 {
				c.I[i] = 1
			}
		}
	}
	return c, nil
}

// readExternal reads a tensor's bytes from the file named by its
// external_data "location" (relative to the model's directory, which it may
// not leave), at "offset" for "length" bytes.
func readExternal(t *pb.TensorProto, dir string) ([]byte, error) {
	if dir == "" {
		return nil, errors.New("external tensor data needs the model's file (use ReadFile)")
	}
	kv := map[string]string{}
	for _, e := range t.GetExternalData() {
		kv[e.GetKey()] = e.GetValue()
	}
	loc := kv["location"]
	if loc == "" || filepath.IsAbs(loc) || !filepath.IsLocal(loc) {
		return nil, fmt.Errorf("external data location %q must be a file name relative to the model's directory", loc)
	}
	var off, length int64 = 0, -1
	var err error
	if s, ok := kv["offset"]; ok {
		if off, err = strconv.ParseInt(s, 10, 64); err != nil || off < 0 {
			return nil, fmt.Errorf("external data offset %q", s)
		}
	}
	if s, ok := kv["length"]; ok {
		if length, err = strconv.ParseInt(s, 10, 64); err != nil || length < 0 {
			return nil, fmt.Errorf("external data length %q", s)
		}
	}
	f, _, err := limits.Open(filepath.Join(dir, loc), limits.FitsMemory)
	if err != nil {
		return nil, fmt.Errorf("external data: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if length < 0 {
		length = st.Size() - off
	}
	if off > st.Size() || length > st.Size()-off {
		return nil, fmt.Errorf("external data %s: offset %d + length %d beyond its %d bytes", loc, off, length, st.Size())
	}
	b := make([]byte, length)
	if _, err := f.ReadAt(b, off); err != nil && !(errors.Is(err, io.EOF) && length == 0) {
		return nil, fmt.Errorf("external data %s: %w", loc, err)
	}
	return b, nil
}

// halfToFloat converts IEEE 754 binary16 bits to float32.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := int32(h>>10) & 0x1f
	frac := uint32(h & 0x3ff)
	switch {
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal
		v := float32(frac) / 1024 / 16384
		if sign != 0 {
			v = -v
		}
		return v
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	}
	return math.Float32frombits(sign | uint32(exp-15+127)<<23 | frac<<13)
}

// float32View returns raw FLOAT data as n float32 values sharing its
// memory, when this machine is little-endian (as ONNX stores them) and the
// data is 4-byte aligned (protobuf gives every bytes field an allocation
// of its own). The values must not be modified afterwards.
func float32View(raw []byte, n int) ([]float32, bool) {
	if n == 0 || len(raw) != 4*n || binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		return nil, false
	}
	p := unsafe.Pointer(unsafe.SliceData(raw))
	if uintptr(p)%4 != 0 {
		return nil, false
	}
	return unsafe.Slice((*float32)(p), n), true
}
