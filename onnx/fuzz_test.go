package onnx

import (
	"os"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/onnx/pb"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/tensor"
)

// FuzzImport feeds arbitrary bytes through the whole import path (decode,
// metadata from the file, compile, check run) and runs the result: errors
// are fine, panics are not.
func FuzzImport(f *testing.F) {
	old := maxElems
	maxElems = 1 << 18 // keep the check runs of fuzzed shapes small
	f.Cleanup(func() { maxElems = old })
	for _, name := range []string{"inception", "zoo13", "zoo11", "resnet"} {
		b, err := os.ReadFile("testdata/" + name + ".onnx")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	small := newMB(13, 0, 1, 3, 3).ints("s", 0, -1).init("w", []int{2, 1, 2, 2}, seq(8, 0.1)).
		node("Conv", "c", []string{"x", "w"}, []string{"v"}, attrInts("pads", 1, 0, 0, 1), attrInt("group", 1)).
		node("MaxPool", "p", []string{"v"}, []string{"q"}, attrInts("kernel_shape", 2, 2), attrInt("ceil_mode", 1)).
		node("Reshape", "r", []string{"q", "s"}, []string{"y"})
	small.props = map[string]string{MetaProp: `{"class_names": ["a"], "range": [-1, 1]}`}
	f.Add(small.bytes(f))
	f.Add([]byte{})
	f.Add([]byte("\x08\x07\x3a\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		meta, err := ReadMeta("", m)
		if err != nil {
			meta = Meta{}
		}
		g, err := Import(m, meta)
		if err != nil {
			return
		}
		shape := append([]int{1}, g.InputShape()...)
		x := autograd.Param(tensor.Full(tensor.Float32, 0.25, shape...))
		y, acts, err := g.Run(x, g.LayerNames()...)
		if err != nil {
			t.Fatalf("imported graph fails on its own input size: %v", err)
		}
		if y.Shape()[0] != 1 || len(acts) == 0 {
			t.Fatalf("logits %v, %d taps", y.Shape(), len(acts))
		}
	})
}

// FuzzNode builds a one-node graph of a fuzzed operator, attributes,
// input shape and constant inputs, and imports and runs it: a failure inside
// a kernel must be an error, never a panic (Import reports panics as
// "internal error", which fails this target).
func FuzzNode(f *testing.F) {
	old := maxElems
	maxElems = 1 << 18
	f.Cleanup(func() { maxElems = old })
	f.Add(uint8(0), uint32(0x1234), int64(1), int64(2), int64(3), float32(0.5), []byte{1, 2, 3, 4})
	f.Add(uint8(7), uint32(0xffff), int64(-1), int64(0), int64(9), float32(-2), []byte{0, 255, 1})
	f.Add(uint8(13), uint32(77), int64(2), int64(1), int64(1), float32(1e-3), []byte{2, 2, 1, 1, 0, 0, 1, 1})
	ops := SupportedOps()
	f.Fuzz(func(t *testing.T, op uint8, shape uint32, a, b, c int64, fl float32, raw []byte) {
		if len(raw) > 64 {
			raw = raw[:64]
		}
		name := ops[int(op)%len(ops)]
		opset := []int64{7, 9, 11, 13, 17, 18}[int(shape>>24)%6]
		s := []int{1, 1 + int(shape%3), 1 + int(shape>>2%5), 1 + int(shape>>5%5)}
		small := func(v int64, n int64) int64 { return ((v % n) + n) % n }
		ints := make([]int64, len(raw))
		for i, v := range raw {
			ints[i] = int64(int8(v))
		}
		b2 := newMB(opset, s...)
		wshape := []int{1 + int(small(a, 3)), 1 + int(small(b, 3)), 1 + int(small(c, 3)), 1 + int(small(a+b, 3))}[:small(c, 5)]
		b2.init("w", wshape, seq(tensor.Numel(wshape), 0.1))
		b2.g.Initializer = append(b2.g.Initializer, intsTensor("k", ints...))
		def := ops2(name)
		ins := []string{"x"}
		for i := 1; i < def; i++ {
			if c>>i&1 == 1 {
				ins = append(ins, "k")
			} else {
				ins = append(ins, "w")
			}
		}
		attrs := []*pb.AttributeProto{attrInt("axis", int(small(a, 7)-3)), attrInts("axes", intsOf(ints, 2)...),
			attrInts("perm", intsOf(ints, 4)...), attrInts("kernel_shape", 1+int(small(b, 4)), 1+int(small(c, 4))),
			attrInts("strides", 1+int(small(a, 3)), 1+int(small(b, 3))), attrInts("pads", intsOf(ints, 4)...),
			attrInt("group", 1+int(small(a, 3))), attrInt("ceil_mode", int(small(b, 2))), attrInt("count_include_pad", int(small(c, 2))),
			attrFloat("alpha", float64(fl)), attrInt("to", int(small(a, 17))), attrInt("size", 1+2*int(small(b, 3))),
			attrInt("keepdims", int(small(c, 2))), attrInt("transA", int(small(a, 2))), attrInt("transB", int(small(b, 2))),
			attrInt("start", int(small(b, 5)-2)), attrInts("split", intsOf(ints, 3)...), attrFloat("epsilon", 1e-5)}
		b2.node(name, "n", ins, []string{"v"}, attrs...).node("Flatten", "f", []string{"v"}, []string{"y"})
		g, err := b2.graph(t, Meta{})
		if err != nil {
			if strings.Contains(err.Error(), "internal error") {
				t.Fatalf("%s: %v", name, err)
			}
			return
		}
		x := autograd.Param(tensor.Full(tensor.Float32, 0.25, append([]int{2}, s[1:]...)...))
		if _, _, err := g.Run(x, g.LayerNames()...); err != nil {
			t.Fatalf("%s: imported graph fails on a batch of 2: %v", name, err)
		}
	})
}

// ops2 is an operator's largest input count used by FuzzNode (at most 5).
func ops2(name string) int {
	d := ops[name]
	if d.maxIn < 0 || d.maxIn > 5 {
		return max(d.minIn, 3)
	}
	return d.maxIn
}

func intsOf(v []int64, n int) []int {
	out := make([]int, 0, n)
	for i := 0; i < n && i < len(v); i++ {
		out = append(out, int(v[i]))
	}
	return out
}
