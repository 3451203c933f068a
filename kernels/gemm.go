package kernels

import (
	"sync"
	"unsafe"
)

// gemmTabs recycles the offset tables of gemmSerial.
var gemmTabs = sync.Pool{New: func() any { return new([2 * gemmKCBig]int32) }}

// Block sizes of the packed GEMM (in elements). A kc x nr micro-panel of B
// stays in L1 while the mr x kc micro-panels of A stream past it from L2.
// Products with at least gemmBigM rows take k blocks of gemmKCBig instead:
// their B micro-panel is read from L2 (4 vectors per 24 FMAs, well within
// its bandwidth) and C, too large for the caches, is read and written half
// as often. (arp's models have no such products: their dense layers' k
// blocking, and so their bits, are unchanged.)
const (
	gemmKC    = 128
	gemmKCBig = 512
	gemmBigM  = 512
	gemmMC    = 144
	gemmNC    = 4096
	// gemmPrefetchC is the size of C (bytes, one worker's part) above
	// which the microkernels prefetch C's tiles (flagPrefetch). Measured:
	// a 2048^3 product (8 MB per worker) gains, CifarNet's fc3 products
	// (0.4-3 MB, in L2 or L3) lose a little.
	gemmPrefetchC = 4 << 20
)

// microFor returns the microkernels of the path in use for element type T
// (float64 always uses the Go kernels).
func microFor[T Float]() *micro {
	var zero T
	if unsafe.Sizeof(zero) == 8 {
		return &microGo64
	}
	switch Current() {
	case AVX512:
		return &micro512
	case AVX2:
		return &micro256
	}
	return &microGo32
}

// Gemm computes C = alpha*op(A)*op(B) + beta*C for row-major matrices, as
// blas.Sgemm: op(A) is m x k, op(B) is k x n, C is m x n, lda, ldb and ldc
// are row strides, and when beta == 0 C is not read. Arguments are not
// checked (package blas and tensor do that). The work is split between
// Workers() goroutines.
func Gemm[T Float](tA, tB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	gemmWorkers(Workers(), tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// GemmSingle is Gemm on the calling goroutine alone.
func GemmSingle[T Float](tA, tB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	gemmWorkers(1, tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func gemmWorkers[T Float](w int, tA, tB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m <= 0 || n <= 0 {
		return
	}
	if k <= 0 || alpha == 0 {
		scale(m, n, beta, c, ldc)
		return
	}
	mk := microFor[T]()
	// split the larger dimension of C between the workers, in whole
	// register tiles, when there is enough work
	if w > 1 && float64(m)*float64(n)*float64(k) < 1<<17 {
		w = 1
	}
	if n >= m {
		w = min(w, (n+mk.nr()-1)/mk.nr())
	} else {
		w = min(w, (m+mk.mr-1)/mk.mr)
	}
	if w <= 1 {
		gemmSerial(mk, tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	ParallelParts(w, func(part int) {
		if n >= m {
			unit := mk.nr()
			per := (n + unit - 1) / unit
			lo, hi := part*per/w*unit, min((part+1)*per/w*unit, n)
			if lo >= hi {
				return
			}
			bj := b[colOffset(tB, lo, ldb):]
			gemmSerial(mk, tA, tB, m, hi-lo, k, alpha, a, lda, bj, ldb, beta, c[lo:], ldc)
		} else {
			unit := mk.mr
			per := (m + unit - 1) / unit
			lo, hi := part*per/w*unit, min((part+1)*per/w*unit, m)
			if lo >= hi {
				return
			}
			ai := a[rowOffset(tA, lo, lda):]
			gemmSerial(mk, tA, tB, hi-lo, n, k, alpha, ai, lda, b, ldb, beta, c[lo*ldc:], ldc)
		}
	})
}

// colOffset is where column j of op(B) starts.
func colOffset(tB bool, j, ldb int) int {
	if tB {
		return j * ldb
	}
	return j
}

// rowOffset is where row i of op(A) starts.
func rowOffset(tA bool, i, lda int) int {
	if tA {
		return i
	}
	return i * lda
}

func scale[T Float](m, n int, beta T, c []T, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
		} else if beta != 1 {
			for j := range row {
				row[j] *= beta
			}
		}
	}
}

// gemmSerial is the GEMM on one goroutine: the loops around the
// microkernel of BLIS (columns of C in blocks of nc, the inner dimension
// in blocks of kc with B's block packed, times alpha, into nr-wide panels
// that stay in L1 while every mr-row tile of C passes them). A is read in
// place by kernB (row i of a tile at its own displacement), so it needs no
// packing in either orientation.
func gemmSerial[T Float](mk *micro, tA, tB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if beta != 0 && beta != 1 {
		scale(m, n, beta, c, ldc)
	}
	mr, nr := mk.mr, mk.nr()
	var zero T
	size := int(unsafe.Sizeof(zero))
	// step t of A is column t of op(A): a+t*size, or row t of a if tA
	aStep, aRow := size, lda*size
	if tA {
		aStep, aRow = lda*size, size
	}
	kc := gemmKC
	if m >= gemmBigM {
		kc = gemmKCBig
	}
	tp := gemmTabs.Get().(*[2 * gemmKCBig]int32)
	defer gemmTabs.Put(tp)
	tab := tp[:]
	for t := 0; t < kc; t++ {
		tab[2*t] = int32(t * aStep)
		tab[2*t+1] = int32(t * nr * size)
	}
	nc := min(n, gemmNC)
	pb := GetBuf[T](kc * ((nc + nr - 1) / nr * nr))
	defer PutBuf(pb)
	var p kargs
	p.tab = &tab[0]
	p.ldc = ldc * size
	for j := 0; j < mk.nv; j++ {
		p.coff[j] = j * mk.vl * size
	}
	for jc := 0; jc < n; jc += gemmNC {
		nb := min(gemmNC, n-jc)
		for pc := 0; pc < k; pc += kc {
			kb := min(kc, k-pc)
			packB(tB, kb, nb, nr, alpha, b, ldb, pc, jc, pb)
			p.k = kb
			p.flags = 0
			if m*n*size > gemmPrefetchC {
				p.flags = flagPrefetch
			}
			if pc > 0 || beta != 0 {
				p.flags |= flagAcc
			}
			// blocks of mc rows of A (mc x kc: in L2 while every panel of
			// B passes); each tile of C still adds the k blocks in order,
			// so the blocking does not change a bit of the result
			for ic := 0; ic < m; ic += gemmMC {
				mb := min(gemmMC, m-ic)
				for jr := 0; jr < nb; jr += nr {
					p.b = unsafe.Pointer(&pb[jr*kb])
					cols := min(nr, nb-jr)
					for j := 0; j < mk.nv; j++ {
						mk.setMask(&p, j, max(0, min(mk.vl, cols-j*mk.vl)))
					}
					for ir := ic; ir < ic+mb; ir += mr {
						p.rows = min(mr, ic+mb-ir)
						for i := 0; i < mr; i++ {
							p.disp[i] = min(i, p.rows-1) * aRow // rows past the block re-read its last one
						}
						p.a = unsafe.Pointer(&a[rowOffset(tA, ir, lda)+pc*aStep/size])
						p.c = unsafe.Pointer(&c[ir*ldc+jc+jr])
						mk.forRows(p.rows).kernB(&p)
					}
				}
			}
		}
	}
}

// call runs kernA (aDisp false) or kernB.
func (m *micro) call(p *kargs, aDisp bool) {
	if aDisp {
		m.kernB(p)
	} else {
		m.kernA(p)
	}
}

// packB copies rows p0..p0+kb-1 and columns j0..j0+nb-1 of op(B), times
// alpha, into nr-wide panels: panel q holds step t, column j at
// q*kb + t*nr + j; columns past nb are zero.
func packB[T Float](tB bool, kb, nb, nr int, alpha T, b []T, ldb, p0, j0 int, pb []T) {
	for q := 0; q < nb; q += nr {
		panel := pb[q*kb : q*kb+kb*nr]
		cols := min(nr, nb-q)
		if !tB {
			for t := 0; t < kb; t++ {
				dst := panel[t*nr : t*nr+nr]
				src := b[(p0+t)*ldb+j0+q : (p0+t)*ldb+j0+q+cols]
				if alpha == 1 {
					copy(dst, src)
				} else {
					for j, v := range src {
						dst[j] = alpha * v
					}
				}
				clear(dst[cols:])
			}
			continue
		}
		// op(B)[t][j] = b[j*ldb + t]
		if alpha == 1 {
			transpose(cols, kb, b[(j0+q)*ldb+p0:], ldb, panel, nr)
		} else {
			for j := 0; j < cols; j++ {
				src := b[(j0+q+j)*ldb+p0 : (j0+q+j)*ldb+p0+kb]
				for t, v := range src {
					panel[t*nr+j] = alpha * v
				}
			}
		}
		if cols < nr {
			for t := 0; t < kb; t++ {
				clear(panel[t*nr+cols : (t+1)*nr])
			}
		}
	}
}

// tabs recycles offset tables by size class.
var tabs sync.Map // size class -> *sync.Pool of *[]int32

func getTab(n int) []int32 {
	c := sizeClass(n)
	p, _ := tabs.LoadOrStore(c, &sync.Pool{})
	if v := p.(*sync.Pool).Get(); v != nil {
		return (*v.(*[]int32))[:n]
	}
	return make([]int32, n, c)
}

func putTab(t []int32) {
	t = t[:cap(t)]
	p, _ := tabs.LoadOrStore(cap(t), &sync.Pool{})
	p.(*sync.Pool).Put(&t)
}
