package onnx

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/onnx/pb"
	"github.com/arp-robustness/arp/tensor"
	"google.golang.org/protobuf/proto"
)

// decodeImport runs the whole import path on b and reports the error.
func decodeImport(b []byte) error {
	m, err := Decode(b)
	if err != nil {
		return err
	}
	meta, err := ReadMeta("", m)
	if err != nil {
		return err
	}
	_, err = Import(m, meta)
	return err
}

func TestCorruptFiles(t *testing.T) {
	good, err := os.ReadFile("testdata/resnet.onnx")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "empty file"},
		{"text", []byte("this is not an ONNX model\n"), "not a valid ONNX file"},
		{"png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "not a valid ONNX file"},
		{"json", []byte(`{"graph": {}}`), "not a valid ONNX file"},
		{"half", good[:len(good)/2], "not a valid ONNX file"},
		{"one byte short", good[:len(good)-1], ""},
		{"first 100 bytes", good[:100], ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := decodeImport(tc.b)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
	// Every truncation and many random corruptions: errors, never panics.
	for n := 0; n < len(good); n += 37 {
		if err := decodeImport(good[:n]); err == nil {
			t.Errorf("truncated to %d bytes: no error", n)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 300; i++ {
		b := append([]byte(nil), good...)
		for k := 0; k < 1+rng.IntN(4); k++ {
			b[rng.IntN(len(b))] = byte(rng.IntN(256))
		}
		_ = decodeImport(b)
	}
}

func TestReadFileErrors(t *testing.T) {
	if _, err := ReadFile("testdata/no-such.onnx"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Load("testdata"); err == nil {
		t.Error("directory loaded")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "m.onnx")
	if err := os.WriteFile(p, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("error %v does not name the file", err)
	}
}

func TestUnsupportedOps(t *testing.T) {
	b := newMB(13, 1, 3, 8, 8)
	b.node("Resize", "up", []string{"x"}, []string{"a"})
	b.node("Relu", "r", []string{"a"}, []string{"c"})
	b.node("LSTM", "lstm_1", []string{"c"}, []string{"d"})
	b.node("Conv", "conv3d", []string{"d", "w"}, []string{"e"}, attrInts("kernel_shape", 1, 1, 1)).init("w", []int{1}, []float32{1})
	b.g.Node = append(b.g.Node, &pb.NodeProto{OpType: proto.String("FusedConv"), Domain: proto.String("com.microsoft"),
		Name: proto.String("fused"), Input: []string{"e"}, Output: []string{"y"}})
	_, err := b.graph(t, Meta{})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"3 unsupported operator(s)", `Resize (node "up")`, `LSTM (node "lstm_1")`,
		`com.microsoft.FusedConv (node "fused")`, `node "conv3d" (Conv): kernel_shape [1 1 1]: only 2-D`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestInputSizes(t *testing.T) {
	g, err := Load("testdata/cnn.onnx")
	if err != nil {
		t.Fatal(err)
	}
	for _, shape := range [][]int{{2, 3, 15, 16}, {2, 1, 16, 16}, {3, 16, 16}, {2, 3, 16, 16, 1}} {
		x := autograd.Const(tensor.Zeros(tensor.Float32, shape...))
		if _, _, err := g.Run(x); err == nil || !strings.Contains(err.Error(), "do not fit") {
			t.Errorf("Run(%v): %v", shape, err)
		}
		err := autograd.Try(func() { g.Forward(x, nn.Eval) })
		if err == nil {
			t.Errorf("Forward(%v) did not fail", shape)
		}
	}
	if err := autograd.Try(func() { g.Forward(autograd.Const(tensor.Zeros(tensor.Float32, 1, 3, 16, 16)), nn.Eval, "nope") }); err == nil ||
		!strings.Contains(err.Error(), `unknown layer "nope"`) {
		t.Errorf("unknown tap: %v", err)
	}

	// A fixed batch size of 2: batches must be multiples of it.
	b := newMB(13, 2, 1, 1, 6).node("Flatten", "f", []string{"x"}, []string{"y"})
	g2, err := b.graph(t, Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := g2.Run(autograd.Const(tensor.Zeros(tensor.Float32, 3, 1, 1, 6))); err == nil || !strings.Contains(err.Error(), "fixed batch size 2") {
		t.Errorf("batch of 3: %v", err)
	}
	if y, _, err := g2.Run(autograd.Const(tensor.Zeros(tensor.Float32, 4, 1, 1, 6))); err != nil || y.Shape()[0] != 4 {
		t.Errorf("batch of 4: %v", err)
	}
}

func TestDynamicSize(t *testing.T) {
	b := newMB(13, 0, 3, 0, 0).node("GlobalAveragePool", "gap", []string{"x"}, []string{"y"})
	_, err := b.graph(t, Meta{})
	if err == nil || !strings.Contains(err.Error(), `dynamic size [d,3,d,d]: give "input_size": [C, H, W]`) {
		t.Fatalf("error %v", err)
	}
	g, err := b.graph(t, Meta{InputSize: []int{3, 5, 7}})
	if err != nil {
		t.Fatal(err)
	}
	if s := g.InputShape(); s[0] != 3 || s[1] != 5 || s[2] != 7 || g.NumClasses() != 3 {
		t.Errorf("input %v, %d classes", s, g.NumClasses())
	}
	if _, err := b.graph(t, Meta{InputSize: []int{1, 5, 7}}); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("channel mismatch: %v", err)
	}
}

func TestMetaErrors(t *testing.T) {
	for _, tc := range []struct{ json, want string }{
		{`{"means": [0.5]}`, `unknown field "means"`},
		{`{"range": [0]}`, "want [lo, hi]"},
		{`{"range": [1, 1]}`, "is empty"},
		{`{"std": [0.5, 0]}`, "must be positive"},
		{`{"channel_order": "GBR"}`, "want RGB or BGR"},
		{`{"input_size": [32, 32]}`, "want [C, H, W]"},
		{`{"input_size": [3, 0, 32]}`, "must be positive"},
		{`{"format": "other"}`, "format"},
		{`{} {}`, "data after the object"},
		{`[1]`, "invalid metadata JSON"},
		{``, "invalid metadata JSON"},
	} {
		if _, err := ParseMeta([]byte(tc.json), "m.json"); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "m.json: ") {
			t.Errorf("ParseMeta(%s): %v, want %q", tc.json, err, tc.want)
		}
	}
	if m, err := ParseMeta([]byte(`{"range": [0, 255], "channel_order": "bgr"}`), "m.json"); err != nil || m.Range[1] != 255 {
		t.Errorf("valid metadata: %v %+v", err, m)
	}

	b := newMB(13, 1, 3, 4, 4).node("GlobalAveragePool", "gap", []string{"x"}, []string{"g"}).node("Flatten", "f", []string{"g"}, []string{"y"})
	for _, tc := range []struct {
		meta Meta
		want string
	}{
		{Meta{ClassNames: []string{"a", "b"}}, "2 class names for 3 classes"},
		{Meta{AttentionLayer: "conv9"}, `attention_layer "conv9" is not a layer`},
		{Meta{Mean: []float64{1, 2}}, "mean has 2 values for 3 channels"},
		{Meta{Input: "z"}, `input "z" is not a graph input`},
		{Meta{Output: "nope"}, `output "nope" is not produced`},
		{Meta{InputSize: []int{3, 5, 4}}, "does not match"},
	} {
		if _, err := b.graph(t, tc.meta); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.meta, err, tc.want)
		}
	}
	gray := newMB(13, 1, 1, 4, 4).node("Flatten", "f", []string{"x"}, []string{"y"})
	if _, err := gray.graph(t, Meta{ChannelOrder: "BGR"}); err == nil || !strings.Contains(err.Error(), "BGR needs 3 channels") {
		t.Errorf("BGR gray: %v", err)
	}
	// Metadata next to the file overrides the file's own.
	dir := t.TempDir()
	p := filepath.Join(dir, "m.onnx")
	b.props = map[string]string{MetaProp: `{"class_names": ["a", "b", "c"]}`}
	if err := os.WriteFile(p, b.bytes(t), 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := Load(p)
	if err != nil || g.Meta().ClassNames[2] != "c" {
		t.Fatalf("metadata_props: %v", err)
	}
	if err := os.WriteFile(MetaPath(p), []byte(`{"class_names": ["x", "y", "z"], "range": [-1, 1]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	g, err = Load(p)
	if err != nil || g.Meta().ClassNames[2] != "z" || g.Meta().ChannelOrder != "RGB" {
		t.Fatalf("metadata file: %v %+v", err, g.Meta())
	}
	if err := os.WriteFile(MetaPath(p), []byte(`{"class_names": 3}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), MetaPath(p)) {
		t.Fatalf("bad metadata file: %v", err)
	}
}

func TestStructureErrors(t *testing.T) {
	flat := func(b *mb) *mb { return b.node("Flatten", "f", []string{"x"}, []string{"y"}) }
	for _, tc := range []struct {
		name  string
		build func() *mb
		edit  func(m *pb.ModelProto)
		want  string
	}{
		{"undefined input", func() *mb {
			return newMB(13, 1, 1, 2, 2).node("Add", "a", []string{"x", "ghost"}, []string{"y"})
		}, nil, `input "ghost" is not produced`},
		{"cycle", func() *mb {
			return newMB(13, 1, 1, 2, 2).node("Add", "a", []string{"x", "b"}, []string{"a"}).node("Relu", "r", []string{"a"}, []string{"b"}).
				node("Flatten", "f", []string{"b"}, []string{"y"})
		}, nil, "cycle"},
		{"two producers", func() *mb {
			return flat(newMB(13, 1, 1, 2, 2).node("Relu", "r1", []string{"x"}, []string{"v"}).node("Relu", "r2", []string{"x"}, []string{"v"}))
		}, nil, `both produce value "v"`},
		{"no opset", func() *mb { return flat(newMB(13, 1, 1, 2, 2)) }, func(m *pb.ModelProto) { m.OpsetImport = nil }, "no opset_import"},
		{"opset 5", func() *mb { return flat(newMB(5, 1, 1, 2, 2)) }, nil, "opset 5 is not supported"},
		{"opset 30", func() *mb { return flat(newMB(30, 1, 1, 2, 2)) }, nil, "opset 30 is not supported"},
		{"no graph", func() *mb { return flat(newMB(13, 1, 1, 2, 2)) }, func(m *pb.ModelProto) { m.Graph = nil }, "no graph"},
		{"no outputs", func() *mb { return flat(newMB(13, 1, 1, 2, 2)) }, func(m *pb.ModelProto) { m.Graph.Output = nil }, "no outputs"},
		{"short raw data", func() *mb { return flat(newMB(13, 1, 1, 2, 2).init("w", []int{2, 2}, seq(4, 1))) },
			func(m *pb.ModelProto) { m.Graph.Initializer[0].RawData = m.Graph.Initializer[0].RawData[:15] }, "raw_data has 15 bytes"},
		{"huge dims", func() *mb { return flat(newMB(13, 1, 1, 2, 2).init("w", []int{2, 2}, seq(4, 1))) },
			func(m *pb.ModelProto) { m.Graph.Initializer[0].Dims = []int64{1 << 40, 1 << 40} }, "more than"},
		{"dims larger than data", func() *mb { return flat(newMB(13, 1, 1, 2, 2).init("w", []int{2, 2}, seq(4, 1))) },
			func(m *pb.ModelProto) { m.Graph.Initializer[0].Dims = []int64{1000, 1000} }, "needs 4000000"},
		{"negative dims", func() *mb { return flat(newMB(13, 1, 1, 2, 2).init("w", []int{2, 2}, seq(4, 1))) },
			func(m *pb.ModelProto) { m.Graph.Initializer[0].Dims = []int64{-2, -2} }, "negative dimension"},
		{"string tensor", func() *mb { return flat(newMB(13, 1, 1, 2, 2).init("w", []int{2, 2}, seq(4, 1))) },
			func(m *pb.ModelProto) { m.Graph.Initializer[0].DataType = proto.Int32(typeString) }, "element type STRING is not supported"},
		{"external data in memory", func() *mb { return flat(newMB(13, 1, 1, 2, 2).init("w", []int{2, 2}, seq(4, 1))) },
			func(m *pb.ModelProto) {
				m.Graph.Initializer[0].DataLocation = pb.TensorProto_EXTERNAL.Enum()
			}, "external tensor data needs the model's file"},
		{"attribute type", func() *mb {
			return flat(newMB(13, 1, 1, 2, 2).node("LeakyRelu", "lr", []string{"x"}, []string{"v"}, attrInt("alpha", 1)))
		}, nil, `attribute "alpha" has type INT, want FLOAT`},
		{"output is constant", func() *mb {
			return newMB(13, 1, 1, 2, 2).node("Constant", "c", nil, []string{"y"}, attrFloats("value_floats", 1, 2))
		}, nil, "does not depend on the input"},
		{"output not logits", func() *mb { return newMB(13, 1, 1, 2, 2).node("Relu", "r", []string{"x"}, []string{"y"}) }, nil,
			"want logits [N,K]"},
		{"int input", func() *mb { return flat(newMB(13, 1, 1, 2, 2)) },
			func(m *pb.ModelProto) { m.Graph.Input[0].Type.GetTensorType().ElemType = proto.Int32(typeInt64) }, "needs floating-point images"},
		{"rank 3 input", func() *mb { return newMB(13, 1, 2, 2).node("Flatten", "f", []string{"x"}, []string{"y"}) }, nil,
			"arp needs images [N,C,H,W]"},
		{"two inputs", func() *mb { return flat(newMB(13, 1, 1, 2, 2)) },
			func(m *pb.ModelProto) {
				m.Graph.Input = append(m.Graph.Input, &pb.ValueInfoProto{Name: proto.String("z")})
			}, "graph has 2 inputs"},
		{"bad reshape", func() *mb {
			return newMB(13, 1, 1, 2, 2).ints("s", 3, -1).node("Reshape", "r", []string{"x", "s"}, []string{"y"})
		}, nil, `node "r" (Reshape): cannot reshape [1 1 2 2] to [3 -1]`},
		{"huge pad", func() *mb {
			return flat(newMB(13, 1, 1, 2, 2).ints("p", 0, 0, 0, 0, 0, 0, 1<<20, 1<<20).node("Pad", "p", []string{"x", "p"}, []string{"v"}))
		}, nil, "elements"},
		{"conv weight mismatch", func() *mb {
			return newMB(13, 1, 3, 4, 4).init("w", []int{2, 2, 1, 1}, seq(4, 1)).node("Conv", "c", []string{"x", "w"}, []string{"v"}).
				node("Flatten", "f", []string{"v"}, []string{"y"})
		}, nil, "do not fit"},
		{"batchnorm training", func() *mb {
			return flat(newMB(15, 1, 1, 2, 2).init("s", []int{1}, []float32{1}).node("BatchNormalization", "bn", []string{"x", "s", "s", "s", "s"},
				[]string{"v"}, attrInt("training_mode", 1)))
		}, nil, "training_mode 1 is not supported"},
		{"pad reflect", func() *mb {
			return flat(newMB(13, 1, 1, 2, 2).ints("p", 0, 0, 1, 1, 0, 0, 1, 1).node("Pad", "p", []string{"x", "p"}, []string{"v"}, attrString("mode", "reflect")))
		}, nil, `mode "reflect" is not supported`},
		{"even LRN", func() *mb {
			return flat(newMB(13, 1, 1, 2, 2).node("LRN", "n", []string{"x"}, []string{"v"}, attrInt("size", 4)))
		}, nil, "only odd window sizes"},
		{"too few inputs", func() *mb { return flat(newMB(13, 1, 1, 2, 2).node("Add", "a", []string{"x"}, []string{"v"})) }, nil,
			"has 1 inputs, needs 2 to 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.build().proto()
			if tc.edit != nil {
				tc.edit(m)
			}
			b, err := proto.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			err = decodeImport(b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestExternalData(t *testing.T) {
	dir := t.TempDir()
	raw := floatTensor("w", tensor.FromFloat32([]float32{1, 2, 3, 4, 5, 6}, 1, 1, 1, 6)).RawData
	if err := os.WriteFile(filepath.Join(dir, "weights.bin"), append([]byte("head"), raw...), 0o644); err != nil {
		t.Fatal(err)
	}
	write := func(loc, off string) string {
		b := newMB(13, 1, 1, 1, 6).init("w", []int{1, 1, 1, 6}, make([]float32, 6)).
			node("Add", "a", []string{"x", "w"}, []string{"v"}).node("Flatten", "f", []string{"v"}, []string{"y"})
		m := b.proto()
		init := m.Graph.Initializer[0]
		init.RawData = nil
		init.DataLocation = pb.TensorProto_EXTERNAL.Enum()
		init.ExternalData = []*pb.StringStringEntryProto{{Key: proto.String("location"), Value: proto.String(loc)},
			{Key: proto.String("offset"), Value: proto.String(off)}, {Key: proto.String("length"), Value: proto.String("24")}}
		data, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "m.onnx")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	g, err := Load(write("weights.bin", "4"))
	if err != nil {
		t.Fatal(err)
	}
	y, _, err := g.Run(autograd.Const(tensor.Zeros(tensor.Float32, 1, 1, 1, 6)))
	if err != nil || y.Value().AtFlat(5) != 6 {
		t.Fatalf("external weights: %v %v", err, y)
	}
	for _, tc := range []struct{ loc, off, want string }{
		{"../weights.bin", "4", "relative to the model's directory"},
		{"/etc/passwd", "0", "relative to the model's directory"},
		{"weights.bin", "20", "beyond its"},
		{"missing.bin", "0", "no such file"},
	} {
		if _, err := Load(write(tc.loc, tc.off)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s at %s: %v, want %q", tc.loc, tc.off, err, tc.want)
		}
	}
}
