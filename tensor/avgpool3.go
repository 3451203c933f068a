package tensor

import "github.com/arp-robustness/arp/kernels"

// avgPoolPlane3x3 is avgPoolPlane for float32 on Inception v3's branch
// pool: 3x3 windows at stride 1 with one row and column of padding on
// every side, counted in the divisor (the output as large as the input).
// Each pass runs over the whole plane as one flat vector operation (the
// sum of three neighbours along the rows, then of three rows), with the
// values the flat operation gets wrong (the first and last column of each
// row, the first and last row) computed again as avgPoolPlane computes
// them; every value has avgPoolPlane's bits (the same operations in the
// same order). It reports false, having written nothing, for other pools.
func avgPoolPlane3x3(xc, yc, r []float32, g convGeom, rows, cols poolAxis, rowInv, colInv []float32, countPad bool) bool {
	ri, ok := flatPool3x3(g, rowInv, colInv, true, countPad)
	if !ok {
		return false
	}
	h, w := g.h, g.w
	n := h * w
	xc, yc, r = xc[:n], yc[:n], r[:n]
	// along the rows: r[k] = (x[k-1] + x[k]) + x[k+1] (colInv 1: no product)
	add32(xc[:n-2], xc[1:n-1], r[1:n-1])
	add32(r[1:n-1], xc[2:n], r[1:n-1])
	for i := 0; i < h; i++ {
		xr, rr := xc[i*w:(i+1)*w], r[i*w:(i+1)*w]
		for _, o := range []int{0, w - 1} {
			rr[o] = rowSum(xr[cols.lo[o]:cols.hi[o]]) * colInv[o]
		}
	}
	// down the columns: y[oy] = r[oy-1] + (r[oy] + r[oy+1]), the first and
	// last rows r[0] + r[1] and r[h-2] + r[h-1]; then the divisor
	add32(r[w:(h-1)*w], r[2*w:], yc[w:(h-1)*w])
	add32(r[:(h-2)*w], yc[w:(h-1)*w], yc[w:(h-1)*w])
	for j := 0; j < w; j++ {
		yc[j] = r[j] + r[w+j]
		yc[(h-1)*w+j] = r[(h-2)*w+j] + r[(h-1)*w+j]
	}
	k := kernels.Binary32(kernels.BinMul, yc, 1, []float32{ri}, 0, yc)
	for i := k; i < n; i++ {
		yc[i] *= ri
	}
	return true
}

// flatPool3x3 reports whether the pool of g is the one the flat 3x3 passes
// serve (3x3 windows, stride 1, one row and column of padding counted in
// the divisor, the output as large as the input, at least 3x3), with every
// column factor equal to 1 (but the first and last, which the forward
// passes compute apart, when edges) and one row factor ri for every row.
func flatPool3x3(g convGeom, rowInv, colInv []float32, edges, countPad bool) (ri float32, ok bool) {
	p := g.p
	if !countPad || g.kh != 3 || g.kw != 3 || p.StrideH != 1 || p.StrideW != 1 || p.PadTop != 1 || p.PadLeft != 1 ||
		g.oh != g.h || g.ow != g.w || g.h < 3 || g.w < 3 {
		return 0, false
	}
	unit := colInv[:g.w]
	if edges {
		unit = unit[1 : g.w-1]
	}
	for _, v := range unit {
		if v != 1 {
			return 0, false
		}
	}
	ri = rowInv[0]
	for _, v := range rowInv {
		if v != ri {
			return 0, false
		}
	}
	return ri, true
}

// add32 sets out[i] = a[i] + b[i] (out may be a or b), with the vector
// kernel where there is one.
func add32(a, b, out []float32) {
	k := kernels.Binary32(kernels.BinAdd, a, 1, b, 1, out)
	a, b = a[k:len(out)], b[k:len(out)]
	for i := range a {
		out[k+i] = a[i] + b[i]
	}
}

// avgPoolAdjointPlane3x3 is avgPoolAdjointPlane for the pools of
// avgPoolPlane3x3, in flat vector passes in the same way: every value has
// avgPoolAdjointPlane's bits. It reports false, having written nothing,
// for other pools.
func avgPoolAdjointPlane3x3(xc, yc, r []float32, g convGeom, rows, cols poolAxis, rowInv, colInv []float32, countPad bool) bool {
	ri, ok := flatPool3x3(g, rowInv, colInv, false, countPad)
	if !ok {
		return false
	}
	h, w := g.h, g.w
	n := h * w
	xc, yc, r = xc[:n], yc[:n], r[:n]
	s := []float32{ri}
	// down the columns: r[i] = (y[i-1]*ri + y[i]*ri) + y[i+1]*ri, the
	// first and last rows y[0]*ri + y[1]*ri and y[h-2]*ri + y[h-1]*ri
	// (xc holds the products of the second and third rows meanwhile)
	in := w * (h - 2)
	mul32(yc[:in], s, r[w:w+in])
	mul32(yc[w:w+in], s, xc[w:w+in])
	add32(r[w:w+in], xc[w:w+in], r[w:w+in])
	mul32(yc[2*w:], s, xc[w:w+in])
	add32(r[w:w+in], xc[w:w+in], r[w:w+in])
	for j := 0; j < w; j++ {
		r[j] = yc[j]*ri + yc[w+j]*ri
		r[(h-1)*w+j] = yc[(h-2)*w+j]*ri + yc[(h-1)*w+j]*ri
	}
	// along the rows: x[k] = (r[k-1] + r[k]) + r[k+1] (colInv 1), the first
	// and last column of each row as avgPoolAdjointPlane sums them
	add32(r[:n-2], r[1:n-1], xc[1:n-1])
	add32(xc[1:n-1], r[2:n], xc[1:n-1])
	for i := 0; i < h; i++ {
		xr, rr := xc[i*w:(i+1)*w], r[i*w:(i+1)*w]
		for _, j := range []int{0, w - 1} {
			xr[j] = weightedSum(rr[cols.olo[j]:cols.ohi[j]], colInv[cols.olo[j]:cols.ohi[j]])
		}
	}
	return true
}

// mul32 sets out[i] = a[i] * s[0], with the vector kernel where there is
// one.
func mul32(a, s, out []float32) {
	k := kernels.Binary32(kernels.BinMul, a, 1, s, 0, out)
	for i := k; i < len(out); i++ {
		out[i] = a[i] * s[0]
	}
}
