package tensor

// Max-pool values without indices, for windows other than 2x2 (Inception's
// 3x3 at stride 2), as two one-dimensional passes.
//
// The value MaxPool2d picks is the first element of the window (row-major)
// that compares equal to its largest one. Without NaNs the largest value is
// the maximum over the window's rows of each row's maximum over its
// columns, computed with the max builtin (no data-dependent branches); the
// bits of any element equal to a nonzero maximum are the maximum's, and
// where the maximum is zero the window is scanned for its first zero (-0
// or +0, which compare equal). A plane holding a NaN takes the indices'
// route, whose NaN ordering it then has exactly.

// maxPoolValuesPlane sets vals [OH,OW] to the max-pool values of one
// channel plane xc [H,W] of the undilated pool g, using r (H*OW elements)
// for the row maxima; it returns false, vals not written, if the plane
// holds a NaN.
func maxPoolValuesPlane[T Float](xc []T, g convGeom, vals, r []T) bool {
	for _, v := range xc[:g.h*g.w] {
		if v != v {
			return false
		}
	}
	p := g.p
	w, ow := g.w, g.ow
	r = r[:g.h*ow]
	for i := 0; i < g.h; i++ {
		xr := xc[i*w : (i+1)*w]
		rr := r[i*ow : (i+1)*ow]
		for ox := range rr {
			j0, j1 := g.colSpan(ox)
			if j0 >= j1 {
				rr[ox] = 0 // a column of windows entirely in the padding
				continue
			}
			win := xr[j0:j1]
			m := win[0]
			for _, v := range win[1:] {
				m = max(m, v)
			}
			rr[ox] = m
		}
	}
	for oy := 0; oy < g.oh; oy++ {
		y0 := oy*p.StrideH - p.PadTop
		i0, i1 := max(y0, 0), min(y0+g.kh, g.h)
		vr := vals[oy*ow : (oy+1)*ow]
		if i0 >= i1 {
			clear(vr)
			continue
		}
		copy(vr, r[i0*ow:(i0+1)*ow])
		for i := i0 + 1; i < i1; i++ {
			rr := r[i*ow : (i+1)*ow]
			rr = rr[:len(vr)]
			for ox, v := range rr {
				vr[ox] = max(vr[ox], v)
			}
		}
		for ox, v := range vr {
			if v != 0 {
				continue
			}
			j0, j1 := g.colSpan(ox)
			if j0 >= j1 {
				vr[ox] = 0 // entirely in the padding
				continue
			}
			vr[ox] = firstZero(xc, w, i0, i1, j0, j1)
		}
	}
	return true
}

// colSpan returns the input columns [j0, j1) of output column ox's pooling
// window that are inside the image (empty when it lies in the padding).
func (g convGeom) colSpan(ox int) (j0, j1 int) {
	x0 := ox*g.p.StrideW - g.p.PadLeft
	return max(x0, 0), min(x0+g.kw, g.w)
}

// firstZero returns the first element (row-major) of the window rows
// i0..i1-1, columns j0..j1-1 of xc (row width w) that equals 0, a window
// whose largest value is 0: -0 or +0.
func firstZero[T Float](xc []T, w, i0, i1, j0, j1 int) T {
	for i := i0; i < i1; i++ {
		for _, v := range xc[i*w+j0 : i*w+j1] {
			if v == 0 {
				return v
			}
		}
	}
	return 0
}
