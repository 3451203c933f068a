package attack

import (
	"math"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// The helpers below work on float32 NCHW tensors; attacks convert their
// input once (asF32) and hand back the caller's dtype (asDType).

// asF32 returns x as a float32 tensor the caller may modify.
func asF32(x *tensor.Tensor) *tensor.Tensor {
	if x.DType() == tensor.Float32 {
		return x.Clone()
	}
	return x.AsType(tensor.Float32)
}

// asDType converts an attack's float32 result back to the input's dtype.
func asDType(adv, like *tensor.Tensor) *tensor.Tensor { return adv.AsType(like.DType()) }

// perImage returns the number of values per image of a batch.
func perImage(x *tensor.Tensor) int { return x.Size() / x.Shape()[0] }

// rowsOf copies the images idx of x into a new batch.
func rowsOf(x *tensor.Tensor, idx []int) *tensor.Tensor {
	per := perImage(x)
	sh := append([]int{len(idx)}, x.Shape()[1:]...)
	out := tensor.Zeros(tensor.Float32, sh...)
	src, dst := x.F32(), out.F32()
	for j, i := range idx {
		copy(dst[j*per:(j+1)*per], src[i*per:(i+1)*per])
	}
	return out
}

// putRow copies image j of src into image i of dst.
func putRow(dst *tensor.Tensor, i int, src *tensor.Tensor, j int) {
	per := perImage(dst)
	copy(dst.F32()[i*per:(i+1)*per], src.F32()[j*per:(j+1)*per])
}

// keepRows returns the images keep of x (positions within x).
func keepRows(x *tensor.Tensor, keep []int) *tensor.Tensor {
	if len(keep) == x.Shape()[0] {
		return x
	}
	return rowsOf(x, keep)
}

// pick returns v[idx[j]] for every j.
func pick[T any](v []T, idx []int) []T {
	out := make([]T, len(idx))
	for j, i := range idx {
		out[j] = v[i]
	}
	return out
}

// forward returns the logits of m on x in evaluation mode, without
// recording a graph.
func forward(m nn.Classifier, x *tensor.Tensor) (*tensor.Tensor, error) {
	var out *tensor.Tensor
	err := autograd.Try(func() {
		autograd.NoGrad(func() {
			l, _ := m.Forward(autograd.Const(x), nn.Eval)
			out = l.Value()
		})
	})
	return out, err
}

// argmaxRows returns the predicted class of every row of logits [N,K].
func argmaxRows(logits *tensor.Tensor) []int { return tensor.ArgMax(logits, 1) }

// crossEntropyRow returns -log softmax(z)[t] of one row of logits.
func crossEntropyRow(logits *tensor.Tensor, row, t int) float64 {
	return logSumExpRow(logits, row) - logits.AtFlat(row*logits.Shape()[1]+t)
}

// logSumExpRow returns log sum exp(z) of one row of logits, computed
// stably.
func logSumExpRow(logits *tensor.Tensor, row int) float64 {
	k := logits.Shape()[1]
	mx := math.Inf(-1)
	for j := 0; j < k; j++ {
		mx = math.Max(mx, logits.AtFlat(row*k+j))
	}
	s := 0.0
	for j := 0; j < k; j++ {
		s += math.Exp(logits.AtFlat(row*k+j) - mx)
	}
	return mx + math.Log(s)
}

// logSoftmaxRow returns log softmax(z) of one row of logits.
func logSoftmaxRow(logits *tensor.Tensor, row int) []float64 {
	k := logits.Shape()[1]
	lse := logSumExpRow(logits, row)
	out := make([]float64, k)
	for j := range out {
		out[j] = logits.AtFlat(row*k+j) - lse
	}
	return out
}

// margin returns z_t - max_{j != t} z_j for one row of logits.
func margin(logits *tensor.Tensor, row, t int) float64 {
	k := logits.Shape()[1]
	other := math.Inf(-1)
	for j := 0; j < k; j++ {
		if j != t {
			other = math.Max(other, logits.AtFlat(row*k+j))
		}
	}
	return logits.AtFlat(row*k+t) - other
}

// argmaxRow returns the predicted class of one row of logits.
func argmaxRow(logits *tensor.Tensor, row int) int {
	k := logits.Shape()[1]
	best := 0
	for j := 1; j < k; j++ {
		if logits.AtFlat(row*k+j) > logits.AtFlat(row*k+best) {
			best = j
		}
	}
	return best
}
