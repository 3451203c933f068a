package onnx

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"

	"github.com/arp-robustness/arp/checkpoint"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/onnx/pb"
	"github.com/arp-robustness/arp/tensor"
	"google.golang.org/protobuf/proto"
)

// Export settings.
const (
	DefaultExportOpset = 13
	MinExportOpset     = 11
	MaxExportOpset     = 17
	// ExportInput is the name of the exported graph's input: pixels in
	// [0,1], [N,C,H,W] with a dynamic batch size N.
	ExportInput = "pixels"
)

// ExportOptions tune Export.
type ExportOptions struct {
	// Opset is the ONNX operator set version (MinExportOpset to
	// MaxExportOpset; 0 means DefaultExportOpset).
	Opset int
	// ClassNames are stored in the metadata (optional; one per class).
	ClassNames []string
	// ProducerVersion is recorded as the file's producer_version.
	ProducerVersion string
}

// irVersion is the ONNX IR version that goes with an opset.
func irVersion(opset int) int64 {
	switch {
	case opset <= 11:
		return 6
	case opset <= 14:
		return 7
	default:
		return 8
	}
}

// Export converts an arp model to an ONNX model. The graph takes pixels in
// [0,1] (input ExportInput, [N,C,H,W], N dynamic): the model's own input
// normalisation is the graph's first two nodes (Mul, Add). The output of
// every arp layer is a graph value with the layer's name (conv1, pool2,
// layer3, logits, ...), so the imported graph has arp's layer names. Dropout
// becomes Identity (inference), TensorFlow-style LRN becomes ONNX LRN with
// size 2r+1 and alpha*size, SAME padding becomes explicit pads for the
// model's input size. The returned Meta (also stored in the file's
// metadata_props under MetaProp) describes the input and names the classes
// and the attention layer.
func Export(m *nn.Model, opt ExportOptions) ([]byte, Meta, error) {
	mp, meta, err := exportProto(m, opt)
	if err != nil {
		return nil, Meta{}, err
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(mp)
	if err != nil {
		return nil, Meta{}, err
	}
	return b, meta, nil
}

// ExportFile writes Export's model to path and its metadata to
// MetaPath(path), each atomically.
func ExportFile(path string, m *nn.Model, opt ExportOptions) error {
	b, meta, err := Export(m, opt)
	if err != nil {
		return err
	}
	if err := checkpoint.AtomicWriteFile(path, b, 0o644); err != nil {
		return err
	}
	return WriteMeta(MetaPath(path), meta)
}

// exporter builds the graph layer by layer, tracking the spatial size for
// SAME padding.
type exporter struct {
	g     *pb.GraphProto
	state map[string]*tensor.Tensor
	used  map[string]bool
	cur   string // the current value
	c     int
	h, w  int
	err   error
}

func attrInts(name string, v ...int) *pb.AttributeProto {
	a := &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_INTS.Enum()}
	for _, x := range v {
		a.Ints = append(a.Ints, int64(x))
	}
	return a
}

func attrInt(name string, v int) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_INT.Enum(), I: proto.Int64(int64(v))}
}

func attrFloat(name string, v float64) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_FLOAT.Enum(), F: proto.Float32(float32(v))}
}

func floatTensor(name string, t *tensor.Tensor) *pb.TensorProto {
	v := t.Float32s()
	raw := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(x))
	}
	tp := &pb.TensorProto{Name: proto.String(name), DataType: proto.Int32(typeFloat), RawData: raw}
	for _, d := range t.Shape() {
		tp.Dims = append(tp.Dims, int64(d))
	}
	return tp
}

// param adds the model tensor name as an initialiser.
func (e *exporter) param(name string) string {
	t, ok := e.state[name]
	if !ok {
		if e.err == nil {
			e.err = fmt.Errorf("the model has no tensor %q", name)
		}
		return name
	}
	if !e.used[name] {
		e.used[name] = true
		e.g.Initializer = append(e.g.Initializer, floatTensor(name, t))
	}
	return name
}

// node adds a node named name whose output value is out and makes out the
// current value.
func (e *exporter) node(op, name, out string, inputs []string, attrs ...*pb.AttributeProto) {
	e.g.Node = append(e.g.Node, &pb.NodeProto{OpType: proto.String(op), Name: proto.String(name),
		Input: inputs, Output: []string{out}, Attribute: attrs})
	e.cur = out
}

// pads returns ONNX pads [top, left, bottom, right] for a window on the
// current size and updates the size.
func (e *exporter) window(k, s int, p nn.Padding) []int {
	var t, b, l, r int
	switch p.Mode {
	case "same":
		t, b = tensor.SamePadding(e.h, k, s, 1)
		l, r = tensor.SamePadding(e.w, k, s, 1)
	case "explicit":
		t, b, l, r = p.H, p.H, p.W, p.W
	}
	e.h = tensor.ConvOutSize(e.h, k, s, t, b, 1)
	e.w = tensor.ConvOutSize(e.w, k, s, l, r, 1)
	return []int{t, l, b, r}
}

func (e *exporter) conv(name, out string, k, stride int, p nn.Padding, bias bool) {
	in := []string{e.cur, e.param(name + ".weight")}
	if bias {
		in = append(in, e.param(name+".bias"))
	}
	if t, ok := e.state[name+".weight"]; ok {
		e.c = t.Shape()[0]
	}
	pads := e.window(k, stride, p)
	e.node("Conv", name, out, in, attrInts("kernel_shape", k, k), attrInts("strides", stride, stride),
		attrInts("pads", pads...), attrInts("dilations", 1, 1), attrInt("group", 1))
}

func (e *exporter) bn(name, out string) {
	e.node("BatchNormalization", name, out, []string{e.cur, e.param(name + ".weight"), e.param(name + ".bias"),
		e.param(name + ".running_mean"), e.param(name + ".running_var")}, attrFloat("epsilon", 1e-5))
}

func (e *exporter) relu(name, out string) { e.node("Relu", name, out, []string{e.cur}) }

func (e *exporter) maxPool(name string, k, s int, p nn.Padding) {
	pads := e.window(k, s, p)
	e.node("MaxPool", name, name, []string{e.cur}, attrInts("kernel_shape", k, k), attrInts("strides", s, s), attrInts("pads", pads...))
}

// lrn exports nn.LRN(radius 4, bias 1, alpha 0.001/9, beta 0.75): ONNX
// divides alpha by the window size 2r+1, so the attribute is 0.001 (which
// the importer reads back as the decimal 0.001, see attrReader.float).
func (e *exporter) lrn(name string) {
	const radius, bias, alpha, beta = 4, 1.0, 0.001 / 9, 0.75
	size := 2*radius + 1
	e.node("LRN", name, name, []string{e.cur}, attrInt("size", size), attrFloat("alpha", alpha*float64(size)),
		attrFloat("beta", beta), attrFloat("bias", bias))
}

func (e *exporter) dense(name string) {
	e.node("Gemm", name, name, []string{e.cur, e.param(name + ".weight"), e.param(name + ".bias")},
		attrInt("transB", 1))
}

func (e *exporter) flatten(name string) {
	e.node("Flatten", name, name, []string{e.cur}, attrInt("axis", 1))
}

func (e *exporter) identity(name string) { e.node("Identity", name, name, []string{e.cur}) }

// block exports one ResNet basic block; out names its output value.
func (e *exporter) block(name, out string, stride int) {
	in := e.cur
	inC, h, w := e.c, e.h, e.w
	e.conv(name+".conv1", name+".conv1", 3, stride, nn.Explicit(1, 1), false)
	e.bn(name+".bn1", name+".bn1")
	e.relu(name+".relu1", name+".relu1")
	e.conv(name+".conv2", name+".conv2", 3, 1, nn.Explicit(1, 1), false)
	e.bn(name+".bn2", name+".bn2")
	y := e.cur
	sc := in
	if stride != 1 || inC != e.c {
		oh, ow := e.h, e.w
		e.cur, e.h, e.w = in, h, w
		e.conv(name+".shortcut.0", name+".shortcut.0", 1, stride, nn.Valid, false)
		e.bn(name+".shortcut.1", name+".shortcut.1")
		sc = e.cur
		if e.h != oh || e.w != ow {
			e.err = fmt.Errorf("%s: shortcut size %dx%d differs from %dx%d", name, e.h, e.w, oh, ow)
		}
	}
	e.node("Add", name+".add", name+".add", []string{y, sc})
	e.node("Relu", name, out, []string{e.cur})
}

func exportProto(m *nn.Model, opt ExportOptions) (*pb.ModelProto, Meta, error) {
	spec := m.Spec
	opset := opt.Opset
	if opset == 0 {
		opset = DefaultExportOpset
	}
	if opset < MinExportOpset || opset > MaxExportOpset {
		return nil, Meta{}, fmt.Errorf("export opset %d: arp writes opsets %d to %d", opset, MinExportOpset, MaxExportOpset)
	}
	if err := spec.Validate(); err != nil {
		return nil, Meta{}, err
	}
	if n := len(opt.ClassNames); n != 0 && n != spec.NumClasses {
		return nil, Meta{}, fmt.Errorf("%d class names for %d classes", n, spec.NumClasses)
	}
	for _, p := range m.Params() {
		if i, v := p.Var.Value().NonFinite(); i >= 0 {
			return nil, Meta{}, fmt.Errorf("tensor %q holds %v at element %d: a model with non-finite weights is not exported", p.Name, v, i)
		}
	}
	e := &exporter{g: &pb.GraphProto{Name: proto.String("arp-" + spec.Arch)}, state: m.State(), used: map[string]bool{},
		cur: ExportInput, c: spec.InChannels, h: spec.Height, w: spec.Width}

	// Input normalisation, as nn.Normalize computes it: x*(1/std) + (-mean/std).
	c := spec.InChannels
	sc, sh := tensor.Zeros(tensor.Float32, 1, c, 1, 1), tensor.Zeros(tensor.Float32, 1, c, 1, 1)
	for i := 0; i < c; i++ {
		j := i
		if len(spec.InputMean) == 1 {
			j = 0
		}
		sc.SetFlat(i, 1/spec.InputStd[j])
		sh.SetFlat(i, -spec.InputMean[j]/spec.InputStd[j])
	}
	e.state["input.scale"], e.state["input.shift"] = sc, sh
	e.node("Mul", "input.mul", "input.mul", []string{ExportInput, e.param("input.scale")})
	e.node("Add", "input", "input", []string{e.cur, e.param("input.shift")})

	switch spec.Arch {
	case "cifarnet", "cifarnet-tf":
		pk := 2
		if spec.Arch == "cifarnet-tf" {
			pk = 3
		}
		e.conv("conv1", "conv1", 5, 1, nn.Same, true)
		e.relu("relu1", "relu1")
		e.maxPool("pool1", pk, 2, nn.Same)
		if spec.LRN {
			e.lrn("norm1")
		}
		e.conv("conv2", "conv2", 5, 1, nn.Same, true)
		e.relu("relu2", "relu2")
		if spec.LRN {
			e.lrn("norm2")
		}
		e.maxPool("pool2", pk, 2, nn.Same)
		e.flatten("flatten")
		e.dense("fc3")
		e.relu("relu3", "relu3")
		e.identity("dropout3")
		e.dense("fc4")
		e.relu("relu4", "relu4")
		e.dense("logits")
	case "mnist-cnn", "mnist-small":
		e.conv("conv1", "conv1", 5, 1, nn.Same, true)
		e.relu("relu1", "relu1")
		e.maxPool("pool1", 2, 2, nn.Same)
		e.conv("conv2", "conv2", 5, 1, nn.Same, true)
		e.relu("relu2", "relu2")
		e.maxPool("pool2", 2, 2, nn.Same)
		e.flatten("flatten")
		e.dense("fc1")
		e.relu("relu3", "relu3")
		e.identity("dropout")
		e.dense("logits")
	case "resnet20":
		e.conv("conv1", "conv1", 3, 1, nn.Explicit(1, 1), false)
		e.bn("bn1", "bn1")
		e.relu("relu1", "relu1")
		for stage, width := range []int{16, 32, 64} {
			stride := 1
			if stage > 0 {
				stride = 2
			}
			for b := 0; b < 3; b++ {
				name := fmt.Sprintf("layer%d.%d", stage+1, b)
				out := name
				if b == 2 {
					out = fmt.Sprintf("layer%d", stage+1) // the stage's output
				}
				e.block(name, out, stride)
				stride = 1
				if e.c != width && e.err == nil {
					e.err = fmt.Errorf("%s has %d channels, want %d", name, e.c, width)
				}
			}
		}
		e.node("GlobalAveragePool", "avgpool.pool", "avgpool.pool", []string{e.cur})
		e.flatten("avgpool")
		e.dense("fc")
	default:
		return nil, Meta{}, fmt.Errorf("export does not know architecture %q", spec.Arch)
	}
	if e.err != nil {
		return nil, Meta{}, fmt.Errorf("export %s: %w", spec.Arch, e.err)
	}
	for name := range e.state {
		if !e.used[name] {
			return nil, Meta{}, fmt.Errorf("export %s: model tensor %q is not used by the exported graph", spec.Arch, name)
		}
	}
	e.g.Input = []*pb.ValueInfoProto{valueInfoProto(ExportInput, "N", c, spec.Height, spec.Width)}
	e.g.Output = []*pb.ValueInfoProto{valueInfoProto(e.cur, "N", spec.NumClasses)}

	meta := Meta{Format: MetaFormat, InputSize: []int{c, spec.Height, spec.Width}, ChannelOrder: "RGB",
		Range: []float64{0, 1}, ClassNames: opt.ClassNames, AttentionLayer: spec.Attention}
	mj, err := json.Marshal(meta)
	if err != nil {
		return nil, Meta{}, err
	}
	sj, err := json.Marshal(spec)
	if err != nil {
		return nil, Meta{}, err
	}
	mp := &pb.ModelProto{
		IrVersion:       proto.Int64(irVersion(opset)),
		OpsetImport:     []*pb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(int64(opset))}},
		ProducerName:    proto.String("arp"),
		ProducerVersion: proto.String(opt.ProducerVersion),
		DocString: proto.String(fmt.Sprintf("arp %s model; input %q: pixels in [0,1], [N,%d,%d,%d] (RGB); output %q: logits [N,%d]",
			spec.Arch, ExportInput, c, spec.Height, spec.Width, e.cur, spec.NumClasses)),
		Graph: e.g,
		MetadataProps: []*pb.StringStringEntryProto{
			{Key: proto.String(MetaProp), Value: proto.String(string(mj))},
			{Key: proto.String("arp.spec"), Value: proto.String(string(sj))},
		},
	}
	return mp, meta, nil
}

// valueInfoProto describes a float tensor whose first dimension is the
// symbolic batch size.
func valueInfoProto(name, batch string, dims ...int) *pb.ValueInfoProto {
	sh := &pb.TensorShapeProto{Dim: []*pb.TensorShapeProto_Dimension{{Value: &pb.TensorShapeProto_Dimension_DimParam{DimParam: batch}}}}
	for _, d := range dims {
		sh.Dim = append(sh.Dim, &pb.TensorShapeProto_Dimension{Value: &pb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
	}
	return &pb.ValueInfoProto{Name: proto.String(name), Type: &pb.TypeProto{Value: &pb.TypeProto_TensorType{
		TensorType: &pb.TypeProto_Tensor{ElemType: proto.Int32(typeFloat), Shape: sh}}}}
}
