package onnx

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/tensor"
)

// Import fuses chains of nodes into single ops where that gives the same
// function with fewer passes over memory and fewer tensors kept for the
// backward pass:
//
//   - Conv -> BatchNormalization (inference mode): the normalisation is
//     folded into the convolution's weights and bias, per output channel
//     w' = w s, b' = (b - mean) s + beta with s = scale / sqrt(var + eps),
//     computed in float64 and rounded once to the pass's type.
//   - Conv (folded or not) -> Relu [-> MaxPool]: the engine's fused
//     convolution with bias and ReLU (autograd.Conv2dBiasRelu), or with
//     the max-pool too (autograd.Conv2dBiasReluMaxPool).
//   - Pad (constant zeros on the spatial axes) -> AveragePool: one average
//     pool with the padding counted in every window's divisor, which is
//     how PyTorch exports avg_pool2d with count_include_pad.
//   - Add -> Relu (a ResNet block's residual connection): one pass
//     (autograd.AddRelu) when the operands have one shape at run time,
//     the two nodes' own kernels otherwise (broadcasting).
//
// A node joins a chain only when its input is read by nothing else (and is
// not the logits). The fused op stands where the chain's first node stood
// and its output keeps the last node's name. Every value inside a chain
// stays a layer: a pass that taps one runs that chain node by node, as
// the check run at import does, so layer names and shapes do not depend on
// fusion. ImportOptions.NoFuse (or ARP_ONNX_FUSE=0 for every command)
// imports without fusing, for debugging.

// Fusion is one chain of nodes that runs as one op.
type Fusion struct {
	Kind   string   // the chain's operators, "Conv+BatchNormalization+Relu"
	Nodes  []string // the nodes' names (their first output when unnamed)
	Output string   // the value the chain computes
}

// Fusions lists the chains fused at import, in graph order.
func (g *Graph) Fusions() []Fusion {
	var fs []Fusion
	for _, s := range g.steps {
		if s.fusion != nil {
			fs = append(fs, *s.fusion)
		}
	}
	return fs
}

// FusionSummary says in one line what Import fused: the chains by kind,
// and how many batch normalisations were folded into their convolutions.
func (g *Graph) FusionSummary() string {
	fs := g.Fusions()
	if len(fs) == 0 {
		return "nothing"
	}
	count := map[string]int{}
	var kinds []string
	folded := 0
	for _, f := range fs {
		if count[f.Kind] == 0 {
			kinds = append(kinds, f.Kind)
		}
		count[f.Kind]++
		if strings.HasPrefix(f.Kind, "Conv+BatchNormalization") {
			folded++
		}
	}
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%d %s", count[k], k)
	}
	s := strings.Join(parts, ", ")
	if folded > 0 {
		s += fmt.Sprintf("; %d BatchNormalization folded into the Conv before it", folded)
	}
	return s
}

// FuseEnv is the environment variable that switches fusion off for every
// import (value 0; 1 or unset: on).
const FuseEnv = "ARP_ONNX_FUSE"

func fuseFromEnv() (bool, error) {
	switch v := os.Getenv(FuseEnv); v {
	case "", "1":
		return true, nil
	case "0":
		return false, nil
	default:
		return false, fmt.Errorf("%s=%q: want 1 (fuse, the default) or 0 (import node by node)", FuseEnv, v)
	}
}

// nodeSteps lists the graph's steps node by node (a fused step as the
// steps it stands for).
func (g *Graph) nodeSteps() []*step {
	var out []*step
	for _, s := range g.steps {
		if s.parts != nil {
			out = append(out, s.parts...)
		} else {
			out = append(out, s)
		}
	}
	return out
}

// fuse replaces the chains described above by fused steps.
func (g *Graph) fuse() {
	readers := map[string][]int{} // value -> the steps reading it
	for i, s := range g.steps {
		for _, in := range s.node.Inputs {
			if in != "" && !slices.Contains(readers[in], i) {
				readers[in] = append(readers[in], i)
			}
		}
	}
	// next returns the step that is the only reader of value v, reading
	// it as its first input and nowhere else.
	next := func(v string) (int, *step) {
		r := readers[v]
		if v == g.output || v == g.input || len(r) != 1 {
			return -1, nil
		}
		s := g.steps[r[0]]
		if s.node.Inputs[0] != v || slices.Contains(s.node.Inputs[1:], v) {
			return -1, nil
		}
		return r[0], s
	}
	c := &compiler{g: g, opset: g.model.Opset}
	taken := map[int]bool{}
	var steps []*step
	for i, s := range g.steps {
		if taken[i] {
			continue
		}
		var f *step
		var used []int
		switch s.node.Op {
		case "Conv":
			f, used = g.fuseConv(c, s, next)
		case "Pad":
			f, used = g.fusePadPool(c, s, next)
		case "Add":
			f, used = g.fuseAddRelu(s, next)
		}
		if f == nil {
			steps = append(steps, s)
			continue
		}
		for _, j := range used {
			taken[j] = true
		}
		steps = append(steps, f)
	}
	g.steps = steps
}

// floatConst returns the float constant named name.
func (g *Graph) floatConst(name string) (*tensor.Tensor, bool) {
	v, ok := g.consts[name]
	if !ok || v.v == nil {
		return nil, false
	}
	return v.v.Value(), true
}

// fuseConv builds the fused step of a chain starting at the Conv step s,
// or returns nil when nothing follows it that can be fused.
func (g *Graph) fuseConv(c *compiler, s *step, next func(string) (int, *step)) (*step, []int) {
	n := s.node
	cs, err := readConv(n)
	if err != nil {
		return nil, nil
	}
	w, ok := g.floatConst(n.Inputs[1])
	if !ok || len(w.Shape()) != 4 {
		return nil, nil
	}
	var b *tensor.Tensor
	if len(n.Inputs) > 2 && n.Inputs[2] != "" {
		if b, ok = g.floatConst(n.Inputs[2]); !ok || len(b.Shape()) != 1 || b.Shape()[0] != w.Shape()[0] {
			return nil, nil
		}
	}
	if _, isConst := g.consts[n.Inputs[0]]; isConst {
		return nil, nil
	}
	f := &convFusion{cs: cs, w: w, b: b, wName: n.Inputs[1]}
	if b != nil {
		f.bName = n.Inputs[2]
	}
	parts := []*step{s}
	var used []int
	cur := n.Outputs[0]
	if j, t := next(cur); t != nil && t.node.Op == "BatchNormalization" {
		if bn, err := readBatchNorm(c, t.node); err == nil && bn.channels() == w.Shape()[0] {
			f.bn = &bn
			parts, used, cur = append(parts, t), append(used, j), t.node.Outputs[0]
		}
	}
	if j, t := next(cur); t != nil && t.node.Op == "Relu" {
		f.relu = true
		parts, used, cur = append(parts, t), append(used, j), t.node.Outputs[0]
		if j, t := next(cur); t != nil && t.node.Op == "MaxPool" && cs.group == 1 {
			if ps, err := readPool(t.node, true); err == nil {
				f.pool = &ps
				parts, used, cur = append(parts, t), append(used, j), t.node.Outputs[0]
			}
		}
	}
	if len(parts) == 1 {
		return nil, nil
	}
	if f.bn != nil {
		f.folded = map[tensor.DType][2]*autograd.Var{}
		f.weights(tensor.Float32) // fold now: the type arp runs in
	}
	return newFused(parts, []string{n.Inputs[0]}, cur, f.kernel), used
}

// fusePadPool builds the fused step of a Pad of zeros on the spatial axes
// read only by an AveragePool.
func (g *Graph) fusePadPool(c *compiler, s *step, next func(string) (int, *step)) (*step, []int) {
	n := s.node
	j, t := next(n.Outputs[0])
	if t == nil || t.node.Op != "AveragePool" {
		return nil, nil
	}
	pads, ok := g.constPads(n)
	if !ok || len(pads) != 8 || pads[0] != 0 || pads[1] != 0 || pads[4] != 0 || pads[5] != 0 {
		return nil, nil
	}
	for _, p := range pads {
		if p < 0 {
			return nil, nil
		}
	}
	ps, err := readPool(t.node, false)
	if err != nil || ps.w.ceil {
		return nil, nil
	}
	own := []int64{0, 0, 0, 0}
	switch ps.w.autoPad {
	case "VALID":
	case "NOTSET", "":
		if ps.w.pads != nil {
			own = ps.w.pads
		}
	default:
		return nil, nil
	}
	if !ps.countPad && slices.ContainsFunc(own, func(p int64) bool { return p != 0 }) {
		return nil, nil // the pool's own padding would not count
	}
	// Pad's [N,C,H,W] begins and ends; the pool's [top, left, bottom, right]
	ps.w.pads = []int64{own[0] + pads[2], own[1] + pads[3], own[2] + pads[6], own[3] + pads[7]}
	ps.w.autoPad = "NOTSET"
	ps.countPad = true
	k := func(e *env, in []value) ([]value, error) {
		y, err := ps.apply(e, e.fv(in[0]))
		if err != nil {
			return nil, err
		}
		return fl(y), nil
	}
	return newFused([]*step{s, t}, []string{n.Inputs[0]}, t.node.Outputs[0], k), []int{j}
}

// fuseAddRelu builds the fused step of an Add of two dynamic values read
// only by a Relu.
func (g *Graph) fuseAddRelu(s *step, next func(string) (int, *step)) (*step, []int) {
	n := s.node
	if len(n.Inputs) != 2 || n.Inputs[0] == "" || n.Inputs[1] == "" {
		return nil, nil
	}
	for _, in := range n.Inputs {
		if _, isConst := g.consts[in]; isConst {
			return nil, nil
		}
	}
	j, t := next(n.Outputs[0])
	if t == nil || t.node.Op != "Relu" {
		return nil, nil
	}
	k := func(e *env, in []value) ([]value, error) {
		if in[0].v != nil && in[1].v != nil {
			a, b := e.fv(in[0]), e.fv(in[1])
			if tensor.SameShape(a.Shape(), b.Shape()) {
				return fl(autograd.AddRelu(a, b)), nil
			}
		}
		sum, err := s.k(e, in)
		if err != nil {
			return nil, err
		}
		return t.k(e, sum[:1])
	}
	return newFused([]*step{s, t}, n.Inputs, t.node.Outputs[0], k), []int{j}
}

// constPads returns the pads of a Pad node that adds constant zeros, when
// they are known at import.
func (g *Graph) constPads(n *Node) ([]int64, bool) {
	mode, err := n.stringAttr("mode", "constant")
	if err != nil || mode != "constant" {
		return nil, false
	}
	if g.model.Opset < 11 {
		pads, err := n.intsAttr("pads")
		v, err2 := n.floatAttr("value", 0)
		return pads, err == nil && err2 == nil && v == 0 && pads != nil
	}
	if len(n.Inputs) < 2 || n.Inputs[1] == "" || (len(n.Inputs) > 3 && n.Inputs[3] != "") {
		return nil, false
	}
	pv, ok := g.consts[n.Inputs[1]]
	if !ok || pv.it == nil || len(pv.it.shape) != 1 {
		return nil, false
	}
	if len(n.Inputs) > 2 && n.Inputs[2] != "" {
		cv, ok := g.consts[n.Inputs[2]]
		if !ok {
			return nil, false
		}
		if v, err := scalarFloat(cv, "constant_value"); err != nil || v != 0 {
			return nil, false
		}
	}
	return pv.it.data, true
}

// newFused makes the step that runs parts as kernel k, reading the
// dynamic values in and computing out.
func newFused(parts []*step, in []string, out string, k kernel) *step {
	var kinds, names, inner []string
	for i, p := range parts {
		kinds = append(kinds, p.node.Op)
		name := p.node.Name
		if name == "" {
			name = p.node.Outputs[0]
		}
		names = append(names, name)
		if i < len(parts)-1 {
			for _, o := range p.node.Outputs {
				if o != "" {
					inner = append(inner, o)
				}
			}
		}
	}
	f := &Fusion{Kind: strings.Join(kinds, "+"), Nodes: names, Output: out}
	node := &Node{Name: parts[len(parts)-1].node.Name, Op: f.Kind, Inputs: in, Outputs: []string{out}, Index: parts[0].node.Index}
	return &step{node: node, k: k, parts: parts, inner: inner, fusion: f}
}

// convFusion is a convolution with its batch normalisation folded in
// (when bn is set), its ReLU and its max-pool.
type convFusion struct {
	cs           convSpec
	w, b         *tensor.Tensor // the Conv's weight and bias (b may be nil)
	wName, bName string
	bn           *bnSpec
	relu         bool
	pool         *poolSpec
	mu           sync.Mutex
	folded       map[tensor.DType][2]*autograd.Var // weight and bias by type
}

// weights returns the convolution's weight and bias as variables of type
// dt: with a batch normalisation folded in, computed in float64 and then
// rounded once to dt.
func (f *convFusion) weights(dt tensor.DType) (w, b *autograd.Var) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if wb, ok := f.folded[dt]; ok {
		return wb[0], wb[1]
	}
	shape := f.w.Shape()
	out := shape[0]
	per := f.w.Size() / out
	wv := slices.Clone(f.w.Float64s())
	bv := make([]float64, out)
	if f.b != nil {
		copy(bv, f.b.Float64s())
	}
	sc, sh := f.bn.scale.Float64s(), f.bn.bias.Float64s()
	mean, vr := f.bn.mean.Float64s(), f.bn.vr.Float64s()
	for o := 0; o < out; o++ {
		s := sc[o] / math.Sqrt(vr[o]+f.bn.eps)
		row := wv[o*per : (o+1)*per]
		for i := range row {
			row[i] *= s
		}
		bv[o] = (bv[o]-mean[o])*s + sh[o]
	}
	wt := tensor.FromFloat64(wv, shape...).AsType(dt)
	bt := tensor.FromFloat64(bv, out).AsType(dt)
	// Leaves that require gradients, as every constant of the graph.
	wb := [2]*autograd.Var{autograd.Param(wt), autograd.Param(bt)}
	f.folded[dt] = wb
	return wb[0], wb[1]
}

func (f *convFusion) kernel(e *env, in []value) ([]value, error) {
	x := e.fv(in[0])
	var w, b *autograd.Var
	if f.bn != nil {
		w, b = f.weights(e.dt)
		w, b = e.leaf(w), e.leaf(b)
	} else {
		w = e.fv(e.get(f.wName))
		if f.bName != "" {
			b = e.fv(e.get(f.bName))
		}
	}
	if f.pool == nil {
		y, err := f.cs.apply(x, w, b, f.relu)
		if err != nil {
			return nil, err
		}
		return fl(y), nil
	}
	xs, ws := x.Shape(), w.Shape()
	p, err := f.cs.params(xs, ws)
	if err != nil {
		return nil, err
	}
	zs := []int{xs[0], ws[0],
		tensor.ConvOutSize(xs[2], ws[2], p.StrideH, p.PadTop, p.PadBottom, p.DilationH),
		tensor.ConvOutSize(xs[3], ws[3], p.StrideW, p.PadLeft, p.PadRight, p.DilationW)}
	pp, _, _, err := f.pool.params(zs)
	if err != nil {
		return nil, err
	}
	return fl(autograd.Conv2dBiasReluMaxPool(x, w, b, p, f.pool.kh, f.pool.kw, pp)), nil
}
