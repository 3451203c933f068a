package onnx

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/onnx/pb"
	"github.com/arp-robustness/arp/tensor"
)

// opDef describes an operator: its number of inputs (maxIn -1: any) and how
// a node of it is turned into a kernel.
type opDef struct {
	minIn, maxIn int
	noFold       bool
	compile      func(c *compiler, n *Node) (kernel, error)
}

type compiler struct {
	g     *Graph
	opset int64
}

// constOf returns the folded constant named name, if it is one.
func (c *compiler) constOf(name string) (value, bool) {
	v, ok := c.g.consts[name]
	return v, ok
}

var ops map[string]opDef

// SupportedOps lists the operators arp imports, sorted.
func SupportedOps() []string {
	return slices.Sorted(maps.Keys(ops))
}

func init() {
	ops = map[string]opDef{
		"Add": {2, 2, false, elementwise("Add")}, "Sub": {2, 2, false, elementwise("Sub")},
		"Mul": {2, 2, false, elementwise("Mul")}, "Div": {2, 2, false, elementwise("Div")},
		"Pow": {2, 2, false, elementwise("Pow")}, "Sum": {1, -1, false, compileSum},
		"Relu": {1, 1, false, unary("Relu")}, "Sigmoid": {1, 1, false, unary("Sigmoid")},
		"Tanh": {1, 1, false, unary("Tanh")}, "Exp": {1, 1, false, unary("Exp")},
		"Log": {1, 1, false, unary("Log")}, "Sqrt": {1, 1, false, unary("Sqrt")},
		"Neg": {1, 1, false, unary("Neg")}, "Abs": {1, 1, false, unary("Abs")},
		"Identity":  {1, 1, false, unary("Identity")},
		"LeakyRelu": {1, 1, false, compileLeakyRelu}, "HardSigmoid": {1, 1, false, compileHardSigmoid},
		"HardSwish": {1, 1, false, compileHardSwish},
		"Clip":      {1, 3, false, compileClip},
		"Conv":      {2, 3, false, compileConv}, "Gemm": {2, 3, false, compileGemm},
		"MatMul": {2, 2, false, compileMatMul}, "MaxPool": {1, 1, false, compilePool(true)},
		"AveragePool": {1, 1, false, compilePool(false)}, "GlobalAveragePool": {1, 1, false, compileGlobalPool(false)},
		"GlobalMaxPool": {1, 1, false, compileGlobalPool(true)}, "BatchNormalization": {5, 5, false, compileBatchNorm},
		"LRN": {1, 1, false, compileLRN}, "Concat": {1, -1, false, compileConcat},
		"Flatten": {1, 1, false, compileFlatten}, "Reshape": {1, 2, false, compileReshape},
		"Transpose": {1, 1, false, compileTranspose}, "Pad": {1, 4, false, compilePad},
		"Softmax": {1, 1, false, compileSoftmax(false)}, "LogSoftmax": {1, 1, false, compileSoftmax(true)},
		"Dropout": {1, 3, false, compileDropout}, "Constant": {0, 0, false, compileConstant},
		"Shape": {1, 1, false, compileShape}, "Size": {1, 1, false, compileSize},
		"Gather": {2, 2, false, compileGather}, "Unsqueeze": {1, 2, false, compileSqueeze(true)},
		"Squeeze": {1, 2, false, compileSqueeze(false)}, "Cast": {1, 1, false, compileCast},
		"Slice": {1, 5, false, compileSlice}, "ConstantOfShape": {1, 1, false, compileConstantOfShape},
		"ReduceMean": {1, 2, false, compileReduce("Mean")}, "ReduceSum": {1, 2, false, compileReduce("Sum")},
		"ReduceMax": {1, 2, false, compileReduce("Max")}, "ReduceMin": {1, 2, false, compileReduce("Min")},
		"Expand": {2, 2, false, compileExpand}, "Split": {1, 2, false, compileSplit},
	}
}

// ---- attributes

func (n *Node) attr(name string, want ...pb.AttributeProto_AttributeType) (*Attr, error) {
	a, ok := n.Attrs[name]
	if !ok {
		return nil, nil
	}
	if !slices.Contains(want, a.Type) {
		return nil, fmt.Errorf("attribute %q has type %v, want %v", name, a.Type, want[0])
	}
	return a, nil
}

func (n *Node) intAttr(name string, def int64) (int64, error) {
	a, err := n.attr(name, pb.AttributeProto_INT)
	if a == nil || err != nil {
		return def, err
	}
	return a.I, nil
}

// intsAttr returns nil when the attribute is absent.
func (n *Node) intsAttr(name string) ([]int64, error) {
	a, err := n.attr(name, pb.AttributeProto_INTS)
	if a == nil || err != nil {
		return nil, err
	}
	return append([]int64{}, a.Ints...), nil
}

func (n *Node) floatAttr(name string, def float32) (float32, error) {
	a, err := n.attr(name, pb.AttributeProto_FLOAT)
	if a == nil || err != nil {
		return def, err
	}
	return a.F, nil
}

func (n *Node) stringAttr(name, def string) (string, error) {
	a, err := n.attr(name, pb.AttributeProto_STRING)
	if a == nil || err != nil {
		return def, err
	}
	return a.S, nil
}

// attrs reads several attributes, returning the first error.
type attrReader struct {
	n   *Node
	err error
}

func (r *attrReader) int(name string, def int64) int64 {
	v, err := r.n.intAttr(name, def)
	if r.err == nil {
		r.err = err
	}
	return v
}

func (r *attrReader) ints(name string) []int64 {
	v, err := r.n.intsAttr(name)
	if r.err == nil {
		r.err = err
	}
	return v
}

// float reads a float attribute as the shortest decimal that rounds to the
// stored float32 (so 1e-5 is 1e-5, not 9.99999974738e-06): producers write
// these attributes from decimal settings, and arp computes in float64 where
// it can.
func (r *attrReader) float(name string, def float32) float64 {
	v, err := r.n.floatAttr(name, def)
	if r.err == nil {
		r.err = err
	}
	return decimal32(v)
}

func decimal32(v float32) float64 {
	f, err := strconv.ParseFloat(strconv.FormatFloat(float64(v), 'g', -1, 32), 64)
	if err != nil {
		return float64(v)
	}
	return f
}

func (r *attrReader) str(name, def string) string {
	v, err := r.n.stringAttr(name, def)
	if r.err == nil {
		r.err = err
	}
	return v
}

// ---- value helpers

// fv returns a value as a float variable of the pass's type.
func (e *env) fv(v value) *autograd.Var {
	if v.v != nil {
		if v.v.DType() != e.dt {
			return autograd.Const(v.v.Value().AsType(e.dt))
		}
		return v.v
	}
	return v.it.toFloat(e.dt)
}

// ints returns an integer value (shapes, axes, indices).
func ints(v value, what string) (*intTensor, error) {
	if v.it == nil {
		return nil, fmt.Errorf("%s must be an integer tensor", what)
	}
	return v.it, nil
}

// intList returns a 0-d or 1-d integer value as a list.
func intList(v value, what string) ([]int64, error) {
	t, err := ints(v, what)
	if err != nil {
		return nil, err
	}
	if len(t.shape) > 1 {
		return nil, fmt.Errorf("%s has shape %v, want a list", what, t.shape)
	}
	return t.data, nil
}

// scalarFloat returns a one-element value as a number.
func scalarFloat(v value, what string) (float64, error) {
	if v.it != nil {
		if len(v.it.data) != 1 {
			return 0, fmt.Errorf("%s has shape %v, want a scalar", what, v.it.shape)
		}
		return float64(v.it.data[0]), nil
	}
	if v.v.Value().Size() != 1 {
		return 0, fmt.Errorf("%s has shape %v, want a scalar", what, v.v.Shape())
	}
	return v.v.Value().AtFlat(0), nil
}

func normAxis(axis int64, rank int) (int, error) {
	a := axis
	if a < 0 {
		a += int64(rank)
	}
	if a < 0 || a >= int64(rank) {
		return 0, fmt.Errorf("axis %d out of range for rank %d", axis, rank)
	}
	return int(a), nil
}

func one(v value) []value { return []value{v} }

func fl(v *autograd.Var) []value { return []value{{v: v}} }

// ---- elementwise

func elementwise(op string) func(c *compiler, n *Node) (kernel, error) {
	return func(c *compiler, n *Node) (kernel, error) {
		if c.opset < 7 {
			if _, ok := n.Attrs["broadcast"]; ok {
				return nil, errors.New("legacy broadcast attribute (opset < 7) is not supported")
			}
		}
		return func(e *env, in []value) ([]value, error) {
			a, b := in[0], in[1]
			if a.it != nil && b.it != nil && op != "Pow" {
				r, err := broadcastInts(a.it, b.it, func(x, y int64) (int64, error) {
					switch op {
					case "Add":
						return x + y, nil
					case "Sub":
						return x - y, nil
					case "Mul":
						return x * y, nil
					}
					if y == 0 {
						return 0, errors.New("integer division by zero")
					}
					return x / y, nil
				})
				if err != nil {
					return nil, err
				}
				return one(value{it: r}), nil
			}
			x, y := e.fv(a), e.fv(b)
			out, ok := tensor.BroadcastShapes(x.Shape(), y.Shape())
			if !ok {
				return nil, fmt.Errorf("shapes %v and %v do not broadcast", x.Shape(), y.Shape())
			}
			if err := checkSize(out); err != nil {
				return nil, err
			}
			switch op {
			case "Add":
				return fl(autograd.Add(x, y)), nil
			case "Sub":
				return fl(autograd.Sub(x, y)), nil
			case "Mul":
				return fl(autograd.Mul(x, y)), nil
			case "Div":
				return fl(autograd.Div(x, y)), nil
			}
			if !y.RequiresGrad() && y.Value().Size() == 1 {
				p := y.Value().AtFlat(0)
				if len(y.Shape()) <= len(x.Shape()) {
					return fl(autograd.Pow(x, p)), nil
				}
			}
			return fl(autograd.PowVar(x, y)), nil
		}, nil
	}
}

func compileSum(c *compiler, n *Node) (kernel, error) {
	return func(e *env, in []value) ([]value, error) {
		s := e.fv(in[0])
		for _, v := range in[1:] {
			if !v.present() {
				return nil, errors.New("empty input")
			}
			s = autograd.Add(s, e.fv(v))
		}
		return fl(s), nil
	}, nil
}

func unary(op string) func(c *compiler, n *Node) (kernel, error) {
	return func(c *compiler, n *Node) (kernel, error) {
		return func(e *env, in []value) ([]value, error) {
			if in[0].it != nil {
				t := in[0].it
				switch op {
				case "Identity":
					return one(in[0]), nil
				case "Neg", "Abs":
					d := make([]int64, len(t.data))
					for i, v := range t.data {
						if op == "Neg" || v < 0 {
							v = -v
						}
						d[i] = v
					}
					return one(value{it: newInts(t.shape, d)}), nil
				}
			}
			x := e.fv(in[0])
			switch op {
			case "Relu":
				x = autograd.Relu(x)
			case "Sigmoid":
				x = autograd.Sigmoid(x)
			case "Tanh":
				x = autograd.Tanh(x)
			case "Exp":
				x = autograd.Exp(x)
			case "Log":
				x = autograd.Log(x)
			case "Sqrt":
				x = autograd.Sqrt(x)
			case "Neg":
				x = autograd.Neg(x)
			case "Abs":
				x = autograd.Abs(x)
			}
			return fl(x), nil
		}, nil
	}
}

func compileLeakyRelu(c *compiler, n *Node) (kernel, error) {
	r := attrReader{n: n}
	alpha := r.float("alpha", 0.01)
	return func(e *env, in []value) ([]value, error) {
		return fl(autograd.LeakyRelu(e.fv(in[0]), alpha)), nil
	}, r.err
}

func hardSigmoid(x *autograd.Var, alpha, beta float64) *autograd.Var {
	return autograd.Clamp(autograd.AddScalar(autograd.Scale(x, alpha), beta), 0, 1)
}

func compileHardSigmoid(c *compiler, n *Node) (kernel, error) {
	r := attrReader{n: n}
	alpha, beta := r.float("alpha", 0.2), r.float("beta", 0.5)
	return func(e *env, in []value) ([]value, error) {
		return fl(hardSigmoid(e.fv(in[0]), alpha, beta)), nil
	}, r.err
}

func compileHardSwish(c *compiler, n *Node) (kernel, error) {
	return func(e *env, in []value) ([]value, error) {
		x := e.fv(in[0])
		return fl(autograd.Mul(x, hardSigmoid(x, 1.0/6, 0.5))), nil
	}, nil
}

func compileClip(c *compiler, n *Node) (kernel, error) {
	lo, hi := math.Inf(-1), math.Inf(1)
	if c.opset < 11 {
		r := attrReader{n: n}
		lo, hi = r.float("min", -math.MaxFloat32), r.float("max", math.MaxFloat32)
		if r.err != nil {
			return nil, r.err
		}
		if len(n.Inputs) > 1 {
			return nil, fmt.Errorf("takes min/max as attributes before opset 11, not inputs")
		}
	}
	return func(e *env, in []value) ([]value, error) {
		l, h := lo, hi
		var err error
		if len(in) > 1 && in[1].present() {
			if l, err = scalarFloat(in[1], "min"); err != nil {
				return nil, err
			}
		}
		if len(in) > 2 && in[2].present() {
			if h, err = scalarFloat(in[2], "max"); err != nil {
				return nil, err
			}
		}
		if in[0].it != nil {
			t := in[0].it
			d := make([]int64, len(t.data))
			for i, v := range t.data {
				d[i] = int64(math.Min(math.Max(float64(v), l), h))
			}
			return one(value{it: newInts(t.shape, d)}), nil
		}
		return fl(autograd.Clamp(e.fv(in[0]), l, h)), nil
	}, nil
}

// ---- convolution and pooling

// window holds the placement attributes of Conv and the pools.
type window struct {
	kernel, strides, dilations, pads []int64
	autoPad                          string
	ceil                             bool
}

func readWindow(n *Node, pool bool) (window, error) {
	r := attrReader{n: n}
	w := window{kernel: r.ints("kernel_shape"), strides: r.ints("strides"), dilations: r.ints("dilations"),
		pads: r.ints("pads"), autoPad: r.str("auto_pad", "NOTSET"), ceil: r.int("ceil_mode", 0) != 0}
	if r.err != nil {
		return w, r.err
	}
	if pool && len(w.kernel) == 0 {
		return w, errors.New("attribute kernel_shape is required")
	}
	switch w.autoPad {
	case "NOTSET", "", "VALID", "SAME_UPPER", "SAME_LOWER":
	default:
		return w, fmt.Errorf("auto_pad %q is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER", w.autoPad)
	}
	if len(w.kernel) != 0 && len(w.kernel) != 2 {
		return w, fmt.Errorf("kernel_shape %v: only 2-D windows are supported", w.kernel)
	}
	for name, v := range map[string][]int64{"strides": w.strides, "dilations": w.dilations} {
		if v != nil && len(v) != 2 {
			return w, fmt.Errorf("%s %v: want 2 values (only 2-D windows are supported)", name, v)
		}
		for _, x := range v {
			if x < 1 || x > 1<<20 {
				return w, fmt.Errorf("%s %v: values must be positive", name, v)
			}
		}
	}
	if w.pads != nil && len(w.pads) != 4 {
		return w, fmt.Errorf("pads %v: want 4 values (only 2-D windows are supported)", w.pads)
	}
	for _, x := range w.pads {
		if x < 0 || x > 1<<20 {
			return w, fmt.Errorf("pads %v: values must be non-negative", w.pads)
		}
	}
	for _, x := range w.kernel {
		if x < 1 || x > 1<<20 {
			return w, fmt.Errorf("kernel_shape %v: values must be positive", w.kernel)
		}
	}
	return w, nil
}

func at(v []int64, i int, def int) int {
	if v == nil {
		return def
	}
	return int(v[i])
}

// params resolves the window on an input of spatial size h x w with kernel
// kh x kw. extraH/W are added at the bottom/right for ceil_mode.
func (w window) params(h, wd, kh, kw int) (tensor.Conv2dParams, error) {
	p := tensor.Conv2dParams{StrideH: at(w.strides, 0, 1), StrideW: at(w.strides, 1, 1),
		DilationH: at(w.dilations, 0, 1), DilationW: at(w.dilations, 1, 1)}
	switch w.autoPad {
	case "SAME_UPPER", "SAME_LOWER":
		p.PadTop, p.PadBottom = tensor.SamePadding(h, kh, p.StrideH, p.DilationH)
		p.PadLeft, p.PadRight = tensor.SamePadding(wd, kw, p.StrideW, p.DilationW)
		if w.autoPad == "SAME_LOWER" {
			p.PadTop, p.PadBottom = p.PadBottom, p.PadTop
			p.PadLeft, p.PadRight = p.PadRight, p.PadLeft
		}
	case "VALID":
	default:
		p.PadTop, p.PadLeft, p.PadBottom, p.PadRight = at(w.pads, 0, 0), at(w.pads, 1, 0), at(w.pads, 2, 0), at(w.pads, 3, 0)
	}
	if (kh-1)*p.DilationH+1 > h+p.PadTop+p.PadBottom || (kw-1)*p.DilationW+1 > wd+p.PadLeft+p.PadRight {
		return p, fmt.Errorf("window %dx%d (dilation %d,%d) is larger than the padded input %dx%d", kh, kw, p.DilationH, p.DilationW, h+p.PadTop+p.PadBottom, wd+p.PadLeft+p.PadRight)
	}
	return p, nil
}

// ceilExtra returns how many rows to add after the input so that floor
// division gives PyTorch's ceil_mode output size (the last window must
// start inside the input or its leading padding).
func ceilExtra(in, k, s, d, before, after int) int {
	eff := (k-1)*d + 1
	span := in + before + after - eff
	o := (span+s-1)/s + 1
	if (o-1)*s >= in+before {
		o--
	}
	need := (o-1)*s + eff - (in + before + after)
	return max(need, 0)
}

// convSpec is a compiled Conv node: its window placement and groups.
type convSpec struct {
	w     window
	group int
}

func readConv(n *Node) (convSpec, error) {
	w, err := readWindow(n, false)
	if err != nil {
		return convSpec{}, err
	}
	group, err := n.intAttr("group", 1)
	if err != nil {
		return convSpec{}, err
	}
	if group < 1 || group > 1<<20 {
		return convSpec{}, fmt.Errorf("group %d must be positive", group)
	}
	return convSpec{w: w, group: int(group)}, nil
}

func compileConv(c *compiler, n *Node) (kernel, error) {
	cs, err := readConv(n)
	if err != nil {
		return nil, err
	}
	return func(e *env, in []value) ([]value, error) {
		var b *autograd.Var
		if len(in) > 2 && in[2].present() {
			b = e.fv(in[2])
		}
		y, err := cs.apply(e.fv(in[0]), e.fv(in[1]), b, false)
		if err != nil {
			return nil, err
		}
		return fl(y), nil
	}, nil
}

// params checks the operands of the convolution and resolves its window.
func (cs convSpec) params(xs, ws []int) (tensor.Conv2dParams, error) {
	w := cs.w
	if len(xs) != 4 || len(ws) != 4 {
		return tensor.Conv2dParams{}, fmt.Errorf("input %v and weight %v: only 2-D convolutions ([N,C,H,W] inputs) are supported", xs, ws)
	}
	if w.kernel != nil && (int(w.kernel[0]) != ws[2] || int(w.kernel[1]) != ws[3]) {
		return tensor.Conv2dParams{}, fmt.Errorf("kernel_shape %v does not match the weight %v", w.kernel, ws)
	}
	g := cs.group
	if xs[1] != ws[1]*g || ws[0]%g != 0 {
		return tensor.Conv2dParams{}, fmt.Errorf("input %v, weight %v and group %d do not fit", xs, ws, g)
	}
	p, err := w.params(xs[2], xs[3], ws[2], ws[3])
	if err != nil {
		return p, err
	}
	oh := tensor.ConvOutSize(xs[2], ws[2], p.StrideH, p.PadTop, p.PadBottom, p.DilationH)
	ow := tensor.ConvOutSize(xs[3], ws[3], p.StrideW, p.PadLeft, p.PadRight, p.DilationW)
	if err := checkSize([]int{xs[0], max(ws[0], xs[1]*ws[2]*ws[3]), oh, ow}); err != nil {
		return p, err
	}
	return p, nil
}

// apply convolves x with wt and adds the bias b (nil: none), then applies
// ReLU when relu is set (one fused op for a single group).
func (cs convSpec) apply(x, wt, b *autograd.Var, relu bool) (*autograd.Var, error) {
	xs, ws := x.Shape(), wt.Shape()
	p, err := cs.params(xs, ws)
	if err != nil {
		return nil, err
	}
	if b != nil && (len(b.Shape()) != 1 || b.Shape()[0] != ws[0]) {
		return nil, fmt.Errorf("bias %v for %d filters", b.Shape(), ws[0])
	}
	g := cs.group
	if g == 1 {
		if relu {
			return autograd.Conv2dBiasRelu(x, wt, b, p), nil
		}
		return autograd.Conv2dBias(x, wt, b, p), nil
	}
	// Grouped convolution as one convolution per group.
	ci, co := ws[1], ws[0]/g
	parts := make([]*autograd.Var, g)
	for i := 0; i < g; i++ {
		var bi *autograd.Var
		if b != nil {
			bi = autograd.Slice(b, 0, i*co, (i+1)*co)
		}
		parts[i] = autograd.Conv2dBias(autograd.Slice(x, 1, i*ci, (i+1)*ci), autograd.Slice(wt, 0, i*co, (i+1)*co), bi, p)
	}
	y := autograd.Concat(1, parts...)
	if relu {
		y = autograd.Relu(y)
	}
	return y, nil
}

// poolSpec is a compiled MaxPool or AveragePool node.
type poolSpec struct {
	w        window
	kh, kw   int
	isMax    bool
	countPad bool
}

func readPool(n *Node, isMax bool) (poolSpec, error) {
	w, err := readWindow(n, true)
	if err != nil {
		return poolSpec{}, err
	}
	countPad, err := n.intAttr("count_include_pad", 0)
	if err != nil {
		return poolSpec{}, err
	}
	if !isMax && w.dilations != nil && (w.dilations[0] != 1 || w.dilations[1] != 1) {
		return poolSpec{}, fmt.Errorf("dilations %v are not supported for average pooling", w.dilations)
	}
	if len(n.Outputs) > 1 && n.Outputs[1] != "" {
		return poolSpec{}, errors.New("the Indices output of MaxPool is not supported")
	}
	if so, _ := n.intAttr("storage_order", 0); so != 0 {
		return poolSpec{}, errors.New("storage_order 1 is not supported")
	}
	return poolSpec{w: w, kh: int(w.kernel[0]), kw: int(w.kernel[1]), isMax: isMax, countPad: countPad != 0}, nil
}

func compilePool(isMax bool) func(c *compiler, n *Node) (kernel, error) {
	return func(c *compiler, n *Node) (kernel, error) {
		ps, err := readPool(n, isMax)
		if err != nil {
			return nil, err
		}
		return func(e *env, in []value) ([]value, error) {
			y, err := ps.apply(e, e.fv(in[0]))
			if err != nil {
				return nil, err
			}
			return fl(y), nil
		}, nil
	}
}

// params resolves the window on an input of shape xs. padB and padR are
// the bottom and right padding before ceil_mode's extra rows and columns.
func (ps poolSpec) params(xs []int) (p tensor.Conv2dParams, padB, padR int, err error) {
	if len(xs) != 4 {
		return p, 0, 0, fmt.Errorf("input %v: only 2-D pooling ([N,C,H,W] inputs) is supported", xs)
	}
	kh, kw := ps.kh, ps.kw
	if p, err = ps.w.params(xs[2], xs[3], kh, kw); err != nil {
		return p, 0, 0, err
	}
	padB, padR = p.PadBottom, p.PadRight
	if ps.w.ceil {
		p.PadBottom += ceilExtra(xs[2], kh, p.StrideH, p.DilationH, p.PadTop, p.PadBottom)
		p.PadRight += ceilExtra(xs[3], kw, p.StrideW, p.DilationW, p.PadLeft, p.PadRight)
	}
	oh := tensor.ConvOutSize(xs[2], kh, p.StrideH, p.PadTop, p.PadBottom, p.DilationH)
	ow := tensor.ConvOutSize(xs[3], kw, p.StrideW, p.PadLeft, p.PadRight, p.DilationW)
	if err := checkSize([]int{xs[0], xs[1], oh, ow}); err != nil {
		return p, 0, 0, err
	}
	return p, padB, padR, nil
}

func (ps poolSpec) apply(e *env, x *autograd.Var) (*autograd.Var, error) {
	xs := x.Shape()
	p, padB, padR, err := ps.params(xs)
	if err != nil {
		return nil, err
	}
	kh, kw := ps.kh, ps.kw
	if ps.isMax {
		return autograd.MaxPool2d(x, kh, kw, p), nil
	}
	y := autograd.AvgPool2d(x, kh, kw, p, ps.countPad)
	if ps.countPad && (p.PadBottom != padB || p.PadRight != padR) {
		// PyTorch counts padding but not the extra ceil_mode rows
		// and columns: rescale the windows that reach them.
		ys := y.Shape()
		corr := make([]float64, ys[2]*ys[3])
		for i := 0; i < ys[2]; i++ {
			hs := i*p.StrideH - p.PadTop
			he := min(hs+kh, xs[2]+padB)
			for j := 0; j < ys[3]; j++ {
				ws := j*p.StrideW - p.PadLeft
				we := min(ws+kw, xs[3]+padR)
				corr[i*ys[3]+j] = float64(kh*kw) / float64((he-hs)*(we-ws))
			}
		}
		y = autograd.Mul(y, e.constVar(tensor.FromFloat64(corr, 1, 1, ys[2], ys[3])))
	}
	return y, nil
}

func compileGlobalPool(isMax bool) func(c *compiler, n *Node) (kernel, error) {
	return func(c *compiler, n *Node) (kernel, error) {
		return func(e *env, in []value) ([]value, error) {
			x := e.fv(in[0])
			s := x.Shape()
			if len(s) < 3 {
				return nil, fmt.Errorf("input %v: want [N,C,spatial...]", s)
			}
			keep := append([]int{s[0], s[1]}, make([]int, len(s)-2)...)
			for i := 2; i < len(s); i++ {
				keep[i] = 1
			}
			if isMax {
				y := autograd.Max(autograd.Reshape(x, s[0], s[1], -1), 2, false)
				return fl(autograd.Reshape(y, keep...)), nil
			}
			if len(s) == 4 {
				return fl(autograd.Reshape(autograd.GlobalAvgPool(x), keep...)), nil
			}
			axes := make([]int, 0, len(s)-2)
			for i := 2; i < len(s); i++ {
				axes = append(axes, i)
			}
			return fl(autograd.Mean(x, true, axes...)), nil
		}, nil
	}
}

// bnSpec is a compiled inference-mode BatchNormalization node: per channel
// y = (x - mean) / sqrt(var + eps) * scale + bias.
type bnSpec struct {
	scale, bias, mean, vr *tensor.Tensor // [C]
	eps                   float64
}

func readBatchNorm(c *compiler, n *Node) (bnSpec, error) {
	r := attrReader{n: n}
	eps := r.float("epsilon", 1e-5)
	train := r.int("training_mode", 0)
	if r.err != nil {
		return bnSpec{}, r.err
	}
	if train != 0 {
		return bnSpec{}, errors.New("training_mode 1 is not supported (arp imports inference graphs)")
	}
	for _, o := range n.Outputs[1:] {
		if o != "" {
			return bnSpec{}, errors.New("the running mean/variance outputs (training) are not supported")
		}
	}
	var params [4]*tensor.Tensor
	for i := 0; i < 4; i++ {
		v, ok := c.constOf(n.Inputs[i+1])
		if !ok || v.v == nil {
			return bnSpec{}, fmt.Errorf("input %q (scale, bias, mean, var) must be a constant float tensor", n.Inputs[i+1])
		}
		params[i] = v.v.Value()
		if len(params[i].Shape()) != 1 || params[i].Shape()[0] != params[0].Shape()[0] {
			return bnSpec{}, fmt.Errorf("scale, bias, mean and var must be vectors of one length, got %v and %v", params[0].Shape(), params[i].Shape())
		}
	}
	return bnSpec{scale: params[0], bias: params[1], mean: params[2], vr: params[3], eps: eps}, nil
}

func (bn bnSpec) channels() int { return bn.scale.Shape()[0] }

func compileBatchNorm(c *compiler, n *Node) (kernel, error) {
	bn, err := readBatchNorm(c, n)
	if err != nil {
		return nil, err
	}
	return func(e *env, in []value) ([]value, error) {
		x := e.fv(in[0])
		if s := x.Shape(); len(s) < 2 || s[1] != bn.channels() {
			return nil, fmt.Errorf("input %v for %d channels", s, bn.channels())
		}
		stats := &autograd.BatchNormStats{Mean: bn.mean, Var: bn.vr}
		return fl(autograd.BatchNorm(x, e.constVar(bn.scale), e.constVar(bn.bias), stats, false, 0, bn.eps)), nil
	}, nil
}

func compileLRN(c *compiler, n *Node) (kernel, error) {
	r := attrReader{n: n}
	alpha, beta, bias := r.float("alpha", 1e-4), r.float("beta", 0.75), r.float("bias", 1)
	size := r.int("size", 0)
	if r.err != nil {
		return nil, r.err
	}
	if size < 1 || size%2 == 0 || size > 1<<16 {
		return nil, fmt.Errorf("size %d: only odd window sizes are supported", size)
	}
	return func(e *env, in []value) ([]value, error) {
		x := e.fv(in[0])
		if len(x.Shape()) != 4 {
			return nil, fmt.Errorf("input %v: want [N,C,H,W]", x.Shape())
		}
		return fl(autograd.LRN(x, int(size-1)/2, bias, alpha/float64(size), beta)), nil
	}, nil
}

// ---- matrix products

func compileGemm(c *compiler, n *Node) (kernel, error) {
	r := attrReader{n: n}
	alpha, beta := r.float("alpha", 1), r.float("beta", 1)
	ta, tb := r.int("transA", 0) != 0, r.int("transB", 0) != 0
	if r.err != nil {
		return nil, r.err
	}
	return func(e *env, in []value) ([]value, error) {
		a, b := e.fv(in[0]), e.fv(in[1])
		if len(a.Shape()) != 2 || len(b.Shape()) != 2 {
			return nil, fmt.Errorf("inputs %v and %v: Gemm needs matrices", a.Shape(), b.Shape())
		}
		m, n := a.Shape()[0], b.Shape()[1]
		if ta {
			m = a.Shape()[1]
		}
		if tb {
			n = b.Shape()[0]
		}
		if err := checkSize([]int{m, n}); err != nil {
			return nil, err
		}
		if !ta && tb && alpha == 1 && beta == 1 && len(in) > 2 && in[2].present() {
			if cv := e.fv(in[2]); len(cv.Shape()) == 1 && cv.Shape()[0] == n {
				return fl(autograd.Linear(a, b, cv)), nil // a dense layer
			}
		}
		y := autograd.MatMul(a, b, ta, tb)
		if alpha != 1 {
			y = autograd.Scale(y, alpha)
		}
		if len(in) > 2 && in[2].present() && beta != 0 {
			cv := e.fv(in[2])
			if beta != 1 {
				cv = autograd.Scale(cv, beta)
			}
			y = autograd.Add(y, cv)
		}
		return fl(y), nil
	}, nil
}

func compileMatMul(c *compiler, n *Node) (kernel, error) {
	return func(e *env, in []value) ([]value, error) {
		a, b := e.fv(in[0]), e.fv(in[1])
		as, bs := a.Shape(), b.Shape()
		if len(as) > 0 && len(bs) > 0 {
			if err := checkSize([]int{tensor.Numel(as[:len(as)-1]), bs[len(bs)-1]}); err != nil {
				return nil, err
			}
		}
		switch {
		case len(as) == 1 && len(bs) == 2:
			y := autograd.MatMul(autograd.Reshape(a, 1, as[0]), b, false, false)
			return fl(autograd.Reshape(y, bs[1])), nil
		case len(as) >= 2 && len(bs) == 1:
			y := autograd.MatMul(autograd.Reshape(a, -1, as[len(as)-1]), autograd.Reshape(b, bs[0], 1), false, false)
			return fl(autograd.Reshape(y, as[:len(as)-1]...)), nil
		case len(as) == 2 && len(bs) == 2:
			return fl(autograd.MatMul(a, b, false, false)), nil
		case len(as) > 2 && len(bs) == 2:
			y := autograd.MatMul(autograd.Reshape(a, -1, as[len(as)-1]), b, false, false)
			return fl(autograd.Reshape(y, append(slices.Clone(as[:len(as)-1]), bs[1])...)), nil
		case len(as) > 2 && len(as) == len(bs) && slices.Equal(as[:len(as)-2], bs[:len(bs)-2]):
			r := len(as)
			y := autograd.MatMul(autograd.Reshape(a, -1, as[r-2], as[r-1]), autograd.Reshape(b, -1, bs[r-2], bs[r-1]), false, false)
			return fl(autograd.Reshape(y, append(slices.Clone(as[:r-1]), bs[r-1])...)), nil
		}
		return nil, fmt.Errorf("shapes %v and %v: this MatMul broadcasting is not supported", as, bs)
	}, nil
}

// ---- shapes

func compileConcat(c *compiler, n *Node) (kernel, error) {
	a, err := n.attr("axis", pb.AttributeProto_INT)
	if err != nil {
		return nil, err
	}
	if a == nil {
		return nil, errors.New("attribute axis is required")
	}
	return func(e *env, in []value) ([]value, error) {
		allInt := true
		for _, v := range in {
			if !v.present() {
				return nil, errors.New("empty input")
			}
			if v.it == nil {
				allInt = false
			}
		}
		r := len(in[0].shape())
		ax, err := normAxis(a.I, r)
		if err != nil {
			return nil, err
		}
		for _, v := range in {
			s := v.shape()
			if len(s) != r {
				return nil, fmt.Errorf("inputs of ranks %d and %d", r, len(s))
			}
			for d := range s {
				if d != ax && s[d] != in[0].shape()[d] {
					return nil, fmt.Errorf("inputs of shapes %v and %v do not fit along axis %d", in[0].shape(), s, ax)
				}
			}
		}
		if allInt {
			return one(value{it: concatInts(ax, in)}), nil
		}
		vs := make([]*autograd.Var, len(in))
		for i, v := range in {
			vs[i] = e.fv(v)
		}
		return fl(autograd.Concat(ax, vs...)), nil
	}, nil
}

func concatInts(ax int, in []value) *intTensor {
	shape := slices.Clone(in[0].it.shape)
	shape[ax] = 0
	for _, v := range in {
		shape[ax] += v.it.shape[ax]
	}
	outer := tensor.Numel(shape[:ax])
	var d []int64
	for o := 0; o < outer; o++ {
		for _, v := range in {
			blk := tensor.Numel(v.it.shape[ax:])
			d = append(d, v.it.data[o*blk:(o+1)*blk]...)
		}
	}
	return newInts(shape, d)
}

// reshape gives v a new shape (the data is unchanged).
func reshape(e *env, v value, shape []int) (value, error) {
	if tensor.Numel(shape) != tensor.Numel(v.shape()) {
		return value{}, fmt.Errorf("cannot reshape %v to %v", v.shape(), shape)
	}
	if v.it != nil {
		return value{it: newInts(shape, v.it.data)}, nil
	}
	return value{v: autograd.Reshape(e.fv(v), shape...)}, nil
}

func compileFlatten(c *compiler, n *Node) (kernel, error) {
	axis, err := n.intAttr("axis", 1)
	if err != nil {
		return nil, err
	}
	return func(e *env, in []value) ([]value, error) {
		s := in[0].shape()
		a := int(axis)
		if a < 0 {
			a += len(s)
		}
		if a < 0 || a > len(s) {
			return nil, fmt.Errorf("axis %d out of range for rank %d", axis, len(s))
		}
		v, err := reshape(e, in[0], []int{tensor.Numel(s[:a]), tensor.Numel(s[a:])})
		return one(v), err
	}, nil
}

func compileReshape(c *compiler, n *Node) (kernel, error) {
	allowZero, err := n.intAttr("allowzero", 0)
	if err != nil {
		return nil, err
	}
	var attrShape []int64
	if c.opset < 5 {
		if attrShape, err = n.intsAttr("shape"); err != nil {
			return nil, err
		}
	} else if len(n.Inputs) < 2 || n.Inputs[1] == "" {
		return nil, errors.New("the shape input is required")
	}
	return func(e *env, in []value) ([]value, error) {
		want := attrShape
		if len(in) > 1 && in[1].present() {
			var err error
			if want, err = intList(in[1], "shape"); err != nil {
				return nil, err
			}
		}
		s := in[0].shape()
		shape := make([]int, len(want))
		infer := -1
		known := 1
		for i, d := range want {
			switch {
			case d == 0 && allowZero == 0:
				if i >= len(s) {
					return nil, fmt.Errorf("shape %v copies dimension %d of %v", want, i, s)
				}
				shape[i] = s[i]
			case d == -1:
				if infer >= 0 {
					return nil, fmt.Errorf("shape %v has two -1", want)
				}
				infer = i
				continue
			case d < -1 || d > int64(maxElems):
				return nil, fmt.Errorf("invalid shape %v", want)
			default:
				shape[i] = int(d)
			}
			if shape[i] > 0 && known > maxElems/shape[i] {
				return nil, fmt.Errorf("invalid shape %v", want)
			}
			known *= shape[i]
		}
		total := tensor.Numel(s)
		if infer >= 0 {
			if known == 0 || total%known != 0 {
				return nil, fmt.Errorf("cannot reshape %v to %v", s, want)
			}
			shape[infer] = total / known
		}
		v, err := reshape(e, in[0], shape)
		return one(v), err
	}, nil
}

func compileTranspose(c *compiler, n *Node) (kernel, error) {
	perm, err := n.intsAttr("perm")
	if err != nil {
		return nil, err
	}
	return func(e *env, in []value) ([]value, error) {
		r := len(in[0].shape())
		p := make([]int, r)
		for i := range p {
			p[i] = r - 1 - i
		}
		if perm != nil {
			if len(perm) != r {
				return nil, fmt.Errorf("perm %v for rank %d", perm, r)
			}
			seen := make([]bool, r)
			for i, v := range perm {
				if v < 0 || v >= int64(r) || seen[v] {
					return nil, fmt.Errorf("perm %v is not a permutation", perm)
				}
				seen[v] = true
				p[i] = int(v)
			}
		}
		if in[0].it != nil {
			t := in[0].it
			idx := tensor.Transpose(tensor.FromFloat64(iotaF(len(t.data)), t.shape...), p...)
			id := make([]int32, idx.Size())
			for i := range id {
				id[i] = int32(idx.AtFlat(i))
			}
			return one(value{it: pickInts(t, id, idx.Shape())}), nil
		}
		return fl(autograd.Transpose(e.fv(in[0]), p...)), nil
	}, nil
}

func iotaF(n int) []float64 {
	f := make([]float64, n)
	for i := range f {
		f[i] = float64(i)
	}
	return f
}

func compilePad(c *compiler, n *Node) (kernel, error) {
	r := attrReader{n: n}
	mode := r.str("mode", "constant")
	var attrPads []int64
	var attrValue float64
	if c.opset < 11 {
		attrPads = r.ints("pads")
		attrValue = r.float("value", 0)
		if attrPads == nil && r.err == nil {
			return nil, errors.New("attribute pads is required")
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	if mode != "constant" {
		return nil, fmt.Errorf("mode %q is not supported (only constant)", mode)
	}
	return func(e *env, in []value) ([]value, error) {
		pads, cval := attrPads, attrValue
		var err error
		if c.opset >= 11 {
			if len(in) < 2 || !in[1].present() {
				return nil, errors.New("the pads input is required")
			}
			if pads, err = intList(in[1], "pads"); err != nil {
				return nil, err
			}
			if len(in) > 2 && in[2].present() {
				if cval, err = scalarFloat(in[2], "constant_value"); err != nil {
					return nil, err
				}
			}
		}
		s := in[0].shape()
		r := len(s)
		axes := make([]int, r)
		for i := range axes {
			axes[i] = i
		}
		if len(in) > 3 && in[3].present() {
			al, err := intList(in[3], "axes")
			if err != nil {
				return nil, err
			}
			axes = axes[:0]
			for _, a := range al {
				ax, err := normAxis(a, r)
				if err != nil {
					return nil, err
				}
				axes = append(axes, ax)
			}
		}
		if len(pads) != 2*len(axes) {
			return nil, fmt.Errorf("pads %v for %d axes", pads, len(axes))
		}
		x := e.fv(in[0])
		var mask *tensor.Tensor // 1 where padding was added, for a non-zero value
		for i, ax := range axes {
			before, after := pads[i], pads[i+len(axes)]
			cur := x.Shape()
			if before < -int64(cur[ax]) || after < -int64(cur[ax]) || before > int64(maxElems) || after > int64(maxElems) {
				return nil, fmt.Errorf("pads %v do not fit shape %v", pads, s)
			}
			if before < 0 || after < 0 {
				lo, hi := int(max(-before, 0)), cur[ax]-int(max(-after, 0))
				if lo > hi {
					return nil, fmt.Errorf("pads %v remove more than shape %v", pads, s)
				}
				x = autograd.Slice(x, ax, lo, hi)
				if mask != nil {
					mask = tensor.Slice(mask, ax, lo, hi)
				}
				before, after = max(before, 0), max(after, 0)
			}
			if before == 0 && after == 0 {
				continue
			}
			total := x.Shape()[ax] + int(before) + int(after)
			ns := slices.Clone(x.Shape())
			ns[ax] = total
			if err := checkSize(ns); err != nil {
				return nil, err
			}
			if cval != 0 {
				if mask == nil {
					mask = tensor.Zeros(e.dt, x.Shape()...)
				}
				mask = tensor.PadAxis(tensor.AddScalar(mask, -1), ax, int(before), total)
				mask = tensor.AddScalar(mask, 1)
			}
			x = autograd.PadAxis(x, ax, int(before), total)
		}
		if mask != nil {
			x = autograd.Add(x, autograd.Const(tensor.Scale(mask, cval)))
		}
		return fl(x), nil
	}, nil
}

func compileSoftmax(logSoftmax bool) func(c *compiler, n *Node) (kernel, error) {
	return func(c *compiler, n *Node) (kernel, error) {
		def := int64(-1)
		if c.opset < 13 {
			def = 1
		}
		axis, err := n.intAttr("axis", def)
		if err != nil {
			return nil, err
		}
		return func(e *env, in []value) ([]value, error) {
			x := e.fv(in[0])
			s := x.Shape()
			a, err := normAxis(axis, len(s))
			if err != nil {
				return nil, err
			}
			f := autograd.Softmax
			if logSoftmax {
				f = autograd.LogSoftmax
			}
			if c.opset >= 13 || a == len(s)-1 {
				return fl(f(x, a)), nil
			}
			// Before opset 13 the input is coerced to [prod(s[:a]), prod(s[a:])].
			y := f(autograd.Reshape(x, tensor.Numel(s[:a]), tensor.Numel(s[a:])), 1)
			return fl(autograd.Reshape(y, s...)), nil
		}, nil
	}
}

func compileDropout(c *compiler, n *Node) (kernel, error) {
	return func(e *env, in []value) ([]value, error) {
		out := []value{in[0]}
		if len(n.Outputs) > 1 && n.Outputs[1] != "" {
			s := in[0].shape()
			m := make([]int64, tensor.Numel(s))
			for i := range m {
				m[i] = 1
			}
			out = append(out, value{it: newInts(s, m)})
		}
		return out, nil
	}, nil
}

func compileConstant(c *compiler, n *Node) (kernel, error) {
	if len(n.Attrs) != 1 {
		return nil, fmt.Errorf("needs exactly one value attribute, has %d", len(n.Attrs))
	}
	var v value
	for name, a := range n.Attrs {
		switch {
		case name == "value" && a.Type == pb.AttributeProto_TENSOR && a.T != nil:
			v = constValue(a.T)
		case name == "value_float" && a.Type == pb.AttributeProto_FLOAT:
			v = value{v: autograd.Const(tensor.FromFloat32([]float32{a.F}))}
		case name == "value_floats" && a.Type == pb.AttributeProto_FLOATS:
			v = value{v: autograd.Const(tensor.FromFloat32(slices.Clone(a.Floats), len(a.Floats)))}
		case name == "value_int" && a.Type == pb.AttributeProto_INT:
			v = value{it: scalarInts(a.I)}
		case name == "value_ints" && a.Type == pb.AttributeProto_INTS:
			v = value{it: vecInts(slices.Clone(a.Ints))}
		default:
			return nil, fmt.Errorf("attribute %q of type %v is not supported", name, a.Type)
		}
	}
	return func(e *env, in []value) ([]value, error) { return one(v), nil }, nil
}

func compileShape(c *compiler, n *Node) (kernel, error) {
	r := attrReader{n: n}
	start, end := r.int("start", 0), r.ints("end")
	return func(e *env, in []value) ([]value, error) {
		s := in[0].shape()
		lo, hi := clampRange(start, int64(len(s))), int64(len(s))
		if end != nil {
			hi = clampRange(end[0], int64(len(s)))
		}
		d := []int64{}
		for i := lo; i < hi; i++ {
			d = append(d, int64(s[i]))
		}
		return one(value{it: vecInts(d)}), nil
	}, r.err
}

func clampRange(v, n int64) int64 {
	if v < 0 {
		v += n
	}
	return min(max(v, 0), n)
}

func compileSize(c *compiler, n *Node) (kernel, error) {
	return func(e *env, in []value) ([]value, error) {
		return one(value{it: scalarInts(int64(tensor.Numel(in[0].shape())))}), nil
	}, nil
}

func compileGather(c *compiler, n *Node) (kernel, error) {
	axis, err := n.intAttr("axis", 0)
	if err != nil {
		return nil, err
	}
	return func(e *env, in []value) ([]value, error) {
		idx, err := ints(in[1], "indices")
		if err != nil {
			return nil, err
		}
		s := in[0].shape()
		a, err := normAxis(axis, len(s))
		if err != nil {
			return nil, err
		}
		flat, oshape, err := gatherIndex(s, a, idx.data, idx.shape)
		if err != nil {
			return nil, err
		}
		if in[0].it != nil {
			return one(value{it: pickInts(in[0].it, flat, oshape)}), nil
		}
		return fl(autograd.GatherFlat(e.fv(in[0]), flat, oshape...)), nil
	}, nil
}

func compileSqueeze(unsqueeze bool) func(c *compiler, n *Node) (kernel, error) {
	return func(c *compiler, n *Node) (kernel, error) {
		attrAxes, err := n.intsAttr("axes")
		if err != nil {
			return nil, err
		}
		if unsqueeze && c.opset < 13 && attrAxes == nil {
			return nil, errors.New("attribute axes is required")
		}
		return func(e *env, in []value) ([]value, error) {
			axes := attrAxes
			if len(in) > 1 && in[1].present() {
				if axes, err = intList(in[1], "axes"); err != nil {
					return nil, err
				}
			}
			s := in[0].shape()
			var shape []int
			if unsqueeze {
				r := len(s) + len(axes)
				ins := make([]bool, r)
				for _, a := range axes {
					ax, err := normAxis(a, r)
					if err != nil {
						return nil, err
					}
					if ins[ax] {
						return nil, fmt.Errorf("axes %v repeat an axis", axes)
					}
					ins[ax] = true
				}
				j := 0
				for i := 0; i < r; i++ {
					if ins[i] {
						shape = append(shape, 1)
					} else {
						shape = append(shape, s[j])
						j++
					}
				}
			} else {
				drop := make([]bool, len(s))
				for _, a := range axes {
					ax, err := normAxis(a, len(s))
					if err != nil {
						return nil, err
					}
					if s[ax] != 1 {
						return nil, fmt.Errorf("cannot squeeze axis %d of shape %v", a, s)
					}
					drop[ax] = true
				}
				for i, d := range s {
					if axes == nil && d == 1 || drop[i] {
						continue
					}
					shape = append(shape, d)
				}
			}
			v, err := reshape(e, in[0], shape)
			return one(v), err
		}, nil
	}
}

func compileCast(c *compiler, n *Node) (kernel, error) {
	to, err := n.intAttr("to", 0)
	if err != nil {
		return nil, err
	}
	t := int32(to)
	if _, ok := elemSize[t]; !ok {
		return nil, fmt.Errorf("cast to %s is not supported", typeName(t))
	}
	return func(e *env, in []value) ([]value, error) {
		if isFloatType(t) {
			if in[0].it != nil {
				return fl(in[0].it.toFloat(e.dt)), nil
			}
			return one(in[0]), nil
		}
		var it *intTensor
		if in[0].it != nil {
			it = in[0].it
		} else {
			it = floatToInts(in[0].v.Value())
		}
		if t == typeBool {
			d := make([]int64, len(it.data))
			for i, v := range it.data {
				if v != 0 {
					d[i] = 1
				}
			}
			it = newInts(it.shape, d)
		}
		return one(value{it: it}), nil
	}, nil
}

func compileSlice(c *compiler, n *Node) (kernel, error) {
	r := attrReader{n: n}
	var aStarts, aEnds, aAxes []int64
	if c.opset < 10 {
		aStarts, aEnds, aAxes = r.ints("starts"), r.ints("ends"), r.ints("axes")
		if r.err == nil && (aStarts == nil || aEnds == nil) {
			return nil, errors.New("attributes starts and ends are required")
		}
	} else if len(n.Inputs) < 3 {
		return nil, errors.New("inputs starts and ends are required")
	}
	if r.err != nil {
		return nil, r.err
	}
	return func(e *env, in []value) ([]value, error) {
		starts, ends, axes := aStarts, aEnds, aAxes
		var steps []int64
		var err error
		if c.opset >= 10 {
			if starts, err = intList(in[1], "starts"); err != nil {
				return nil, err
			}
			if ends, err = intList(in[2], "ends"); err != nil {
				return nil, err
			}
			if len(in) > 3 && in[3].present() {
				if axes, err = intList(in[3], "axes"); err != nil {
					return nil, err
				}
			}
			if len(in) > 4 && in[4].present() {
				if steps, err = intList(in[4], "steps"); err != nil {
					return nil, err
				}
			}
		}
		s := in[0].shape()
		if len(starts) != len(ends) || (axes != nil && len(axes) != len(starts)) || (steps != nil && len(steps) != len(starts)) {
			return nil, fmt.Errorf("starts %v, ends %v, axes %v and steps %v differ in length", starts, ends, axes, steps)
		}
		st := make([]int, len(s))
		step := make([]int, len(s))
		cnt := slices.Clone(s)
		for i := range step {
			step[i] = 1
		}
		seen := make([]bool, len(s))
		for i := range starts {
			ax := i
			if axes != nil {
				if ax, err = normAxis(axes[i], len(s)); err != nil {
					return nil, err
				}
			} else if i >= len(s) {
				return nil, fmt.Errorf("%d starts for rank %d", len(starts), len(s))
			}
			if seen[ax] {
				return nil, fmt.Errorf("axes %v repeat an axis", axes)
			}
			seen[ax] = true
			k := int64(1)
			if steps != nil {
				k = steps[i]
			}
			if k == 0 {
				return nil, errors.New("step 0")
			}
			d := int64(s[ax])
			b, en := starts[i], ends[i]
			if b < 0 {
				b += d
			}
			if en < 0 {
				en += d
			}
			var count int64
			if k > 0 {
				b, en = min(max(b, 0), d), min(max(en, 0), d)
				count = max((en-b+k-1)/k, 0)
			} else {
				b, en = min(max(b, -1), d-1), min(max(en, -1), d-1)
				count = max((b-en+(-k)-1)/(-k), 0)
			}
			st[ax], step[ax], cnt[ax] = int(b), int(k), int(count)
		}
		simple := true
		for i := range s {
			if step[i] != 1 {
				simple = false
			}
		}
		if in[0].it == nil && simple {
			x := e.fv(in[0])
			for ax := range s {
				if st[ax] != 0 || cnt[ax] != s[ax] {
					x = autograd.Slice(x, ax, st[ax], st[ax]+cnt[ax])
				}
			}
			return fl(x), nil
		}
		flat, shape := sliceIndex(s, st, step, cnt)
		if in[0].it != nil {
			return one(value{it: pickInts(in[0].it, flat, shape)}), nil
		}
		return fl(autograd.GatherFlat(e.fv(in[0]), flat, shape...)), nil
	}, nil
}

func compileConstantOfShape(c *compiler, n *Node) (kernel, error) {
	a, err := n.attr("value", pb.AttributeProto_TENSOR)
	if err != nil {
		return nil, err
	}
	fill := value{v: autograd.Const(tensor.FromFloat32([]float32{0}))}
	if a != nil && a.T != nil {
		if len(a.T.F)+len(a.T.I) != 1 {
			return nil, errors.New("attribute value must hold one element")
		}
		fill = constValue(a.T)
	}
	return func(e *env, in []value) ([]value, error) {
		sh, err := intList(in[0], "shape")
		if err != nil {
			return nil, err
		}
		shape := make([]int, len(sh))
		for i, d := range sh {
			if d < 0 || d > int64(maxElems) {
				return nil, fmt.Errorf("invalid shape %v", sh)
			}
			shape[i] = int(d)
		}
		if err := checkSize(shape); err != nil {
			return nil, err
		}
		if fill.it != nil {
			d := make([]int64, tensor.Numel(shape))
			for i := range d {
				d[i] = fill.it.data[0]
			}
			return one(value{it: newInts(shape, d)}), nil
		}
		return fl(e.constVar(tensor.Full(tensor.Float32, fill.v.Value().AtFlat(0), shape...))), nil
	}, nil
}

func compileReduce(op string) func(c *compiler, n *Node) (kernel, error) {
	return func(c *compiler, n *Node) (kernel, error) {
		r := attrReader{n: n}
		attrAxes := r.ints("axes")
		keep := r.int("keepdims", 1) != 0
		noop := r.int("noop_with_empty_axes", 0) != 0
		if r.err != nil {
			return nil, r.err
		}
		return func(e *env, in []value) ([]value, error) {
			axes := attrAxes
			var err error
			if len(in) > 1 && in[1].present() {
				if axes, err = intList(in[1], "axes"); err != nil {
					return nil, err
				}
			}
			x := e.fv(in[0])
			s := x.Shape()
			if len(axes) == 0 {
				if noop {
					return fl(x), nil
				}
				for i := range s {
					axes = append(axes, int64(i))
				}
			}
			ax := make([]int, len(axes))
			for i, a := range axes {
				if ax[i], err = normAxis(a, len(s)); err != nil {
					return nil, err
				}
			}
			switch op {
			case "Mean":
				return fl(autograd.Mean(x, keep, ax...)), nil
			case "Sum":
				return fl(autograd.Sum(x, keep, ax...)), nil
			}
			y := x
			for _, a := range ax {
				if op == "Max" {
					y = autograd.Max(y, a, true)
				} else {
					y = autograd.Min(y, a, true)
				}
			}
			if !keep {
				var shape []int
				for i, d := range y.Shape() {
					if !slices.Contains(ax, i) {
						shape = append(shape, d)
					}
				}
				y = autograd.Reshape(y, shape...)
			}
			return fl(y), nil
		}, nil
	}
}

func compileExpand(c *compiler, n *Node) (kernel, error) {
	return func(e *env, in []value) ([]value, error) {
		sh, err := intList(in[1], "shape")
		if err != nil {
			return nil, err
		}
		want := make([]int, len(sh))
		for i, d := range sh {
			if d < 0 || d > int64(maxElems) {
				return nil, fmt.Errorf("invalid shape %v", sh)
			}
			want[i] = int(d)
		}
		out, ok := tensor.BroadcastShapes(in[0].shape(), want)
		if !ok {
			return nil, fmt.Errorf("shape %v does not broadcast to %v", in[0].shape(), want)
		}
		if err := checkSize(out); err != nil {
			return nil, err
		}
		if in[0].it != nil {
			r, err := broadcastInts(in[0].it, newInts(out, make([]int64, tensor.Numel(out))), func(x, y int64) (int64, error) { return x, nil })
			return one(value{it: r}), err
		}
		return fl(autograd.BroadcastTo(e.fv(in[0]), out...)), nil
	}, nil
}

func compileSplit(c *compiler, n *Node) (kernel, error) {
	r := attrReader{n: n}
	axis := r.int("axis", 0)
	attrSplit := r.ints("split")
	numOut := r.int("num_outputs", 0)
	if r.err != nil {
		return nil, r.err
	}
	outs := len(n.Outputs)
	return func(e *env, in []value) ([]value, error) {
		split := attrSplit
		var err error
		if len(in) > 1 && in[1].present() {
			if split, err = intList(in[1], "split"); err != nil {
				return nil, err
			}
		}
		s := in[0].shape()
		a, err := normAxis(axis, len(s))
		if err != nil {
			return nil, err
		}
		d := s[a]
		if split == nil {
			k := outs
			if numOut > 0 {
				k = int(numOut)
			}
			chunk := (d + k - 1) / k
			for lo := 0; lo < d; lo += chunk {
				split = append(split, int64(min(chunk, d-lo)))
			}
		}
		if len(split) != outs {
			return nil, fmt.Errorf("split %v for %d outputs", split, outs)
		}
		var res []value
		lo := 0
		for _, k := range split {
			if k < 0 || lo+int(k) > d {
				return nil, fmt.Errorf("split %v does not fit axis %d of size %d", split, a, d)
			}
			st := make([]int, len(s))
			step := make([]int, len(s))
			cnt := slices.Clone(s)
			for i := range step {
				step[i] = 1
			}
			st[a], cnt[a] = lo, int(k)
			if in[0].it != nil {
				flat, shape := sliceIndex(s, st, step, cnt)
				res = append(res, value{it: pickInts(in[0].it, flat, shape)})
			} else {
				res = append(res, value{v: autograd.Slice(e.fv(in[0]), a, lo, lo+int(k))})
			}
			lo += int(k)
		}
		if lo != d {
			return nil, fmt.Errorf("split %v does not cover axis %d of size %d", split, a, d)
		}
		return res, nil
	}, nil
}

// opList formats the supported operators for documentation and errors.
func opList() string { return strings.Join(SupportedOps(), ", ") }
