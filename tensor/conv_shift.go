package tensor

// Stride-1 convolutions with many input channels are lowered without
// im2col: the images of a chunk are laid out zero-padded, channel-major, as
// one [C, cnt*Hp*Wp] matrix, and for every kernel position (i,j) the
// product W_ij [F,C] times the same matrix shifted by i*Wp+j columns is
// accumulated into the output on the padded grid. That is KH*KW GEMMs with
// K = C instead of one with K = C*KH*KW, but it moves C*H*W values per
// image instead of C*KH*KW*OH*OW (25 times fewer for 5x5 kernels). The
// extra grid columns are computed and dropped (outputs) or zero (gradients).

// shiftMinChannels is the smallest input channel count that uses the
// shifted lowering (few channels make the K of its GEMMs too small).
var shiftMinChannels = 16

func (g convGeom) shiftable() bool {
	return g.p.StrideH == 1 && g.p.StrideW == 1 && g.c >= shiftMinChannels && !g.direct()
}

type shiftGeom struct {
	hp, wp, grid int
	maxoff       int
}

func (g convGeom) shift() shiftGeom {
	p := g.p
	s := shiftGeom{hp: g.h + p.PadTop + p.PadBottom, wp: g.w + p.PadLeft + p.PadRight}
	s.grid = s.hp * s.wp
	s.maxoff = (g.kh-1)*p.DilationH*s.wp + (g.kw-1)*p.DilationW
	return s
}

func (g convGeom) shiftChunk(s shiftGeom) int {
	per := (g.c + g.f) * s.grid
	return max(1, min(g.n, colBudget/max(per, 1)))
}

// off returns the column shift of kernel position (i,j).
func (g convGeom) off(s shiftGeom, i, j int) int {
	return i*g.p.DilationH*s.wp + j*g.p.DilationW
}

// rearrange copies w [F,C,KH,KW] to [KH,KW,F,C] (and back when inverse).
func rearrange[T Float](w, r []T, g convGeom, inverse bool) {
	kk := g.kh * g.kw
	for f := 0; f < g.f; f++ {
		for c := 0; c < g.c; c++ {
			for ij := 0; ij < kk; ij++ {
				a := (f*g.c+c)*kk + ij
				b := (ij*g.f+f)*g.c + c
				if inverse {
					w[a] = r[b]
				} else {
					r[b] = w[a]
				}
			}
		}
	}
}

// padImages writes images n0.. of x [N,C,H,W] zero-padded into xp [C, cnt*grid].
func padImages[T Float](x []T, g convGeom, s shiftGeom, n0, cnt int, xp []T) {
	clear(xp[:g.c*cnt*s.grid])
	ParallelFor(cnt*g.c, 4, func(lo, hi int) { padRange(x, g, s, n0, cnt, xp, true, lo, hi) })
}

// padImagesSerial is padImages on the calling goroutine.
func padImagesSerial[T Float](x []T, g convGeom, s shiftGeom, n0, cnt int, xp []T) {
	clear(xp[:g.c*cnt*s.grid])
	padRange(x, g, s, n0, cnt, xp, true, 0, cnt*g.c)
}

// padRange copies the image-channel pairs lo..hi-1 of images n0.. between
// x [N,C,H,W] and the interior of the padded grid xp [C, cnt*grid]: into the
// grid when toGrid (padImages), else out of it (an input gradient).
func padRange[T Float](x []T, g convGeom, s shiftGeom, n0, cnt int, xp []T, toGrid bool, lo, hi int) {
	ld := cnt * s.grid
	chw := g.c * g.h * g.w
	for jc := lo; jc < hi; jc++ {
		j, c := jc/g.c, jc%g.c
		img := x[(n0+j)*chw+c*g.h*g.w:]
		grid := xp[c*ld+j*s.grid:]
		for y := 0; y < g.h; y++ {
			o := (y+g.p.PadTop)*s.wp + g.p.PadLeft
			if toGrid {
				copy(grid[o:o+g.w], img[y*g.w:(y+1)*g.w])
			} else {
				copy(img[y*g.w:(y+1)*g.w], grid[o:o+g.w])
			}
		}
	}
}

// gridOutputs moves between y [N,F,OH,OW] (images n0..) and the output grid
// yp [F, cnt*grid]: toGrid writes y into a cleared grid, else reads it out.
func gridOutputs[T Float](y []T, g convGeom, s shiftGeom, n0, cnt int, yp []T, toGrid bool) {
	if toGrid {
		clear(yp[:g.f*cnt*s.grid])
	}
	ParallelFor(cnt*g.f, 4, func(lo, hi int) { gridRange(y, g, s, n0, cnt, yp, toGrid, lo, hi) })
}

// gridOutputsSerial is gridOutputs on the calling goroutine.
func gridOutputsSerial[T Float](y []T, g convGeom, s shiftGeom, n0, cnt int, yp []T, toGrid bool) {
	if toGrid {
		clear(yp[:g.f*cnt*s.grid])
	}
	gridRange(y, g, s, n0, cnt, yp, toGrid, 0, cnt*g.f)
}

// gridRange moves the image-channel pairs lo..hi-1 of gridOutputs.
func gridRange[T Float](y []T, g convGeom, s shiftGeom, n0, cnt int, yp []T, toGrid bool, lo, hi int) {
	ld := cnt * s.grid
	fo := g.f * g.oh * g.ow
	for jf := lo; jf < hi; jf++ {
		j, f := jf/g.f, jf%g.f
		yy := y[(n0+j)*fo+f*g.oh*g.ow:]
		gp := yp[f*ld+j*s.grid:]
		for oy := 0; oy < g.oh; oy++ {
			if toGrid {
				copy(gp[oy*s.wp:oy*s.wp+g.ow], yy[oy*g.ow:(oy+1)*g.ow])
			} else {
				copy(yy[oy*g.ow:(oy+1)*g.ow], gp[oy*s.wp:oy*s.wp+g.ow])
			}
		}
	}
}

// shiftWorkerImages is how many images one worker's chunk holds when the
// workers split the batch, each running single-threaded GEMMs on its own
// cache-sized grids (0: one shared chunk whose GEMMs use the BLAS library's
// threads). One image measured fastest for CifarNet's conv2.
var shiftWorkerImages = 1

// perWorker reports whether the shifted lowering splits images between workers.
func (g convGeom) perWorker() bool {
	w := Workers()
	return shiftWorkerImages > 0 && w > 1 && g.n >= 2*w
}

// workerChunks gives each worker a contiguous share of the batch and two
// scratch grids a [rowsA, nb*grid] and b [rowsB, nb*grid], and calls fn for
// every chunk of at most shiftWorkerImages of its images; first is the
// worker's first image (a key for per-worker results).
func workerChunks[T Float](g convGeom, s shiftGeom, rowsA, rowsB int, fn func(first, n0, cnt int, a, b []T)) {
	ParallelFor(g.n, 1, func(lo, hi int) {
		nb := min(shiftWorkerImages, hi-lo)
		a := getBuf[T](rowsA * nb * s.grid)
		b := getBuf[T](rowsB * nb * s.grid)
		defer putBuf(a)
		defer putBuf(b)
		for n0 := lo; n0 < hi; n0 += nb {
			fn(lo, n0, min(nb, hi-n0), a, b)
		}
	})
}

func convForwardShift[T Float](x, w, bias, y []T, g convGeom) {
	s := g.shift()
	wr := getBuf[T](len(w))
	defer putBuf(wr)
	rearrange(w, wr, g, false)
	fc := g.f * g.c
	if g.perWorker() {
		workerChunks(g, s, g.c, g.f, func(_, n0, cnt int, xp, yp []T) {
			ld := cnt * s.grid
			padImagesSerial(x, g, s, n0, cnt, xp)
			beta := T(0)
			for i := 0; i < g.kh; i++ {
				for j := 0; j < g.kw; j++ {
					ij := i*g.kw + j
					gemmSingleT(false, false, g.f, ld-s.maxoff, g.c, 1, wr[ij*fc:(ij+1)*fc], g.c, xp[g.off(s, i, j):], ld, beta, yp, ld)
					beta = 1
				}
			}
			gridOutputsSerial(y, g, s, n0, cnt, yp, false)
			addBias(y, bias, g, n0, n0+cnt)
		})
		return
	}
	nb := g.shiftChunk(s)
	xp := getBuf[T](g.c * nb * s.grid)
	yp := getBuf[T](g.f * nb * s.grid)
	defer putBuf(xp)
	defer putBuf(yp)
	for n0 := 0; n0 < g.n; n0 += nb {
		cnt := min(nb, g.n-n0)
		ld := cnt * s.grid
		ncols := ld - s.maxoff
		padImages(x, g, s, n0, cnt, xp)
		beta := T(0)
		for i := 0; i < g.kh; i++ {
			for j := 0; j < g.kw; j++ {
				ij := i*g.kw + j
				gemmT(false, false, g.f, ncols, g.c, 1, wr[ij*fc:(ij+1)*fc], g.c, xp[g.off(s, i, j):], ld, beta, yp, ld)
				beta = 1
			}
		}
		gridOutputs(y, g, s, n0, cnt, yp, false)
		ParallelFor(cnt, 1, func(lo, hi int) { addBias(y, bias, g, n0+lo, n0+hi) })
	}
}

func convInputGradShift[T Float](gy, w, dx []T, g convGeom) {
	s := g.shift()
	wr := getBuf[T](len(w))
	defer putBuf(wr)
	rearrange(w, wr, g, false)
	fc := g.f * g.c
	if g.perWorker() {
		workerChunks(g, s, g.c, g.f, func(_, n0, cnt int, dxp, dyp []T) {
			ld := cnt * s.grid
			gridOutputsSerial(gy, g, s, n0, cnt, dyp, true)
			clear(dxp[:g.c*ld])
			for i := 0; i < g.kh; i++ {
				for j := 0; j < g.kw; j++ {
					ij := i*g.kw + j
					gemmSingleT(true, false, g.c, ld-s.maxoff, g.f, 1, wr[ij*fc:(ij+1)*fc], g.c, dyp, ld, 1, dxp[g.off(s, i, j):], ld)
				}
			}
			padRange(dx, g, s, n0, cnt, dxp, false, 0, cnt*g.c)
		})
		return
	}
	nb := g.shiftChunk(s)
	dxp := getBuf[T](g.c * nb * s.grid)
	dyp := getBuf[T](g.f * nb * s.grid)
	defer putBuf(dxp)
	defer putBuf(dyp)
	for n0 := 0; n0 < g.n; n0 += nb {
		cnt := min(nb, g.n-n0)
		ld := cnt * s.grid
		ncols := ld - s.maxoff
		gridOutputs(gy, g, s, n0, cnt, dyp, true)
		clear(dxp[:g.c*ld])
		for i := 0; i < g.kh; i++ {
			for j := 0; j < g.kw; j++ {
				ij := i*g.kw + j
				gemmT(true, false, g.c, ncols, g.f, 1, wr[ij*fc:(ij+1)*fc], g.c, dyp, ld, 1, dxp[g.off(s, i, j):], ld)
			}
		}
		ParallelFor(cnt*g.c, 4, func(lo, hi int) {
			padRange(dx, g, s, n0, cnt, dxp, false, lo, hi)
		})
	}
}

func convWeightGradShift[T Float](x, gy, dw []T, g convGeom) {
	s := g.shift()
	fc := g.f * g.c
	if g.perWorker() {
		// the GEMMs of the weight gradient are small (F x C) with a long
		// inner dimension: splitting the images between workers, each with
		// single-threaded GEMMs and its own partial sum (summed in a fixed
		// order), keeps both cores busier than threading each GEMM
		parts := make([][]T, g.n) // by the worker's first image
		workerChunks(g, s, g.c, g.f, func(first, n0, cnt int, xp, dyp []T) {
			part := parts[first]
			if part == nil {
				part = getBuf[T](len(dw))
				clear(part)
				parts[first] = part
			}
			ld := cnt * s.grid
			padImagesSerial(x, g, s, n0, cnt, xp)
			gridOutputsSerial(gy, g, s, n0, cnt, dyp, true)
			for i := 0; i < g.kh; i++ {
				for j := 0; j < g.kw; j++ {
					ij := i*g.kw + j
					gemmSingleT(false, true, g.f, g.c, ld-s.maxoff, 1, dyp, ld, xp[g.off(s, i, j):], ld, 1, part[ij*fc:(ij+1)*fc], g.c)
				}
			}
		})
		dwr := getBuf[T](len(dw))
		defer putBuf(dwr)
		clear(dwr)
		for _, part := range parts {
			if part != nil {
				for i, v := range part {
					dwr[i] += v
				}
				putBuf(part)
			}
		}
		tmp := getBuf[T](len(dw))
		defer putBuf(tmp)
		rearrange(tmp, dwr, g, true)
		for i := range dw {
			dw[i] += tmp[i]
		}
		return
	}
	nb := g.shiftChunk(s)
	dwr := getBuf[T](len(dw))
	defer putBuf(dwr)
	clear(dwr)
	xp := getBuf[T](g.c * nb * s.grid)
	dyp := getBuf[T](g.f * nb * s.grid)
	defer putBuf(xp)
	defer putBuf(dyp)
	for n0 := 0; n0 < g.n; n0 += nb {
		cnt := min(nb, g.n-n0)
		ld := cnt * s.grid
		ncols := ld - s.maxoff
		padImages(x, g, s, n0, cnt, xp)
		gridOutputs(gy, g, s, n0, cnt, dyp, true)
		for i := 0; i < g.kh; i++ {
			for j := 0; j < g.kw; j++ {
				ij := i*g.kw + j
				gemmT(false, true, g.f, g.c, ncols, 1, dyp, ld, xp[g.off(s, i, j):], ld, 1, dwr[ij*fc:(ij+1)*fc], g.c)
			}
		}
	}
	tmp := getBuf[T](len(dw))
	defer putBuf(tmp)
	rearrange(tmp, dwr, g, true)
	for i := range dw {
		dw[i] += tmp[i]
	}
}
