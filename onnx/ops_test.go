package onnx

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/onnx/pb"
	"github.com/arp-robustness/arp/tensor"
)

// run imports b and returns the value of tap for input x.
func runTap(t *testing.T, b *mb, x *tensor.Tensor, tap string) *tensor.Tensor {
	t.Helper()
	g, err := b.graph(t, Meta{})
	if err != nil {
		t.Fatal(err)
	}
	_, acts, err := g.Run(autograd.Const(x), tap)
	if err != nil {
		t.Fatal(err)
	}
	return acts[tap].Value()
}

func near(a *tensor.Tensor, shape []int, want []float64, tol float64) error {
	if !slices.Equal(a.Shape(), shape) {
		return fmt.Errorf("shape %v, want %v", a.Shape(), shape)
	}
	for i, w := range want {
		if math.Abs(a.AtFlat(i)-w) > tol {
			return fmt.Errorf("element %d = %g, want %g (all: %v)", i, a.AtFlat(i), w, a.Float64s())
		}
	}
	return nil
}

func TestOps(t *testing.T) {
	x6 := tensor.FromFloat32(seq(6, 1), 1, 1, 1, 6) // 0..5
	x24 := tensor.FromFloat32(seq(24, 0.1), 1, 2, 3, 4)
	flat := func(b *mb, v string) *mb { return b.node("Flatten", "flat", []string{v}, []string{"y"}) }
	for _, tc := range []struct {
		name  string
		x     *tensor.Tensor
		build func() *mb
		tap   string
		shape []int
		want  []float64
	}{
		{"slice negative step", x6, func() *mb {
			b := newMB(13, 1, 1, 1, 6).ints("s", -1).ints("e", math.MinInt64).ints("a", 3).ints("k", -2)
			return flat(b.node("Slice", "sl", []string{"x", "s", "e", "a", "k"}, []string{"v"}), "v")
		}, "v", []int{1, 1, 1, 3}, []float64{5, 3, 1}},
		{"slice opset 9 attributes", x6, func() *mb {
			b := newMB(9, 1, 1, 1, 6)
			return flat(b.node("Slice", "sl", []string{"x"}, []string{"v"}, attrInts("starts", 1), attrInts("ends", -1), attrInts("axes", 3)), "v")
		}, "v", []int{1, 1, 1, 4}, []float64{1, 2, 3, 4}},
		{"gather 2-D negative indices", x6, func() *mb {
			b := newMB(13, 1, 1, 1, 6)
			b.g.Initializer = append(b.g.Initializer, intsTensor("i", -1, 0, 2, 2))
			b.g.Initializer[0].Dims = []int64{2, 2}
			return flat(b.node("Gather", "ga", []string{"x", "i"}, []string{"v"}, attrInt("axis", 3)), "v")
		}, "v", []int{1, 1, 1, 2, 2}, []float64{5, 0, 2, 2}},
		{"pad crop and constant", x6, func() *mb {
			b := newMB(13, 1, 1, 1, 6).ints("p", 0, 0, 0, -2, 0, 0, 1, 1).init("c", nil, []float32{7})
			return flat(b.node("Pad", "pad", []string{"x", "p", "c"}, []string{"v"}), "v")
		}, "v", []int{1, 1, 2, 5}, []float64{2, 3, 4, 5, 7, 7, 7, 7, 7, 7}},
		{"pad opset 10 attributes", x6, func() *mb {
			b := newMB(10, 1, 1, 1, 6)
			return flat(b.node("Pad", "pad", []string{"x"}, []string{"v"}, attrInts("pads", 0, 0, 0, 1, 0, 0, 0, 0), attrFloat("value", -1)), "v")
		}, "v", []int{1, 1, 1, 7}, []float64{-1, 0, 1, 2, 3, 4, 5}},
		{"clip opset 7 attributes", x6, func() *mb {
			b := newMB(7, 1, 1, 1, 6)
			return flat(b.node("Clip", "c", []string{"x"}, []string{"v"}, attrFloat("min", 1), attrFloat("max", 3.5)), "v")
		}, "v", []int{1, 1, 1, 6}, []float64{1, 1, 2, 3, 3.5, 3.5}},
		{"clip opset 13 max only", x6, func() *mb {
			b := newMB(13, 1, 1, 1, 6).init("hi", nil, []float32{2})
			return flat(b.node("Clip", "c", []string{"x", "", "hi"}, []string{"v"}), "v")
		}, "v", []int{1, 1, 1, 6}, []float64{0, 1, 2, 2, 2, 2}},
		{"split num outputs", x6, func() *mb {
			b := newMB(18, 1, 1, 1, 6)
			b.node("Split", "sp", []string{"x"}, []string{"a", "b2", "c"}, attrInt("axis", 3), attrInt("num_outputs", 3))
			return flat(b.node("Concat", "cat", []string{"c", "a"}, []string{"v"}, attrInt("axis", 3)), "v")
		}, "v", []int{1, 1, 1, 4}, []float64{4, 5, 0, 1}},
		{"softmax opset 11 coerces to 2-D", x24, func() *mb {
			return flat(newMB(11, 1, 2, 3, 4).node("Softmax", "sm", []string{"x"}, []string{"v"}), "v")
		}, "v", []int{1, 2, 3, 4}, softmaxRef(24, 24, 0.1)},
		{"softmax opset 13 one axis", x24, func() *mb {
			return flat(newMB(13, 1, 2, 3, 4).node("Softmax", "sm", []string{"x"}, []string{"v"}), "v")
		}, "v", []int{1, 2, 3, 4}, softmaxRef(24, 4, 0.1)},
		{"reshape 0 and -1", x24, func() *mb {
			b := newMB(13, 1, 2, 3, 4).ints("s", 0, -1, 2)
			b.node("Reshape", "r", []string{"x", "s"}, []string{"v"})
			return flat(b, "v")
		}, "v", []int{1, 12, 2}, []float64{0, 0.1, 0.2}},
		{"unsqueeze opset 11 then squeeze all", x6, func() *mb {
			b := newMB(11, 1, 1, 1, 6)
			b.node("Unsqueeze", "u", []string{"x"}, []string{"u"}, attrInts("axes", 0, -1))
			b.node("Squeeze", "s", []string{"u"}, []string{"v"})
			b.node("Unsqueeze", "u2", []string{"v"}, []string{"w"}, attrInts("axes", 0))
			return flat(b, "w")
		}, "v", []int{6}, []float64{0, 1, 2, 3, 4, 5}},
		{"transpose default", x24, func() *mb {
			b := newMB(13, 1, 2, 3, 4).node("Transpose", "t", []string{"x"}, []string{"v"})
			return b.node("Flatten", "flat", []string{"v"}, []string{"y"}, attrInt("axis", 0))
		}, "v", []int{4, 3, 2, 1}, []float64{0, 1.2, 0.4, 1.6}},
		{"gemm alpha beta transA", x6, func() *mb {
			b := newMB(13, 1, 1, 1, 6).init("B", []int{1, 2}, []float32{1, -1}).init("C", []int{2}, []float32{10, 20})
			b.node("Reshape", "r", []string{"x", "s"}, []string{"a"}).ints("s", 1, 6)
			b.node("Gemm", "gemm", []string{"a", "B", "C"}, []string{"v"}, attrInt("transA", 1), attrFloat("alpha", 2), attrFloat("beta", 0.5))
			return b.node("Reshape", "r2", []string{"v", "s2"}, []string{"y"}).ints("s2", 1, 12)
		}, "v", []int{6, 2}, nil},
		{"matmul 4-D", x24, func() *mb {
			b := newMB(13, 1, 2, 3, 4)
			b.node("Transpose", "t", []string{"x"}, []string{"xt"}, attrInts("perm", 0, 1, 3, 2))
			return flat(b.node("MatMul", "mm", []string{"x", "xt"}, []string{"v"}), "v")
		}, "v", []int{1, 2, 3, 3}, []float64{0.14, 0.38, 0.62}},
		{"cast truncates", tensor.FromFloat32(seq(24, 0.125), 1, 2, 3, 4), func() *mb {
			b := newMB(13, 1, 2, 3, 4)
			b.node("Mul", "m", []string{"x", "ten"}, []string{"m"}).init("ten", nil, []float32{10})
			b.node("Cast", "c", []string{"m"}, []string{"i"}, attrInt("to", int(typeInt64)))
			b.node("Cast", "c2", []string{"i"}, []string{"f"}, attrInt("to", int(typeFloat)))
			b.node("Sub", "s", []string{"m", "f"}, []string{"v"})
			return flat(b, "v")
		}, "v", []int{1, 2, 3, 4}, []float64{0, 0.25, 0.5, 0.75, 0, 0.25}},
		{"constant of shape and expand", x6, func() *mb {
			b := newMB(13, 1, 1, 1, 6).ints("s", 2, 1, 1, 1)
			b.node("ConstantOfShape", "k", []string{"s"}, []string{"k"}, attrTensor("value", floatTensor("", tensor.FromFloat32([]float32{3}, 1))))
			b.node("Expand", "e", []string{"x", "s"}, []string{"xe"})
			b.node("Mul", "m", []string{"xe", "k"}, []string{"v"})
			b.node("ReduceSum", "r", []string{"v"}, []string{"y0"}, attrInts("axes", 0), attrInt("keepdims", 0))
			return flat(b, "y0")
		}, "y0", []int{1, 1, 6}, []float64{0, 6, 12, 18, 24, 30}},
		{"reduce max keepdims 0", x24, func() *mb {
			b := newMB(13, 1, 2, 3, 4)
			b.node("ReduceMax", "r", []string{"x"}, []string{"v"}, attrInts("axes", 1, 3), attrInt("keepdims", 0))
			return flat(b, "v")
		}, "v", []int{1, 3}, []float64{1.5, 1.9, 2.3}},
		{"batchnorm on [N,C]", x6, func() *mb {
			b := newMB(13, 1, 1, 1, 6).ints("s", 1, 6)
			b.node("Reshape", "r", []string{"x", "s"}, []string{"a"})
			b.init("sc", []int{6}, []float32{1, 2, 1, 1, 1, 1}).init("bi", []int{6}, make([]float32, 6)).
				init("mu", []int{6}, []float32{1, 1, 1, 1, 1, 1}).init("va", []int{6}, []float32{4, 4, 4, 4, 4, 4})
			b.node("BatchNormalization", "bn", []string{"a", "sc", "bi", "mu", "va"}, []string{"v"}, attrFloat("epsilon", 0))
			return b.output("v")
		}, "v", []int{1, 6}, []float64{-0.5, 0, 0.5, 1, 1.5, 2}},
		{"constant nodes fold", x6, func() *mb {
			b := newMB(13, 1, 1, 1, 6)
			b.node("Constant", "c1", nil, []string{"c"}, attrFloats("value_floats", 1, 2, 3, 4, 5, 6))
			b.node("Constant", "c2", nil, []string{"two"}, attrFloat("value_float", 2))
			b.node("Pow", "p", []string{"c", "two"}, []string{"c2"})
			b.node("Add", "a", []string{"x", "c2"}, []string{"v"})
			return flat(b, "v")
		}, "v", []int{1, 1, 1, 6}, []float64{1, 5, 11, 19, 29, 41}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := runTap(t, tc.build(), tc.x, tc.tap)
			want := tc.want
			if tc.name == "gemm alpha beta transA" {
				for i := 0; i < 6; i++ {
					want = append(want, 2*float64(i)+5, -2*float64(i)+10)
				}
			}
			if err := near(got, tc.shape, want, 1e-5); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// softmaxRef is the softmax of 0, s, 2s, ... over consecutive groups of
// size group.
func softmaxRef(n, group int, s float64) []float64 {
	out := make([]float64, n)
	for lo := 0; lo < n; lo += group {
		sum := 0.0
		for i := lo; i < lo+group; i++ {
			sum += math.Exp(float64(float32(float64(i) * s)))
		}
		for i := lo; i < lo+group; i++ {
			out[i] = math.Exp(float64(float32(float64(i)*s))) / sum
		}
	}
	return out
}

// Padding forms that must agree: auto_pad against explicit pads, and an
// average pool with ceil_mode and count_include_pad against PyTorch's own
// export of it (explicit Pad, then ceil_mode without count_include_pad,
// which the zoo fixtures check against PyTorch).
func TestPaddingForms(t *testing.T) {
	x := tensor.FromFloat32(seq(2*6*7, 0.01), 1, 2, 6, 7)
	w := seq(3*2*4*4, 0.003)
	conv := func(attrs ...*pb.AttributeProto) *mb {
		b := newMB(13, 1, 2, 6, 7).init("w", []int{3, 2, 4, 4}, w)
		return b.node("Conv", "conv", []string{"x", "w"}, []string{"v"}, attrs...).node("Flatten", "f", []string{"v"}, []string{"y"})
	}
	pairs := []struct {
		name string
		a, b *mb
	}{
		{"SAME_UPPER", conv(attrString("auto_pad", "SAME_UPPER")), conv(attrInts("pads", 1, 1, 2, 2))},
		{"SAME_LOWER", conv(attrString("auto_pad", "SAME_LOWER")), conv(attrInts("pads", 2, 2, 1, 1))},
		{"avg ceil count_include_pad",
			newMB(13, 1, 2, 6, 7).node("AveragePool", "p", []string{"x"}, []string{"v"}, attrInts("kernel_shape", 3, 3), attrInts("strides", 2, 2),
				attrInts("pads", 1, 1, 1, 1), attrInt("ceil_mode", 1), attrInt("count_include_pad", 1)).node("Flatten", "f", []string{"v"}, []string{"y"}),
			newMB(13, 1, 2, 6, 7).ints("pads", 0, 0, 1, 1, 0, 0, 1, 1).node("Pad", "pad", []string{"x", "pads"}, []string{"xp"}).
				node("AveragePool", "p", []string{"xp"}, []string{"v"}, attrInts("kernel_shape", 3, 3), attrInts("strides", 2, 2), attrInt("ceil_mode", 1)).
				node("Flatten", "f", []string{"v"}, []string{"y"})},
	}
	for _, p := range pairs {
		a, b := runTap(t, p.a, x, "v"), runTap(t, p.b, x, "v")
		if !slices.Equal(a.Shape(), b.Shape()) || tensor.MaxAbsDiff(a, b) > 1e-6 {
			t.Errorf("%s: %v %v differ by %g", p.name, a.Shape(), b.Shape(), tensor.MaxAbsDiff(a, b))
		}
		if p.name == "avg ceil count_include_pad" && !slices.Equal(a.Shape(), []int{1, 2, 4, 4}) {
			t.Errorf("%s: shape %v, want [1 2 4 4] (ceil mode)", p.name, a.Shape())
		}
	}
}
