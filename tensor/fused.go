package tensor

import "github.com/arp-robustness/arp/kernels"

// Conv2dBiasReluMaxPool returns MaxPool2d(Conv2dBiasRelu(x, w, b, p), kh,
// kw, pp) and the max-pool's indices (into the convolution's output,
// whose shape is the third result). With enough images each worker pools
// every image's convolution output as soon as it is computed, while it is
// in the core's cache, and the batch's output is never written; otherwise
// the output lives in a recycled scratch buffer only while it is pooled.
func Conv2dBiasReluMaxPool(x, w, b *Tensor, p Conv2dParams, kh, kw int, pp Conv2dParams) (*Tensor, []int32, []int) {
	return convReluPool("tensor.Conv2dBiasReluMaxPool", x, w, b, p, kh, kw, pp, true)
}

// Conv2dBiasReluMaxPoolValues returns the values of Conv2dBiasReluMaxPool,
// bit for bit, without the max-pool's indices: for inference, where no
// backward pass needs them. The result's storage comes from the buffer
// pool (Scratch): give it back with Recycle once unused, or leave it to
// the collector.
func Conv2dBiasReluMaxPoolValues(x, w, b *Tensor, p Conv2dParams, kh, kw int, pp Conv2dParams) *Tensor {
	y, _, _ := convReluPool("tensor.Conv2dBiasReluMaxPoolValues", x, w, b, p, kh, kw, pp, false)
	return y
}

// convReluPool is Conv2dBiasReluMaxPool, with the indices when withIdx.
func convReluPool(op string, x, w, b *Tensor, p Conv2dParams, kh, kw int, pp Conv2dParams, withIdx bool) (*Tensor, []int32, []int) {
	sameDType(op, x, w)
	g := convGeometry(op, x.shape, w.shape, p)
	zshape := []int{g.n, g.f, g.oh, g.ow}
	if b != nil {
		sameDType(op, x, b)
		if len(b.shape) != 1 || b.shape[0] != g.f {
			Panicf(op, "bias %v does not match weight %v", b.shape, w.shape)
		}
	}
	if g.n < 2*Workers() {
		z := Scratch(x.dtype, zshape...)
		defer Recycle(z)
		convForwardInto(g, x, w, b, z, true)
		if !withIdx {
			return maxPoolValues(z, kh, kw, pp, true), nil, zshape
		}
		y, idx := MaxPool2d(z, kh, kw, pp)
		return y, idx, zshape
	}
	pg, pshape := PoolOutShape(op, []int{1, g.f, g.oh, g.ow}, kh, kw, pp)
	var out *Tensor
	var idx []int32
	if withIdx {
		out = newOut(x.dtype, g.n, g.f, pshape[2], pshape[3]) // every value is written
		idx = newIndices(out.Size())
	} else {
		out = Scratch(x.dtype, g.n, g.f, pshape[2], pshape[3]) // every value is written
	}
	per, zper := Numel(pshape), g.f*g.oh*g.ow
	if x.dtype == Float32 {
		var bias []float32
		if b != nil {
			bias = b.f32
		}
		kernels.ConvForwardEach(g.kern(), x.f32, w.f32, bias, true, func(n int, zn []float32) {
			poolImage(zn, pg, idx, out.f32, n, per, zper)
		})
	} else {
		var bias []float64
		if b != nil {
			bias = b.f64
		}
		kernels.ConvForwardEach(g.kern(), x.f64, w.f64, bias, true, func(n int, zn []float64) {
			poolImage(zn, pg, idx, out.f64, n, per, zper)
		})
	}
	return out, idx, zshape
}

// poolImage max-pools image n's convolution output zn (pool geometry pg,
// one image) into its per values of out and, when idx is not nil, its
// indices (into the batch's convolution output, zper values per image).
func poolImage[T Float](zn []T, pg convGeom, idx []int32, out []T, n, per, zper int) {
	if idx == nil {
		maxPoolValuesRange(zn, pg, out[n*per:(n+1)*per], 0, pg.c)
		return
	}
	maxPoolRange(zn, pg, idx[n*per:(n+1)*per], out[n*per:(n+1)*per], 0, pg.c, int32(n*zper))
}

// MaxPoolReluGrad returns the gradient with respect to z of
// MaxPool2d(Relu(z)) for output gradient gy, given the pooled values y and
// the pool's indices idx (blocks of one channel each, as MaxPool2d makes
// them): gy selected where y > 0, scattered (added) to the indexed
// positions of zeros of zshape. With scratch the result comes from the
// buffer pool (give it back with Recycle). One pass: each channel is
// cleared and scattered while in cache.
func MaxPoolReluGrad(gy, y *Tensor, idx []int32, zshape []int, scratch bool) *Tensor {
	sameDType("tensor.MaxPoolReluGrad", gy, y)
	if !SameShape(gy.shape, y.shape) || len(idx) != gy.Size() || len(zshape) != 4 || len(gy.shape) != 4 ||
		zshape[0] != gy.shape[0] || zshape[1] != gy.shape[1] {
		Panicf("tensor.MaxPoolReluGrad", "gradient %v, pooled values %v, %d indices and input shape %v do not match", gy.shape, y.shape, len(idx), zshape)
	}
	var out *Tensor
	if scratch {
		out = Scratch(gy.dtype, zshape...)
	} else {
		out = Zeros(gy.dtype, zshape...)
	}
	nb := zshape[0] * zshape[1]
	if nb == 0 {
		return out
	}
	block, ob := len(idx)/nb, out.Size()/nb
	if gy.dtype == Float32 {
		maxPoolReluGrad(gy.f32, y.f32, idx, block, ob, nb, out.f32)
	} else {
		maxPoolReluGrad(gy.f64, y.f64, idx, block, ob, nb, out.f64)
	}
	return out
}

func maxPoolReluGrad[T Float](gy, y []T, idx []int32, block, ob, nb int, out []T) {
	ParallelFor(nb, max(1, elemGrain/max(block, 1)), func(lo, hi int) {
		for b := lo; b < hi; b++ {
			first, last := int32(b*ob), int32((b+1)*ob)
			clear(out[first:last])
			gb, yb := gy[b*block:(b+1)*block], y[b*block:(b+1)*block]
			for i, j := range idx[b*block : (b+1)*block] {
				if j < 0 || !(yb[i] > 0) {
					continue
				}
				if j < first || j >= last {
					Panicf("tensor.MaxPoolReluGrad", "index %d of channel %d is outside it [%d,%d)", j, b, first, last)
				}
				out[j] += gb[i]
			}
		}
	})
}

// Conv2dBiasReluMaxPoolGrads returns the gradients with respect to x, w and
// the bias of Conv2dBiasReluMaxPool for output gradient gy, given the
// pooled values y and the indices (and convolution output shape) it
// returned; only those asked for are computed (the others are nil). With
// enough images every worker makes one image's convolution output
// gradient (MaxPoolReluGrad's, for that image) at a time and uses it for
// both convolution gradients while it is in the core's cache. The bias
// gradient is summed from the pooled gradient.
func Conv2dBiasReluMaxPoolGrads(x, w, gy, y *Tensor, idx []int32, p Conv2dParams, zshape []int, needX, needW, needB bool) (dx, dw, db *Tensor) {
	const op = "tensor.Conv2dBiasReluMaxPoolGrads"
	sameDType(op, x, w)
	g := convGeometry(op, x.shape, w.shape, p)
	if !SameShape(zshape, []int{g.n, g.f, g.oh, g.ow}) {
		Panicf(op, "convolution output shape %v does not match input %v and weight %v", zshape, x.shape, w.shape)
	}
	fused := (needX || needW) && g.n >= 2*Workers()
	if needB {
		db = Zeros(x.dtype, g.f)
		if !fused { // the fused route sums it while scattering gy
			if x.dtype == Float32 {
				pooledBiasGrad(gy.f32, y.f32, g.n, g.f, db.f32)
			} else {
				pooledBiasGrad(gy.f64, y.f64, g.n, g.f, db.f64)
			}
		}
	}
	if !needX && !needW {
		return nil, nil, db
	}
	if !fused {
		gz := MaxPoolReluGrad(gy, y, idx, zshape, true)
		defer Recycle(gz)
		if needX {
			dx = Conv2dInputGrad(gz, w, x.shape, p)
		}
		if needW {
			dw = Conv2dWeightGrad(x, gz, w.shape, p)
		}
		return dx, dw, db
	}
	if needX {
		dx = Zeros(x.dtype, x.shape...)
	}
	if needW {
		dw = Zeros(x.dtype, w.shape...)
	}
	if x.dtype == Float32 {
		fusedBackward(g, x.f32, w.f32, gy.f32, y.f32, idx, gy.shape[2], gy.shape[3], valsOf32(dx), valsOf32(dw), valsOf32(db))
	} else {
		fusedBackward(g, x.f64, w.f64, gy.f64, y.f64, idx, gy.shape[2], gy.shape[3], valsOf64(dx), valsOf64(dw), valsOf64(db))
	}
	return dx, dw, db
}

func valsOf32(t *Tensor) []float32 {
	if t == nil {
		return nil
	}
	return t.f32
}

func valsOf64(t *Tensor) []float64 {
	if t == nil {
		return nil
	}
	return t.f64
}

// fusedBackward runs kernels.ConvBackwardEach with image n's convolution
// output gradient made from the pooled gradient gy [N,F,ph,pw]: cleared,
// then gy where the pooled value is positive added at the indexed
// positions. When the pooled output tiles the convolution's (2x2 windows
// of stride 2) float32 planes are written in one pass by
// kernels.MaxPoolGrad2x2Plane instead, as long as every maximum lies in
// its window's 2x2 block. When db is not nil it is set to the bias
// gradient, each image's channel sums taken in the same pass (and added
// up in image order).
func fusedBackward[T Float](g convGeom, x, w, gy, y []T, idx []int32, ph, pw int, dx, dw, db []T) {
	zper := g.f * g.oh * g.ow
	per := len(idx) / g.n
	pc := per / g.f // pooled positions per channel
	var sums []T    // [N][F] per-image channel sums of the selected gy
	if db != nil {
		sums = make([]T, g.n*g.f)
	}
	gy32, tiled := any(gy).([]float32)
	tiled = tiled && g.oh == 2*ph && g.ow == 2*pw && pc == ph*pw
	kernels.ConvBackwardEach(g.kern(), x, w, func(n int, buf []T) []T {
		buf = buf[:zper]
		off := int32(n * zper)
		if tiled && planeGrads(gy32, any(y).([]float32), idx, n*per, off, g.f, g.oh*g.ow, ph, pw, any(buf).([]float32), any(sums).([]float32)) {
			return buf
		}
		clear(buf)
		for ch := 0; ch < g.f; ch++ {
			o := n*per + ch*pc
			gb, yb := gy[o:o+pc], y[o:o+pc]
			var s T
			for i, j := range idx[o : o+pc] {
				if j < 0 || !(yb[i] > 0) {
					continue
				}
				j -= off
				if j < 0 || int(j) >= zper {
					Panicf("tensor.Conv2dBiasReluMaxPoolGrads", "index %d of image %d is outside it", j+off, n)
				}
				buf[j] += gb[i]
				s += gb[i]
			}
			if sums != nil {
				sums[n*g.f+ch] = s
			}
		}
		return buf
	}, dx, dw)
	for n := 0; n < g.n && db != nil; n++ {
		for ch, v := range sums[n*g.f : (n+1)*g.f] {
			db[ch] += v
		}
	}
}

// pooledBiasGrad sets db[c] to the sum over images and pooled positions of
// channel c of gy where the pooled value y is positive.
func pooledBiasGrad[T Float](gy, y []T, n, c int, db []T) {
	per := len(gy) / max(n*c, 1)
	for ch := 0; ch < c; ch++ {
		var s T
		for i := 0; i < n; i++ {
			o := (i*c + ch) * per
			gb, yb := gy[o:o+per], y[o:o+per]
			for k, v := range gb {
				if yb[k] > 0 {
					s += v
				}
			}
		}
		db[ch] = s
	}
}

// planeGrads writes the convolution output gradient z [F][ohw] of one
// image plane by plane with kernels.MaxPoolGrad2x2Plane (pooled values,
// gradients and indices from element o, indices counted from off) and
// its channel sums into sums[image*F:] when sums is not nil; false (z
// partly written) when the kernel refuses a plane.
func planeGrads(gy, y []float32, idx []int32, o int, off int32, f, ohw, ph, pw int, z, sums []float32) bool {
	pc := ph * pw
	for ch := 0; ch < f; ch++ {
		p := o + ch*pc
		s, ok := kernels.MaxPoolGrad2x2Plane(gy[p:p+pc], y[p:p+pc], idx[p:p+pc], off+int32(ch*ohw), ph, pw, z[ch*ohw:(ch+1)*ohw])
		if !ok {
			return false
		}
		if sums != nil {
			sums[o/pc+ch] = s
		}
	}
	return true
}
