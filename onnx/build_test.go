package onnx

import (
	"testing"

	"github.com/arp-robustness/arp/onnx/pb"
	"github.com/arp-robustness/arp/tensor"
	"google.golang.org/protobuf/proto"
)

// A small builder of ONNX models for tests.

type mb struct {
	opset int64
	g     *pb.GraphProto
	props map[string]string
}

// newMB starts a model whose image input "x" has the given shape (0 for a
// symbolic dimension) and whose output is "y".
func newMB(opset int64, shape ...int) *mb {
	b := &mb{opset: opset, g: &pb.GraphProto{Name: proto.String("test")}}
	sh := &pb.TensorShapeProto{}
	for _, d := range shape {
		dim := &pb.TensorShapeProto_Dimension{}
		if d > 0 {
			dim.Value = &pb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}
		} else {
			dim.Value = &pb.TensorShapeProto_Dimension_DimParam{DimParam: "d"}
		}
		sh.Dim = append(sh.Dim, dim)
	}
	b.g.Input = []*pb.ValueInfoProto{{Name: proto.String("x"), Type: &pb.TypeProto{Value: &pb.TypeProto_TensorType{
		TensorType: &pb.TypeProto_Tensor{ElemType: proto.Int32(typeFloat), Shape: sh}}}}}
	b.g.Output = []*pb.ValueInfoProto{{Name: proto.String("y")}}
	return b
}

func (b *mb) node(op, name string, ins, outs []string, attrs ...*pb.AttributeProto) *mb {
	b.g.Node = append(b.g.Node, &pb.NodeProto{OpType: proto.String(op), Name: proto.String(name), Input: ins, Output: outs, Attribute: attrs})
	return b
}

func (b *mb) init(name string, shape []int, v []float32) *mb {
	b.g.Initializer = append(b.g.Initializer, floatTensor(name, tensor.FromFloat32(v, shape...)))
	return b
}

func intsTensor(name string, v ...int64) *pb.TensorProto {
	return &pb.TensorProto{Name: proto.String(name), DataType: proto.Int32(typeInt64), Dims: []int64{int64(len(v))}, Int64Data: v}
}

func (b *mb) ints(name string, v ...int64) *mb {
	b.g.Initializer = append(b.g.Initializer, intsTensor(name, v...))
	return b
}

func (b *mb) output(name string) *mb {
	b.g.Output = []*pb.ValueInfoProto{{Name: proto.String(name)}}
	return b
}

func (b *mb) proto() *pb.ModelProto {
	m := &pb.ModelProto{IrVersion: proto.Int64(7), Graph: b.g,
		OpsetImport: []*pb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(b.opset)}}}
	for k, v := range b.props {
		m.MetadataProps = append(m.MetadataProps, &pb.StringStringEntryProto{Key: proto.String(k), Value: proto.String(v)})
	}
	return m
}

func (b *mb) bytes(t testing.TB) []byte {
	t.Helper()
	data, err := proto.Marshal(b.proto())
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// graph decodes and imports the model.
func (b *mb) graph(t testing.TB, meta Meta) (*Graph, error) {
	t.Helper()
	m, err := Decode(b.bytes(t))
	if err != nil {
		return nil, err
	}
	return Import(m, meta)
}

func attrString(name, v string) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_STRING.Enum(), S: []byte(v)}
}

func attrTensor(name string, t *pb.TensorProto) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_TENSOR.Enum(), T: t}
}

func attrFloats(name string, v ...float32) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_FLOATS.Enum(), Floats: v}
}

func seq(n int, scale float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i) * scale
	}
	return v
}
