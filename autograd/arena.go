package autograd

import "github.com/arp-robustness/arp/tensor"

// OpenArena opens a tensor.Arena for one unit of work (a training step, an
// attack's gradient): every op's value and every gradient made until it
// closes takes recycled storage and gives it back when the arena closes,
// unless kept. Close it when the work is done; a Var made inside that is
// used afterwards must be kept with Keep (with its graph) or its value with
// tensor.Keep.
func OpenArena() *tensor.Arena { return tensor.OpenArena() }

// Keep marks the values of vs and of everything their graphs reach (the
// inputs of their ops, recursively, and tensors the ops' backward functions
// captured) as escaping the open arena, so that vs can still be used, and
// differentiated, after it closes. Without an open arena it does nothing.
func Keep(vs ...*Var) {
	seen := map[*Var]bool{}
	var ts []*tensor.Tensor
	var walk func(v *Var)
	walk = func(v *Var) {
		if v == nil || seen[v] {
			return
		}
		seen[v] = true
		ts = append(ts, v.val)
		if v.node != nil {
			ts = append(ts, v.node.saved...)
			for _, in := range v.node.inputs {
				walk(in)
			}
		}
	}
	for _, v := range vs {
		walk(v)
	}
	tensor.Keep(ts...)
}
