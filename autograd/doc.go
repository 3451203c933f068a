// Package autograd is arp's reverse-mode automatic differentiation engine
// over package tensor, with gradients of any order.
//
// # Model of computation
//
// A *Var holds a tensor value. Leaves are made with Param (requires
// gradients: weights, or an input being attacked) or Const. Every op (Add,
// Conv2d, MaxPool2d, Softmax, ...) computes its value eagerly and, when
// recording is on and one of its inputs requires gradients, remembers its
// inputs and a backward function. The graph is the web of these records; it
// is freed by the garbage collector when the outputs are dropped.
//
// Grad(outputs, gradOutputs, inputs, createGraph) walks only the part of the
// graph between outputs and inputs, runs each op's backward once in reverse
// topological order and returns the gradients of the inputs. As in PyTorch's
// derivatives table, every backward function is written with the same
// differentiable ops (the gradient of Conv2d is Conv2dInputGrad and
// Conv2dWeightGrad, whose own gradients are convolutions again; the gradient
// of MaxPool2d is a scatter whose gradient is a gather; and so on). With
// createGraph the backward pass is itself recorded, so the returned
// gradients can be differentiated again: that gives the second-order
// gradients that the ARP training loss and the adaptive attacks need (they
// differentiate a Grad-CAM map, which is a gradient). Without createGraph the
// backward pass records nothing.
//
// NoGrad switches recording off (process-wide) for inference; ops whose
// backward pass needs more than their values (max-pools' arg-max indices)
// then compute the values alone, bit for bit the same.
//
// # Memory
//
// OpenArena opens a tensor.Arena for one unit of work: the training loop
// runs every step in one, and the attacks every input gradient. While it is
// open, every op's value and every gradient takes recycled storage, which
// goes back to the pool when the arena closes, so a step does not allocate,
// zero and fault in its working memory afresh. What outlives the arena must
// be kept: Keep keeps variables with their graphs (the values of every op
// they depend on and what the ops' backward functions captured), so they
// can still be differentiated; tensor.Keep keeps bare values. Parameters
// and optimiser state are never the arena's (they were made before it, or
// by no op). Released variables are emptied, so a use after the arena
// closed fails instead of reading reused memory.
//
// # Errors
//
// Ops panic with a *tensor.ShapeError naming the op and the shapes when
// given inputs they cannot work with; Try converts such panics into errors.
// Grad returns errors for malformed requests.
//
// # Checking gradients
//
// CheckGrad compares Grad with central finite differences and CheckGradGrad
// does the same for second-order gradients (the gradient of a function of a
// gradient, with respect to both the inputs and the output gradient); the
// package's tests run both for every op in float64.
package autograd
