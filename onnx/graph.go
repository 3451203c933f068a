package onnx

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// Graph is an imported ONNX image classifier: a differentiable function
// from pixels in [0,1] ([N,C,H,W]) to logits [N,K] that implements
// nn.Classifier. The pixels are mapped to the graph's own input scale and
// channel order by its metadata (Meta) before the graph runs.
type Graph struct {
	model   *Model
	meta    Meta // resolved: every field set
	input   string
	output  string
	inShape []int // [C,H,W]
	batch   int   // the graph's static batch size, 0 when dynamic
	classes int

	steps   []*step
	consts  map[string]value // folded constants; float ones as float32
	lastUse map[string]int   // value name -> index of the last step reading it
	shapes  map[string][]int // shapes of the run-time float values in the check run
	alias   map[string]string
	layers  []string

	mu    sync.Mutex
	cache map[tensor.DType]map[string]*autograd.Var // float constants by type
}

type step struct {
	node *Node
	k    kernel
	// A fused step (fuse.go) stands for parts, the steps of a chain of
	// nodes; inner are the values made and read inside the chain.
	parts  []*step
	inner  []string
	fusion *Fusion
}

// kernel computes a node's outputs from its inputs (absent optional inputs
// are zero values).
type kernel func(e *env, in []value) ([]value, error)

// env is the state of one forward pass.
type env struct {
	g    *Graph
	dt   tensor.DType
	vals map[string]value
	// detach makes constants leaves that do not require gradients, so a
	// pass from a constant input records no graph and drops every value
	// after its last use (the check run at import).
	detach bool
}

func (e *env) get(name string) value {
	if name == "" {
		return value{}
	}
	if v, ok := e.vals[name]; ok {
		return v
	}
	c := e.g.constant(name, e.dt)
	c.v = e.leaf(c.v)
	return c
}

// leaf returns a constant leaf as the pass uses it (see detach).
func (e *env) leaf(v *autograd.Var) *autograd.Var {
	if e.detach && v != nil {
		return v.Detach()
	}
	return v
}

// constVar returns a float constant as a variable of type dt.
func (e *env) constVar(t *tensor.Tensor) *autograd.Var {
	if t.DType() != e.dt {
		t = t.AsType(e.dt)
	}
	return autograd.Const(t)
}

// constant returns a folded constant, converting float ones to dt.
func (g *Graph) constant(name string, dt tensor.DType) value {
	c, ok := g.consts[name]
	if !ok || c.v == nil || c.v.DType() == dt {
		return c
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cache == nil {
		g.cache = map[tensor.DType]map[string]*autograd.Var{}
	}
	m := g.cache[dt]
	if m == nil {
		m = map[string]*autograd.Var{}
		g.cache[dt] = m
	}
	v, ok := m[name]
	if !ok {
		v = autograd.Param(c.v.Value().AsType(dt))
		m[name] = v
	}
	return value{v: v}
}

// Load reads an ONNX file and its metadata (see ReadMeta) and imports it.
func Load(path string) (*Graph, error) {
	m, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	meta, err := ReadMeta(path, m)
	if err != nil {
		return nil, err
	}
	return Import(m, meta)
}

// ImportOptions changes how a graph is imported.
type ImportOptions struct {
	// NoFuse runs every node on its own: no batch normalisation folded
	// into its convolution, no fused convolution+ReLU (see Fusions). The
	// function and its layers are the same either way; this is for
	// debugging.
	NoFuse bool
}

// Import builds the runnable graph of m with metadata meta: it checks every
// node (all unsupported operators are reported in one error), folds the
// parts that only depend on constants, resolves the input size and runs the
// graph once on a constant image to check it and learn the layer shapes.
// Chains of nodes are then fused into single ops (see Fusions) unless the
// environment variable ARP_ONNX_FUSE is 0.
func Import(m *Model, meta Meta) (*Graph, error) {
	fuse, err := fuseFromEnv()
	if err != nil {
		return nil, err
	}
	return ImportWith(m, meta, ImportOptions{NoFuse: !fuse})
}

// ImportWith is Import with options (the environment is not read).
func ImportWith(m *Model, meta Meta, opts ImportOptions) (g *Graph, err error) {
	where := m.Path
	if where == "" {
		where = "onnx model"
	}
	defer func() {
		if r := recover(); r != nil {
			g, err = nil, fmt.Errorf("%s: internal error while importing: %v", where, r)
		}
	}()
	g = &Graph{model: m, consts: map[string]value{}}
	if err := g.resolveIO(meta); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if err := g.compile(); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if !opts.NoFuse {
		g.fuse()
	}
	if err := g.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return g, nil
}

// resolveIO picks the image input and the logits output and settles the
// input shape and the pixel mapping.
func (g *Graph) resolveIO(meta Meta) error {
	m := g.model
	if err := meta.validate(); err != nil {
		return err
	}
	meta = meta.withDefaults()
	var in *ValueInfo
	switch {
	case meta.Input != "":
		for i := range m.Inputs {
			if m.Inputs[i].Name == meta.Input {
				in = &m.Inputs[i]
			}
		}
		if in == nil {
			return fmt.Errorf("metadata input %q is not a graph input (inputs: %s)", meta.Input, inputNames(m))
		}
	case len(m.Inputs) == 1:
		in = &m.Inputs[0]
	case len(m.Inputs) == 0:
		return errors.New("graph has no inputs besides its initialisers")
	default:
		return fmt.Errorf("graph has %d inputs (%s); arp feeds one image input: name it as \"input\" in the metadata", len(m.Inputs), inputNames(m))
	}
	for _, o := range m.Inputs {
		if o.Name != in.Name {
			return fmt.Errorf("graph input %q would have no value: arp feeds only the image input %q", o.Name, in.Name)
		}
	}
	g.input = in.Name
	if in.ElemType != 0 && !isFloatType(in.ElemType) {
		return fmt.Errorf("input %q has element type %s; arp needs floating-point images", in.Name, typeName(in.ElemType))
	}
	if in.Shape != nil && len(in.Shape) != 4 {
		return fmt.Errorf("input %q has rank %d (shape %s); arp needs images [N,C,H,W]", in.Name, len(in.Shape), in.ShapeString())
	}
	shape := []int{-1, -1, -1}
	if in.Shape != nil {
		g.batch = max(in.Shape[0], 0)
		copy(shape, in.Shape[1:])
	}
	if meta.InputSize != nil {
		for i, d := range meta.InputSize {
			if shape[i] > 0 && shape[i] != d {
				return fmt.Errorf("metadata input_size %v does not match the graph's input %q %s", meta.InputSize, in.Name, in.ShapeString())
			}
			shape[i] = d
		}
	}
	for _, d := range shape {
		if d <= 0 {
			return fmt.Errorf("input %q has dynamic size %s: give \"input_size\": [C, H, W] in the metadata (%s)", in.Name, in.ShapeString(), metaHint(m.Path))
		}
	}
	if err := checkSize(shape); err != nil || tensor.Numel(shape) > maxElems/16 {
		return fmt.Errorf("input %q: images of %v are too large (at most %d values)", in.Name, shape, maxElems/16)
	}
	g.inShape = shape
	g.output = meta.Output
	if g.output == "" {
		g.output = m.Outputs[0].Name
	}
	if strings.EqualFold(meta.ChannelOrder, "BGR") && shape[0] != 3 {
		return fmt.Errorf("channel_order BGR needs 3 channels, the input has %d", shape[0])
	}
	if n := len(meta.Mean); n > 1 && n != shape[0] {
		return fmt.Errorf("metadata mean has %d values for %d channels", n, shape[0])
	}
	if n := len(meta.Std); n > 1 && n != shape[0] {
		return fmt.Errorf("metadata std has %d values for %d channels", n, shape[0])
	}
	meta.InputSize = shape
	g.meta = meta
	return nil
}

func inputNames(m *Model) string {
	var s []string
	for _, in := range m.Inputs {
		s = append(s, fmt.Sprintf("%q %s", in.Name, in.ShapeString()))
	}
	return strings.Join(s, ", ")
}

// ShapeString writes the shape as [1,3,H,W]: fixed sizes as numbers,
// named dynamic ones by name, unnamed ones as ?, an unknown shape as [?].
func (v ValueInfo) ShapeString() string {
	if v.Shape == nil {
		return "[?]"
	}
	var s []string
	for i, d := range v.Shape {
		switch {
		case d > 0:
			s = append(s, fmt.Sprint(d))
		case v.DimNames[i] != "":
			s = append(s, v.DimNames[i])
		default:
			s = append(s, "?")
		}
	}
	return "[" + strings.Join(s, ",") + "]"
}

func metaHint(path string) string {
	if path == "" {
		return "see docs/onnx.md"
	}
	return "file " + path + ".json; see docs/onnx.md"
}

// topoSort orders the nodes so that every value is produced before it is
// used (ONNX requires this order; it is restored here when a producer did
// not keep it).
func topoSort(m *Model, known map[string]bool) ([]*Node, error) {
	producer := map[string]*Node{}
	for _, n := range m.Nodes {
		for _, o := range n.Outputs {
			if o == "" {
				continue
			}
			if known[o] {
				return nil, fmt.Errorf("%s: output %q redefines a graph input or initialiser", n.where(), o)
			}
			if p, dup := producer[o]; dup {
				return nil, fmt.Errorf("%s and %s both produce value %q", p.where(), n.where(), o)
			}
			producer[o] = n
		}
	}
	done := map[*Node]bool{}
	var order []*Node
	state := map[*Node]int{} // 1 visiting, 2 done
	var visit func(n *Node) error
	visit = func(n *Node) error {
		switch state[n] {
		case 1:
			return fmt.Errorf("%s is part of a cycle", n.where())
		case 2:
			return nil
		}
		state[n] = 1
		for _, in := range n.Inputs {
			if in == "" || known[in] {
				continue
			}
			p, ok := producer[in]
			if !ok {
				return fmt.Errorf("%s: input %q is not produced by any node, initialiser or graph input", n.where(), in)
			}
			if err := visit(p); err != nil {
				return err
			}
		}
		state[n] = 2
		if !done[n] {
			done[n] = true
			order = append(order, n)
		}
		return nil
	}
	for _, n := range m.Nodes {
		if err := visit(n); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// compile checks every node, folds constant subgraphs and lists the steps
// that run in a forward pass.
func (g *Graph) compile() error {
	m := g.model
	known := map[string]bool{g.input: true}
	for name, c := range m.Inits {
		known[name] = true
		g.consts[name] = constValue(c)
	}
	order, err := topoSort(m, known)
	if err != nil {
		return err
	}
	var unsupported, problems []string
	dynamic := map[string]bool{g.input: true} // values that depend on the input (or on a failed node)
	for _, n := range order {
		isDyn := false
		for _, in := range n.Inputs {
			if dynamic[in] {
				isDyn = true
			}
		}
		def, ok := ops[n.Op]
		if !ok || n.Domain != "" {
			name := n.Op
			if n.Domain != "" {
				name = n.Domain + "." + n.Op
			}
			unsupported = append(unsupported, fmt.Sprintf("%s (node %q)", name, n.Name))
			markOutputs(n, dynamic)
			continue
		}
		k, err := g.compileNode(def, n)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", n.where(), err))
			markOutputs(n, dynamic)
			continue
		}
		if isDyn || def.noFold {
			g.steps = append(g.steps, &step{node: n, k: k})
			markOutputs(n, dynamic)
			continue
		}
		// Every input is a constant: compute the outputs now.
		e := &env{g: g, dt: tensor.Float32, vals: map[string]value{}}
		outs, err := runKernel(e, n, k)
		if err != nil {
			problems = append(problems, err.Error())
			markOutputs(n, dynamic)
			continue
		}
		for i, o := range n.Outputs {
			if o != "" && i < len(outs) {
				g.consts[o] = outs[i]
			}
		}
	}
	var msg []string
	if len(unsupported) > 0 {
		msg = append(msg, fmt.Sprintf("%d unsupported operator(s) (opset %d): %s", len(unsupported), m.Opset, strings.Join(unsupported, ", ")))
	}
	if len(problems) > 0 {
		if len(problems) > 20 {
			problems = append(problems[:20], fmt.Sprintf("and %d more", len(problems)-20))
		}
		msg = append(msg, strings.Join(problems, "; "))
	}
	if len(msg) > 0 {
		return errors.New(strings.Join(msg, "; "))
	}
	if _, isConst := g.consts[g.output]; isConst {
		return fmt.Errorf("output %q does not depend on the input", g.output)
	}
	produced := false
	for _, s := range g.steps {
		if slices.Contains(s.node.Outputs, g.output) {
			produced = true
		}
	}
	if !produced {
		return fmt.Errorf("output %q is not produced by any node", g.output)
	}
	// Float constants read by the steps become leaves that require
	// gradients, as the weights of an nn.Model do: Grad-CAM and other
	// gradients of activations then work for constant inputs too.
	for name, c := range g.consts {
		if c.v != nil {
			g.consts[name] = value{v: autograd.Param(c.v.Value())}
		}
	}
	return nil
}

func markOutputs(n *Node, dynamic map[string]bool) {
	for _, o := range n.Outputs {
		dynamic[o] = true
	}
}

func constValue(c *Const) value {
	if c.IsFloat() {
		return value{v: autograd.Const(tensor.FromFloat32(c.F, c.Shape...))}
	}
	return value{it: newInts(c.Shape, c.I)}
}

func (g *Graph) compileNode(def opDef, n *Node) (kernel, error) {
	nin := len(n.Inputs)
	for nin > 0 && n.Inputs[nin-1] == "" {
		nin--
	}
	if nin < def.minIn || (def.maxIn >= 0 && nin > def.maxIn) {
		if def.maxIn < 0 {
			return nil, fmt.Errorf("has %d inputs, needs at least %d", nin, def.minIn)
		}
		return nil, fmt.Errorf("has %d inputs, needs %d to %d", nin, def.minIn, def.maxIn)
	}
	for i := 0; i < def.minIn; i++ {
		if n.Inputs[i] == "" {
			return nil, fmt.Errorf("required input %d is empty", i)
		}
	}
	if len(n.Outputs) == 0 || n.Outputs[0] == "" {
		return nil, errors.New("has no output")
	}
	return def.compile(&compiler{g: g, opset: g.model.Opset}, n)
}

// runKernel runs one node, turning shape panics of the engine into errors.
func runKernel(e *env, n *Node, k kernel) (outs []value, err error) {
	ins := make([]value, len(n.Inputs))
	for i, name := range n.Inputs {
		if name == "" {
			continue
		}
		ins[i] = e.get(name)
		if !ins[i].present() {
			return nil, fmt.Errorf("%s: input %q has no value", n.where(), name)
		}
	}
	terr := autograd.Try(func() { outs, err = k(e, ins) })
	if terr != nil {
		err = terr
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n.where(), err)
	}
	for i, o := range n.Outputs {
		if o != "" && (i >= len(outs) || !outs[i].present()) {
			return nil, fmt.Errorf("%s: output %d (%q) is not supported", n.where(), i, o)
		}
	}
	return outs, nil
}

// check runs the graph once on a constant image to validate it, learn the
// number of classes and the shapes of all layers, and build the layer names.
func (g *Graph) check() error {
	g.lastUse = map[string]int{}
	for i, s := range g.steps {
		for _, in := range s.node.Inputs {
			g.lastUse[in] = i
		}
	}
	b := g.batch
	if b == 0 {
		b = 2 // a dynamic batch: run two images to catch sizes fixed to one
	}
	shape := append([]int{b}, g.inShape...)
	x := autograd.Const(tensor.Full(tensor.Float32, 0.5, shape...))
	g.shapes = map[string][]int{}
	out, _, err := g.run(x, nil, true)
	if err != nil {
		return fmt.Errorf("checking the graph on a %v input: %w", shape, err)
	}
	g.classes = out.Shape()[1]
	if bg := g.meta.BackgroundClasses; bg > 0 {
		// run dropped the leading logits already.
		if g.classes < 1 {
			return fmt.Errorf("metadata background_classes %d leaves no class of the %d logits", bg, g.classes+bg)
		}
		if len(g.meta.ClassNames) == g.classes+bg {
			g.meta.ClassNames = g.meta.ClassNames[bg:]
		}
	}
	if n := len(g.meta.ClassNames); n != 0 && n != g.classes {
		return fmt.Errorf("metadata has %d class names for %d classes", n, g.classes)
	}
	g.buildLayers()
	if g.meta.AttentionLayer == "" {
		g.meta.AttentionLayer = g.defaultAttention()
	} else if _, ok := g.alias[g.meta.AttentionLayer]; !ok {
		return fmt.Errorf("metadata attention_layer %q is not a layer; layers: %s", g.meta.AttentionLayer, strings.Join(g.layers, ", "))
	}
	return nil
}

// Run is Forward returning errors instead of panicking: it checks the input
// shape and the tap names and runs the graph.
func (g *Graph) Run(x *autograd.Var, taps ...string) (*autograd.Var, map[string]*autograd.Var, error) {
	if err := nn.CheckInput(g, x.Shape()); err != nil {
		return nil, nil, err
	}
	for _, t := range taps {
		if _, ok := g.alias[t]; !ok {
			return nil, nil, nn.CheckLayer(g, t)
		}
	}
	n := x.Shape()[0]
	if g.batch != 0 && n%g.batch != 0 {
		return nil, nil, fmt.Errorf("the graph has a fixed batch size %d; %d images are not a multiple of it", g.batch, n)
	}
	if autograd.GradEnabled() {
		return g.run(x, taps, false)
	}
	// A pass that records no graph (inference, an attack's judging pass)
	// runs in an arena of its own: the layers' values take recycled
	// storage, not fresh runtime-zeroed memory that every pass faults in
	// (Inception v3 at batch 4 made 190 MB of them per pass), and go back
	// when it ends; the logits and the tapped layers are kept.
	a := autograd.OpenArena()
	defer a.Close()
	y, acts, err := g.run(x, taps, false)
	if err == nil {
		autograd.Keep(y)
		for _, v := range acts {
			autograd.Keep(v)
		}
	}
	return y, acts, err
}

// Forward implements nn.Classifier. It panics with a *tensor.ShapeError for
// inputs of the wrong shape and unknown taps (check them with nn.CheckInput
// and nn.CheckLayer); Run returns these as errors. The graph is an inference
// graph: m is ignored (batch normalisation uses its running statistics and
// dropout is the identity).
func (g *Graph) Forward(x *autograd.Var, m nn.Mode, taps ...string) (*autograd.Var, map[string]*autograd.Var) {
	y, acts, err := g.Run(x, taps...)
	if err != nil {
		tensor.Panicf("onnx.Forward", "%v", err)
	}
	return y, acts
}

// run executes the steps on x (pixels in [0,1]). A graph exported for a
// fixed batch size b runs on chunks of b images in lockstep; a tapped value
// is joined across the chunks and the chunks continue from slices of the
// joined value, so it lies on the path from x to the logits and gradients
// with respect to it are complete.
func (g *Graph) run(x *autograd.Var, taps []string, record bool) (*autograd.Var, map[string]*autograd.Var, error) {
	dt := x.DType()
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return nil, nil, fmt.Errorf("input of type %v; want float32 or float64", dt)
	}
	n := x.Shape()[0]
	chunk := n
	if g.batch != 0 {
		chunk = g.batch
	}
	keep := map[string]bool{g.output: true}
	tapped := map[string]bool{}
	for _, t := range taps {
		keep[g.alias[t]] = true
		tapped[g.alias[t]] = true
	}
	joined := map[string]*autograd.Var{}
	// join concatenates the chunks' values of name and lets every chunk
	// continue from its slice of the result.
	envs := make([]*env, n/chunk)
	join := func(name string) {
		if len(envs) == 1 {
			joined[name] = envs[0].vals[name].v
			return
		}
		parts := make([]*autograd.Var, len(envs))
		for i, e := range envs {
			parts[i] = e.vals[name].v
		}
		j := autograd.Concat(0, parts...)
		joined[name] = j
		for i, e := range envs {
			e.vals[name] = value{v: autograd.Slice(j, 0, i*chunk, (i+1)*chunk)}
		}
	}
	in := g.preprocess(x)
	for i := range envs {
		envs[i] = &env{g: g, dt: dt, vals: map[string]value{}, detach: record && !x.RequiresGrad()}
		v := in
		if len(envs) > 1 {
			v = autograd.Slice(in, 0, i*chunk, (i+1)*chunk)
		}
		envs[i].vals[g.input] = value{v: v}
	}
	if tapped[g.input] {
		joined[g.input] = in
	}
	if record {
		g.shapes[g.input] = x.Shape()
	}
	for i, s := range g.steps {
		// A fused step runs node by node in the check run (which records
		// every value's shape) and when a value inside it is tapped.
		seq := []*step{s}
		if s.parts != nil && (record || slices.ContainsFunc(s.inner, func(v string) bool { return tapped[v] })) {
			seq = s.parts
		}
		for _, ps := range seq {
			for _, e := range envs {
				outs, err := runKernel(e, ps.node, ps.k)
				if err != nil {
					return nil, nil, err
				}
				for j, o := range ps.node.Outputs {
					if o != "" && j < len(outs) {
						e.vals[o] = outs[j]
					}
				}
			}
			for _, o := range ps.node.Outputs {
				v, ok := envs[0].vals[o]
				if o == "" || !ok || v.v == nil {
					continue
				}
				if record {
					g.shapes[o] = v.v.Shape()
				}
				if tapped[o] {
					join(o)
				}
			}
		}
		for _, e := range envs {
			for _, in := range s.node.Inputs {
				if g.lastUse[in] == i && !keep[in] {
					delete(e.vals, in)
				}
			}
			for _, in := range s.inner {
				if !keep[in] {
					delete(e.vals, in)
				}
			}
		}
	}
	for _, e := range envs {
		if v, ok := e.vals[g.output]; !ok || v.v == nil {
			return nil, nil, fmt.Errorf("output %q is not a floating-point tensor", g.output)
		}
	}
	if _, ok := joined[g.output]; !ok {
		join(g.output)
	}
	y := joined[g.output]
	s := y.Shape()
	if len(s) < 2 || s[0] != n {
		return nil, nil, fmt.Errorf("output %q has shape %v; want logits [N,K] for %d images", g.output, s, n)
	}
	if len(s) > 2 {
		if tensor.Numel(s[2:]) != 1 {
			return nil, nil, fmt.Errorf("output %q has shape %v; want logits [N,K]", g.output, s)
		}
		y = autograd.Reshape(y, s[0], s[1])
	}
	if bg := g.meta.BackgroundClasses; bg > 0 {
		if bg >= s[1] {
			return nil, nil, fmt.Errorf("metadata background_classes %d leaves no class of the %d logits", bg, s[1])
		}
		y = autograd.Slice(y, 1, bg, s[1])
	}
	var acts map[string]*autograd.Var
	if len(taps) > 0 {
		acts = make(map[string]*autograd.Var, len(taps))
		for _, t := range taps {
			v := joined[g.alias[t]]
			if v == nil {
				return nil, nil, fmt.Errorf("layer %q is not a floating-point tensor", t)
			}
			acts[t] = v
		}
	}
	return y, acts, nil
}

// preprocess maps pixels in [0,1] to the graph's input: channel order, then
// range and mean/std, as one per-channel affine map.
func (g *Graph) preprocess(x *autograd.Var) *autograd.Var {
	c := g.inShape[0]
	if strings.EqualFold(g.meta.ChannelOrder, "BGR") {
		x = autograd.Concat(1, autograd.Slice(x, 1, 2, 3), autograd.Slice(x, 1, 1, 2), autograd.Slice(x, 1, 0, 1))
	}
	scale, shift := g.meta.affine(c)
	identity := true
	for i := range scale {
		if scale[i] != 1 || shift[i] != 0 {
			identity = false
		}
	}
	if identity {
		return x
	}
	sc := tensor.FromFloat64(scale, 1, c, 1, 1).AsType(x.DType())
	sh := tensor.FromFloat64(shift, 1, c, 1, 1).AsType(x.DType())
	return autograd.Add(autograd.Mul(x, autograd.Const(sc)), autograd.Const(sh))
}

// buildLayers lists the tappable names: the image input, then in graph
// order every floating-point node output, the node's name and the PyTorch
// module scopes (a node "/layer3/layer3.2/relu/Relu" lies in the scopes
// "layer3", "layer3/layer3.2" and "layer3/layer3.2/relu"; a scope's layer is
// the output of its last node).
func (g *Graph) buildLayers() {
	g.alias = map[string]string{}
	g.layers = nil
	add := func(name, val string) {
		if name == "" {
			return
		}
		if _, taken := g.alias[name]; taken {
			return
		}
		g.alias[name] = val
		g.layers = append(g.layers, name)
	}
	// Value names take precedence over node names and scopes.
	steps := g.nodeSteps()
	taken := map[string]bool{g.input: true}
	for _, s := range steps {
		for _, o := range s.node.Outputs {
			taken[o] = true
		}
	}
	scopeEnd := map[string]int{}
	firstFloat := func(s *step) string {
		for _, o := range s.node.Outputs {
			if _, ok := g.shapes[o]; ok && o != "" {
				return o
			}
		}
		return ""
	}
	for i, s := range steps {
		if firstFloat(s) == "" {
			continue
		}
		for _, sc := range scopes(s.node.Name) {
			scopeEnd[sc] = i
		}
	}
	ends := map[int][]string{}
	for sc, i := range scopeEnd {
		ends[i] = append(ends[i], sc)
	}
	add(g.input, g.input)
	for i, s := range steps {
		out := firstFloat(s)
		if out == "" {
			continue
		}
		for _, o := range s.node.Outputs {
			if _, ok := g.shapes[o]; ok && o != "" {
				add(o, o)
			}
		}
		if !taken[s.node.Name] {
			add(s.node.Name, out)
		}
		sc := ends[i]
		sort.Slice(sc, func(a, b int) bool {
			if da, db := strings.Count(sc[a], "/"), strings.Count(sc[b], "/"); da != db {
				return da > db
			}
			return sc[a] < sc[b]
		})
		for _, name := range sc {
			if !taken[name] {
				add(name, out)
			}
		}
	}
}

// scopes returns the module scopes of a PyTorch-style node name
// ("/a/b/Op" -> "a", "a/b").
func scopes(name string) []string {
	if !strings.HasPrefix(name, "/") {
		return nil
	}
	parts := strings.Split(name[1:], "/")
	var s []string
	for i := 1; i < len(parts); i++ {
		if parts[i-1] == "" {
			return s
		}
		s = append(s, strings.Join(parts[:i], "/"))
	}
	return s
}

// defaultAttention is the last 4-D layer with more than one spatial
// position (the last feature map before global pooling), by its shortest
// name.
func (g *Graph) defaultAttention() string {
	bestVal, bestName := "", ""
	for _, name := range g.layers {
		v := g.alias[name]
		s := g.shapes[v]
		if len(s) != 4 || s[2]*s[3] <= 1 {
			continue
		}
		if v != bestVal {
			bestVal, bestName = v, name
		} else if len(name) < len(bestName) {
			bestName = name
		}
	}
	return bestName
}

// LayerNames lists the layers that can be tapped, in graph order: the
// image input (after the pixel mapping), every floating-point value computed
// from it, node names and PyTorch module scopes (see docs/onnx.md).
func (g *Graph) LayerNames() []string { return slices.Clone(g.layers) }

// LayerShape returns the shape of a layer for a batch of one image.
func (g *Graph) LayerShape(name string) ([]int, bool) {
	v, ok := g.alias[name]
	if !ok {
		return nil, false
	}
	s := slices.Clone(g.shapes[v])
	if len(s) > 0 {
		s[0] = 1
	}
	return s, true
}

// InputShape is [C,H,W].
func (g *Graph) InputShape() []int { return slices.Clone(g.inShape) }

// NumClasses is the number of logits.
func (g *Graph) NumClasses() int { return g.classes }

// Meta returns the metadata in use, with every default filled in.
func (g *Graph) Meta() Meta { return g.meta.clone() }

// Model returns the decoded file.
func (g *Graph) Model() *Model { return g.model }

// InputName and OutputName name the graph's image input and the value used
// as logits.
func (g *Graph) InputName() string  { return g.input }
func (g *Graph) OutputName() string { return g.output }

// BatchSize is the graph's fixed batch size (0 when dynamic). Batches of
// other sizes are run in chunks of it.
func (g *Graph) BatchSize() int { return g.batch }

var _ nn.Classifier = (*Graph)(nil)

// AttentionLayer is the default Grad-CAM layer (from the metadata, else the
// last 4-D layer with more than one spatial position).
func (g *Graph) AttentionLayer() string { return g.meta.AttentionLayer }
