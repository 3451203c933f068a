package tensor

// Average pooling as two one-dimensional passes.
//
// A window's sum is the sum over its rows of the row sums over its columns,
// and its divisor is (rows counted) x (columns counted) — kh x kw with
// countPad, the window's rows and columns inside the input otherwise — so
// the pool is separable: a horizontal pass sums each input row over the
// output columns' windows, then a vertical pass sums those row sums over
// the output rows' windows. For a 3x3 window that is 6 additions per output
// instead of 9, every inner loop runs over contiguous memory without bounds
// tests, and the adjoint is the two transposed passes in gather form (each
// input position sums the outputs whose windows cover it), so both
// directions write every element of their result exactly once. Dilated
// windows take the direct loop (avgPool).

// poolAxis describes one axis of a window placement: output o reads the
// input range [lo[o], hi[o]), scaled by inv[o]; input i is read by the
// outputs [olo[i], ohi[i]).
type poolAxis struct {
	lo, hi, olo, ohi []int
	inv              []float64
}

// newPoolAxis builds the axis of a window of k positions at stride s with
// padBefore leading padding on an input of n positions giving out outputs.
// With countPad every window counts k positions; otherwise those inside the
// input (a window with none gets inverse 0, so its output is 0).
func newPoolAxis(n, out, k, s, padBefore int, countPad bool) poolAxis {
	a := poolAxis{lo: make([]int, out), hi: make([]int, out), inv: make([]float64, out), olo: make([]int, n), ohi: make([]int, n)}
	for o := 0; o < out; o++ {
		start := o*s - padBefore
		a.lo[o], a.hi[o] = min(max(start, 0), n), min(max(start+k, 0), n)
		cnt := a.hi[o] - a.lo[o]
		if countPad {
			cnt = k
		}
		if cnt > 0 && a.hi[o] > a.lo[o] {
			a.inv[o] = 1 / float64(cnt)
		}
	}
	for i := 0; i < n; i++ {
		// outputs o with o*s - padBefore <= i < o*s - padBefore + k
		lo := i + padBefore - k + 1
		if lo <= 0 {
			lo = 0
		} else {
			lo = (lo + s - 1) / s
		}
		hi := min((i+padBefore)/s+1, out)
		a.olo[i], a.ohi[i] = min(lo, hi), hi
	}
	return a
}

// avgPoolSeparable computes y = A x (adjoint=false) or x = A^T y
// (adjoint=true) for undilated windows, overwriting every element of the
// result.
func avgPoolSeparable[T Float](x, y []T, g convGeom, countPad, adjoint bool) {
	p := g.p
	rows := newPoolAxis(g.h, g.oh, g.kh, p.StrideH, p.PadTop, countPad)
	cols := newPoolAxis(g.w, g.ow, g.kw, p.StrideW, p.PadLeft, countPad)
	hw, ohw := g.h*g.w, g.oh*g.ow
	// With countPad the divisor kh*kw is applied once, at the end of the
	// vertical pass (as the direct loop does); otherwise each pass applies
	// its axis's share.
	colInv := make([]T, g.ow)
	rowInv := make([]T, g.oh)
	for o := range colInv {
		colInv[o] = T(cols.inv[o])
		if countPad {
			colInv[o] = 1
			if cols.inv[o] == 0 {
				colInv[o] = 0
			}
		}
	}
	for o := range rowInv {
		rowInv[o] = T(rows.inv[o])
		if countPad && rows.inv[o] != 0 {
			rowInv[o] = T(1 / float64(g.kh*g.kw))
		}
	}
	planes := g.n * g.c
	_, fast3x3 := any(x).([]float32) // avgPoolPlane3x3 may take the plane
	ParallelFor(planes, max(1, elemGrain/max(hw+ohw, 1)), func(lo, hi int) {
		r := getBuf[T](g.h * g.ow) // row sums: input rows x output columns
		defer putBuf(r)
		for nc := lo; nc < hi; nc++ {
			xc := x[nc*hw : (nc+1)*hw]
			yc := y[nc*ohw : (nc+1)*ohw]
			switch {
			case adjoint && fast3x3 && avgPoolAdjointPlane3x3(any(xc).([]float32), any(yc).([]float32), any(r).([]float32), g, rows, cols, any(rowInv).([]float32), any(colInv).([]float32), countPad):
			case adjoint:
				avgPoolAdjointPlane(xc, yc, r, g, rows, cols, rowInv, colInv)
			case fast3x3 && avgPoolPlane3x3(any(xc).([]float32), any(yc).([]float32), any(r).([]float32), g, rows, cols, any(rowInv).([]float32), any(colInv).([]float32), countPad):
			default:
				avgPoolPlane(xc, yc, r, g, rows, cols, rowInv, colInv)
			}
		}
	})
}

// avgPoolPlane pools one channel plane xc [H,W] into yc [OH,OW] using r
// [H,OW] as the row sums.
func avgPoolPlane[T Float](xc, yc, r []T, g convGeom, rows, cols poolAxis, rowInv, colInv []T) {
	ow, w := g.ow, g.w
	s3 := g.kw == 3 && g.p.StrideW == 1
	for i := 0; i < g.h; i++ {
		xr := xc[i*w : (i+1)*w]
		rr := r[i*ow : (i+1)*ow]
		o := 0
		if s3 && ow >= 3 {
			// 3-wide windows at stride 1: the interior outputs read
			// xr[lo], xr[lo+1], xr[lo+2] with lo = o - padLeft.
			for ; o < ow && cols.hi[o]-cols.lo[o] < 3; o++ {
				rr[o] = rowSum(xr[cols.lo[o]:cols.hi[o]]) * colInv[o]
			}
			end := o
			for end < ow && cols.hi[end]-cols.lo[end] == 3 {
				end++
			}
			if end > o {
				base := cols.lo[o] - o
				src := xr[base+o : base+end+2]
				dst := rr[o:end]
				ci := colInv[o:end]
				for j := range dst {
					dst[j] = (src[j] + src[j+1] + src[j+2]) * ci[j]
				}
				o = end
			}
		}
		for ; o < ow; o++ {
			rr[o] = rowSum(xr[cols.lo[o]:cols.hi[o]]) * colInv[o]
		}
	}
	for oy := 0; oy < g.oh; oy++ {
		yr := yc[oy*ow : (oy+1)*ow]
		i0, i1 := rows.lo[oy], rows.hi[oy]
		if i0 >= i1 {
			clear(yr)
			continue
		}
		copy(yr, r[i0*ow:(i0+1)*ow])
		i := i0 + 1
		for ; i+1 < i1; i += 2 {
			a, b := r[i*ow:(i+1)*ow], r[(i+1)*ow:(i+2)*ow]
			a, b = a[:len(yr)], b[:len(yr)]
			for j := range yr {
				yr[j] += a[j] + b[j]
			}
		}
		if i < i1 {
			a := r[i*ow : (i+1)*ow]
			a = a[:len(yr)]
			for j := range yr {
				yr[j] += a[j]
			}
		}
		ri := rowInv[oy]
		for j := range yr {
			yr[j] *= ri
		}
	}
}

// avgPoolAdjointPlane spreads one plane's output gradient yc [OH,OW] back
// onto xc [H,W] using r [H,OW].
func avgPoolAdjointPlane[T Float](xc, yc, r []T, g convGeom, rows, cols poolAxis, rowInv, colInv []T) {
	ow, w := g.ow, g.w
	// vertical: r[i] = sum over the outputs oy covering row i of rowInv[oy] * yc[oy]
	for i := 0; i < g.h; i++ {
		rr := r[i*ow : (i+1)*ow]
		o0, o1 := rows.olo[i], rows.ohi[i]
		if o0 >= o1 {
			clear(rr)
			continue
		}
		ri := rowInv[o0]
		a := yc[o0*ow : (o0+1)*ow]
		a = a[:len(rr)]
		for j := range rr {
			rr[j] = a[j] * ri
		}
		for oy := o0 + 1; oy < o1; oy++ {
			ri := rowInv[oy]
			a := yc[oy*ow : (oy+1)*ow]
			a = a[:len(rr)]
			for j := range rr {
				rr[j] += a[j] * ri
			}
		}
	}
	// horizontal: xc[i][j] = sum over the outputs ox covering column j of colInv[ox] * r[i][ox]
	s3 := g.kw == 3 && g.p.StrideW == 1
	for i := 0; i < g.h; i++ {
		xr := xc[i*w : (i+1)*w]
		rr := r[i*ow : (i+1)*ow]
		j := 0
		if s3 {
			for ; j < w && cols.ohi[j]-cols.olo[j] < 3; j++ {
				xr[j] = weightedSum(rr[cols.olo[j]:cols.ohi[j]], colInv[cols.olo[j]:cols.ohi[j]])
			}
			end := j
			for end < w && cols.ohi[end]-cols.olo[end] == 3 {
				end++
			}
			if end > j {
				base := cols.olo[j] - j
				src := rr[base+j : base+end+2]
				ci := colInv[base+j : base+end+2]
				dst := xr[j:end]
				for k := range dst {
					dst[k] = src[k]*ci[k] + src[k+1]*ci[k+1] + src[k+2]*ci[k+2]
				}
				j = end
			}
		}
		for ; j < w; j++ {
			xr[j] = weightedSum(rr[cols.olo[j]:cols.ohi[j]], colInv[cols.olo[j]:cols.ohi[j]])
		}
	}
}

func rowSum[T Float](v []T) T {
	var s T
	for _, x := range v {
		s += x
	}
	return s
}

func weightedSum[T Float](v, w []T) T {
	var s T
	w = w[:len(v)]
	for i, x := range v {
		s += x * w[i]
	}
	return s
}
