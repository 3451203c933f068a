package mask

import "fmt"

// ResizeBilinear resizes an h x w map to H x W by bilinear interpolation
// with half-pixel centres, matching PyTorch's
// F.interpolate(x, size=(H, W), mode="bilinear", align_corners=False)
// (no antialiasing when shrinking). Output pixel Y samples the input at
// y = (Y+0.5)*h/H - 0.5, clamped at 0 and at the last row; likewise for
// columns. It is meant for display and for analysis outside the autograd
// engine; the engine has its own differentiable resize.
func ResizeBilinear(m []float32, h, w, H, W int) []float32 {
	checkLen("ResizeBilinear", "m", len(m), h, w)
	if H < 0 || W < 0 {
		panic(fmt.Sprintf("mask.ResizeBilinear: negative output size H=%d W=%d", H, W))
	}
	out := make([]float32, H*W)
	if h == 0 || w == 0 {
		return out
	}
	type tap struct {
		i0, i1 int
		l      float32 // weight of i1
	}
	taps := func(in, outN int) []tap {
		t := make([]tap, outN)
		scale := float32(in) / float32(outN)
		for o := range t {
			src := scale*(float32(o)+0.5) - 0.5
			if src < 0 {
				src = 0
			}
			i0 := int(src)
			if i0 > in-1 {
				i0 = in - 1
			}
			i1 := i0
			if i0 < in-1 {
				i1 = i0 + 1
			}
			t[o] = tap{i0, i1, src - float32(i0)}
		}
		return t
	}
	ty, tx := taps(h, H), taps(w, W)
	for Y, a := range ty {
		r0 := m[a.i0*w : (a.i0+1)*w]
		r1 := m[a.i1*w : (a.i1+1)*w]
		o := out[Y*W : (Y+1)*W]
		for X, b := range tx {
			top := (1-b.l)*r0[b.i0] + b.l*r0[b.i1]
			bot := (1-b.l)*r1[b.i0] + b.l*r1[b.i1]
			o[X] = (1-a.l)*top + a.l*bot
		}
	}
	return out
}
