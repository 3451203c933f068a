package autograd

import (
	"fmt"
	"sync/atomic"

	"github.com/arp-robustness/arp/tensor"
)

// Var is a node of the computation graph: a tensor value and, when it was
// computed by an op from values that require gradients, the op that made it.
type Var struct {
	val          *tensor.Tensor
	requiresGrad bool
	node         *node
	name         string
}

// backwardFn returns the gradients of an op's inputs given the gradient gy of
// its output. in and out are the op's inputs and output: the originals when a
// graph of the gradient is being built, detached copies otherwise, so a
// backward function must use only these and constant data it captured
// (indices, masks, shapes), never captured *Var values. needs[i] reports
// whether the gradient of input i is wanted; entries not wanted may be nil.
// A nil gradient means zero.
type backwardFn func(in []*Var, out, gy *Var, needs []bool) []*Var

type node struct {
	op       string
	inputs   []*Var
	backward backwardFn
	// saved are tensors the backward function captured that are values of
	// other variables (not constants it made itself), so that Keep keeps
	// them with the graph
	saved []*tensor.Tensor
}

var noGrad atomic.Int32

// NoGrad runs fn with graph recording switched off: ops called inside build
// no graph, so nothing can be differentiated through them and their
// intermediate values are freed as soon as they are unused. The switch is
// process-wide (like torch.no_grad, but not per goroutine): do not differentiate
// in other goroutines while fn runs.
func NoGrad(fn func()) {
	noGrad.Add(1)
	defer noGrad.Add(-1)
	fn()
}

// GradEnabled reports whether ops record the graph.
func GradEnabled() bool { return noGrad.Load() == 0 }

// New returns a leaf variable holding t. Leaves with requiresGrad are what
// gradients are usually taken with respect to (parameters, inputs).
func New(t *tensor.Tensor, requiresGrad bool) *Var {
	return &Var{val: t, requiresGrad: requiresGrad}
}

// Param returns a leaf that requires gradients.
func Param(t *tensor.Tensor) *Var { return New(t, true) }

// Const returns a leaf that does not require gradients.
func Const(t *tensor.Tensor) *Var { return New(t, false) }

// Scalar returns a constant 0-d variable of dtype dt.
func Scalar(dt tensor.DType, v float64) *Var { return Const(tensor.Scalar(dt, v)) }

// Value returns the variable's tensor. Mutating it in place (as optimisers do
// with parameters) is allowed between graph constructions.
func (v *Var) Value() *tensor.Tensor { return v.val }

// Shape returns the shape of the value.
func (v *Var) Shape() []int { return v.val.Shape() }

// DType returns the element type.
func (v *Var) DType() tensor.DType { return v.val.DType() }

// RequiresGrad reports whether gradients can flow to this variable.
func (v *Var) RequiresGrad() bool { return v.requiresGrad }

// SetRequiresGrad changes whether a leaf requires gradients.
func (v *Var) SetRequiresGrad(b bool) {
	if v.node != nil {
		tensor.Panicf("autograd.SetRequiresGrad", "variable %s is not a leaf", v)
	}
	v.requiresGrad = b
}

// IsLeaf reports whether the variable was not computed by a recorded op.
func (v *Var) IsLeaf() bool { return v.node == nil }

// Op names the op that computed the variable ("" for leaves).
func (v *Var) Op() string {
	if v.node == nil {
		return ""
	}
	return v.node.op
}

// Detach returns a leaf sharing the value, cut off from the graph.
func (v *Var) Detach() *Var { return &Var{val: v.val, name: v.name} }

// Named sets a name used in messages and returns v.
func (v *Var) Named(name string) *Var { v.name = name; return v }

// Name returns the name set by Named.
func (v *Var) Name() string { return v.name }

// Item returns the single value of a one-element variable.
func (v *Var) Item() float64 { return v.val.Item() }

func (v *Var) String() string {
	n := v.name
	if n == "" && v.node != nil {
		n = v.node.op
	}
	if n == "" {
		n = "leaf"
	}
	return fmt.Sprintf("%s%v", n, v.val.Shape())
}

// saving lists tensors v's backward function captured that other ops made
// (a forward value, arg-max indices) with v's node, so that Keep keeps
// them with the graph, and returns v.
func saving(v *Var, ts ...*tensor.Tensor) *Var {
	if v.node != nil {
		for _, t := range ts {
			if t != nil {
				v.node.saved = append(v.node.saved, t)
			}
		}
	}
	return v
}

// constValue is Const for a value an op or a backward function computed
// (a gradient of no graph, a seed): like every op's value it is adopted by
// the open arena.
func constValue(t *tensor.Tensor) *Var {
	tensor.Adopt(t)
	return Const(t)
}

// record makes the output variable of an op; it records the node when
// recording is on and an input requires gradients.
func record(op string, val *tensor.Tensor, bw backwardFn, inputs ...*Var) *Var {
	tensor.Adopt(val)
	out := &Var{val: val}
	if !GradEnabled() || bw == nil {
		return out
	}
	for _, in := range inputs {
		if in != nil && in.requiresGrad {
			out.requiresGrad = true
			out.node = &node{op: op, inputs: inputs, backward: bw}
			break
		}
	}
	return out
}
