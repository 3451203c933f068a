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

// plane places one channel's [rows, cols] image on the padded grid: at row
// top and column left, rows s.wp apart. Inputs sit inside the padding,
// outputs at the grid's origin.
type plane struct{ ch, rows, cols, top, left int }

func (g convGeom) inPlane() plane  { return plane{g.c, g.h, g.w, g.p.PadTop, g.p.PadLeft} }
func (g convGeom) outPlane() plane { return plane{g.f, g.oh, g.ow, 0, 0} }

// gridCopy moves images n0..n0+cnt-1 between dense [N, ch, rows, cols] and
// the grid [ch, cnt*grid]: into a cleared grid when toGrid, else out of it.
// Without single the image-channel pairs are split between the workers.
func gridCopy[T Float](dense []T, pl plane, s shiftGeom, n0, cnt int, grid []T, toGrid, single bool) {
	if toGrid {
		clear(grid[:pl.ch*cnt*s.grid])
	}
	if single { // no closure: this runs per image in the per-worker chunks
		gridCopyRange(dense, pl, s, n0, cnt, grid, toGrid, 0, cnt*pl.ch)
		return
	}
	ParallelFor(cnt*pl.ch, 4, func(lo, hi int) { gridCopyRange(dense, pl, s, n0, cnt, grid, toGrid, lo, hi) })
}

// gridCopyRange is gridCopy for the image-channel pairs lo..hi-1.
func gridCopyRange[T Float](dense []T, pl plane, s shiftGeom, n0, cnt int, grid []T, toGrid bool, lo, hi int) {
	ld := cnt * s.grid
	size := pl.rows * pl.cols
	for jc := lo; jc < hi; jc++ {
		j, c := jc/pl.ch, jc%pl.ch
		img := dense[(n0+j)*pl.ch*size+c*size:]
		gp := grid[c*ld+j*s.grid:]
		for y := 0; y < pl.rows; y++ {
			o := (y+pl.top)*s.wp + pl.left
			if toGrid {
				copy(gp[o:o+pl.cols], img[y*pl.cols:(y+1)*pl.cols])
			} else {
				copy(img[y*pl.cols:(y+1)*pl.cols], gp[o:o+pl.cols])
			}
		}
	}
}

// shiftWorkerImages is how many images one worker's chunk holds when the
// workers split the batch, each running single-threaded GEMMs on its own
// cache-sized grids (0: chunks shared by all workers, whose GEMMs use the
// BLAS library's threads). One image measured fastest for CifarNet's conv2.
var shiftWorkerImages = 1

// shiftChunks calls body for every chunk n0..n0+cnt-1 of the batch with two
// scratch grids a [rowsA, cnt*grid] and b [rowsB, cnt*grid]. When there are
// enough images, each worker takes a contiguous share of the batch in chunks
// of shiftWorkerImages, and body must stay on its goroutine (single is set;
// first is the worker's first image, a key for per-worker results).
// Otherwise chunks of up to shiftChunk images run one after another, body
// may use every core, and first is 0.
func shiftChunks[T Float](g convGeom, s shiftGeom, rowsA, rowsB int, body func(first, n0, cnt int, a, b []T, single bool)) {
	run := func(lo, hi, nb int, single bool) {
		a := getBuf[T](rowsA * nb * s.grid)
		b := getBuf[T](rowsB * nb * s.grid)
		defer putBuf(a)
		defer putBuf(b)
		for n0 := lo; n0 < hi; n0 += nb {
			body(lo, n0, min(nb, hi-n0), a, b, single)
		}
	}
	if w := Workers(); shiftWorkerImages > 0 && w > 1 && g.n >= 2*w {
		ParallelFor(g.n, 1, func(lo, hi int) { run(lo, hi, min(shiftWorkerImages, hi-lo), true) })
		return
	}
	run(0, g.n, g.shiftChunk(s), false)
}

func convForwardShift[T Float](x, w, bias, y []T, g convGeom) {
	s := g.shift()
	wr := getBuf[T](len(w))
	defer putBuf(wr)
	rearrange(w, wr, g, false)
	fc := g.f * g.c
	shiftChunks(g, s, g.c, g.f, func(_, n0, cnt int, xp, yp []T, single bool) {
		ld := cnt * s.grid
		gridCopy(x, g.inPlane(), s, n0, cnt, xp, true, single)
		beta := T(0)
		for i := 0; i < g.kh; i++ {
			for j := 0; j < g.kw; j++ {
				ij := i*g.kw + j
				gemmX(single, false, false, g.f, ld-s.maxoff, g.c, 1, wr[ij*fc:(ij+1)*fc], g.c, xp[g.off(s, i, j):], ld, beta, yp, ld)
				beta = 1
			}
		}
		gridCopy(y, g.outPlane(), s, n0, cnt, yp, false, single)
		if single {
			addBias(y, bias, g, n0, n0+cnt)
		} else {
			ParallelFor(cnt, 1, func(lo, hi int) { addBias(y, bias, g, n0+lo, n0+hi) })
		}
	})
}

func convInputGradShift[T Float](gy, w, dx []T, g convGeom) {
	s := g.shift()
	wr := getBuf[T](len(w))
	defer putBuf(wr)
	rearrange(w, wr, g, false)
	fc := g.f * g.c
	shiftChunks(g, s, g.c, g.f, func(_, n0, cnt int, dxp, dyp []T, single bool) {
		ld := cnt * s.grid
		gridCopy(gy, g.outPlane(), s, n0, cnt, dyp, true, single)
		clear(dxp[:g.c*ld])
		for i := 0; i < g.kh; i++ {
			for j := 0; j < g.kw; j++ {
				ij := i*g.kw + j
				gemmX(single, true, false, g.c, ld-s.maxoff, g.f, 1, wr[ij*fc:(ij+1)*fc], g.c, dyp, ld, 1, dxp[g.off(s, i, j):], ld)
			}
		}
		gridCopy(dx, g.inPlane(), s, n0, cnt, dxp, false, single)
	})
}

// convWeightGradShift accumulates each worker's images into its own partial
// gradient (one partial without per-worker chunks), summed in a fixed order.
// Split between workers, the GEMMs (small F x C products with a long inner
// dimension) keep both cores busier than when each is threaded.
func convWeightGradShift[T Float](x, gy, dw []T, g convGeom) {
	s := g.shift()
	fc := g.f * g.c
	parts := newPartials[T](g.n, len(dw))
	shiftChunks(g, s, g.c, g.f, func(first, n0, cnt int, xp, dyp []T, single bool) {
		part := parts.of(first)
		ld := cnt * s.grid
		gridCopy(x, g.inPlane(), s, n0, cnt, xp, true, single)
		gridCopy(gy, g.outPlane(), s, n0, cnt, dyp, true, single)
		for i := 0; i < g.kh; i++ {
			for j := 0; j < g.kw; j++ {
				ij := i*g.kw + j
				gemmX(single, false, true, g.f, g.c, ld-s.maxoff, 1, dyp, ld, xp[g.off(s, i, j):], ld, 1, part[ij*fc:(ij+1)*fc], g.c)
			}
		}
	})
	dwr := getBuf[T](len(dw))
	defer putBuf(dwr)
	clear(dwr)
	parts.addTo(dwr)
	tmp := getBuf[T](len(dw))
	defer putBuf(tmp)
	rearrange(tmp, dwr, g, true)
	for i := range dw {
		dw[i] += tmp[i]
	}
}
