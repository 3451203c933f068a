package autograd

import (
	"fmt"

	"github.com/arp-robustness/arp/tensor"
)

// Grad returns the gradients of the sum of outputs (each weighted by the
// matching entry of gradOutputs; nil entries or a nil slice mean ones) with
// respect to inputs. Only the part of the graph between outputs and inputs is
// visited and only the gradients needed for inputs are computed.
//
// With createGraph the returned gradients are themselves differentiable
// functions of the graph's leaves (as torch.autograd.grad(...,
// create_graph=True)), so Grad can be applied to a function of them: this is
// how second-order derivatives (double backpropagation) are taken.
// Without it the gradients are plain constants.
//
// An input that the outputs do not depend on gets a zero gradient. Errors are
// returned for empty or mismatched arguments and for outputs that do not
// require gradients.
func Grad(outputs, gradOutputs, inputs []*Var, createGraph bool) ([]*Var, error) {
	if len(outputs) == 0 {
		return nil, fmt.Errorf("autograd.Grad: no outputs")
	}
	if gradOutputs != nil && len(gradOutputs) != len(outputs) {
		return nil, fmt.Errorf("autograd.Grad: %d gradOutputs for %d outputs", len(gradOutputs), len(outputs))
	}
	for i, g := range gradOutputs {
		if g != nil && !tensor.SameShape(g.Shape(), outputs[i].Shape()) {
			return nil, fmt.Errorf("autograd.Grad: gradOutput %d has shape %v, output has %v", i, g.Shape(), outputs[i].Shape())
		}
	}
	want := make(map[*Var]int, len(inputs))
	for i, in := range inputs {
		if in == nil {
			return nil, fmt.Errorf("autograd.Grad: input %d is nil", i)
		}
		want[in] = i
	}
	anyGrad := false
	for _, o := range outputs {
		anyGrad = anyGrad || o.requiresGrad
	}
	if !anyGrad {
		return nil, fmt.Errorf("autograd.Grad: no output requires gradients (computed inside NoGrad, or from constants only)")
	}

	// leads[v]: v is a requested input or an ancestor-path to one exists.
	leads := map[*Var]bool{}
	var order []*Var // post-order: inputs of a node before the node
	visited := map[*Var]bool{}
	var visit func(v *Var) bool
	visit = func(v *Var) bool {
		if visited[v] {
			return leads[v]
		}
		visited[v] = true
		l := false
		if _, ok := want[v]; ok {
			l = true
		}
		if v.node != nil {
			for _, in := range v.node.inputs {
				if in != nil && in.requiresGrad && visit(in) {
					l = true
				}
			}
		}
		leads[v] = l
		order = append(order, v)
		return l
	}
	for _, o := range outputs {
		if o.requiresGrad {
			visit(o)
		}
	}

	mark := tensor.ArenaMark() // gradients made by this call come after it
	grads := map[*Var]*Var{}
	// owned[v]: grads[v] is a sum this call made (no graph), which nothing
	// else holds, so further contributions are added to it in place; a
	// backward's result may be shared (Add's passes its output gradient to
	// both inputs) and is never written
	owned := map[*Var]bool{}
	accumulate := func(v, g *Var) {
		if g == nil {
			return
		}
		if !tensor.SameShape(g.Shape(), v.Shape()) {
			tensor.Panicf("autograd.Grad", "backward of %s produced gradient %v for input %v", v.Op(), g.Shape(), v.Shape())
		}
		old, ok := grads[v]
		switch {
		case !ok:
			grads[v] = g
		case owned[v]:
			tensor.AddTo(old.Value(), g.Value())
		default:
			grads[v] = Add(old, g)
			owned[v] = !createGraph
		}
	}
	for i, o := range outputs {
		if !o.requiresGrad || !leads[o] {
			continue
		}
		var g *Var
		if gradOutputs != nil && gradOutputs[i] != nil {
			g = gradOutputs[i]
			if !createGraph {
				g = g.Detach()
			}
		} else {
			g = constValue(tensor.Full(o.DType(), 1, o.Shape()...))
		}
		accumulate(o, g)
	}

	run := func() {
		for i := len(order) - 1; i >= 0; i-- {
			v := order[i]
			if v.node == nil || !leads[v] {
				continue
			}
			gy, ok := grads[v]
			if !ok {
				continue
			}
			ins := v.node.inputs
			needs := make([]bool, len(ins))
			any := false
			for j, in := range ins {
				needs[j] = in != nil && in.requiresGrad && leads[in]
				any = any || needs[j]
			}
			if !any {
				continue
			}
			callIns, out := ins, v
			if !createGraph {
				callIns = make([]*Var, len(ins))
				for j, in := range ins {
					if in != nil {
						callIns[j] = in.Detach()
					}
				}
				out = v.Detach()
			}
			gs := v.node.backward(callIns, out, gy, needs)
			for j, in := range ins {
				if needs[j] && j < len(gs) {
					accumulate(in, gs[j])
				}
			}
			if _, isInput := want[v]; !isInput {
				delete(grads, v) // free intermediate gradients early
				delete(owned, v)
				if !createGraph {
					release(gy, grads, mark)
				}
			}
		}
	}
	run()

	res := make([]*Var, len(inputs))
	for i, in := range inputs {
		if g, ok := grads[in]; ok {
			res[i] = g
		} else {
			res[i] = constValue(tensor.Zeros(in.DType(), in.Shape()...))
		}
	}
	return res, nil
}

// release gives the storage of gy, an intermediate gradient that has been
// propagated, back to the open arena's pool at once (lowering a step's
// peak memory) unless a pending gradient shares it (a backward function
// may pass gy on to its inputs, or a view of it; what it passed on and
// was added into another gradient in place is no longer needed). Only
// storage this Grad call made (after mark) is released: never a caller's
// gradOutputs or a forward value a backward function passed on.
func release(gy *Var, grads map[*Var]*Var, mark uint64) {
	for _, g := range grads {
		if tensor.SharesStorage(g.val, gy.val) {
			return
		}
	}
	tensor.ReleaseSince(gy.val, mark)
}

// MustGrad is Grad for a single scalar output that panics on error.
func MustGrad(output *Var, inputs []*Var, createGraph bool) []*Var {
	g, err := Grad([]*Var{output}, nil, inputs, createGraph)
	if err != nil {
		panic(err)
	}
	return g
}
