package kernels

import "unsafe"

// colsPlan is the input gradient of a convolution with few input channels
// (at most 3, the narrow tiles' rows) and unit strides on the AVX-512
// path, CifarNet's and ResNet-20's first layers among them. Made as a
// forward convolution of the output gradient (inputGradAsForward) it has
// only C output channels, so each output gradient vector it loads feeds
// only C FMAs, and every image's output gradient must first be copied
// zero-padded. Instead, for each image:
//
//  1. a GEMM computes the columns W^T gy, [C*KH*KW] planes of the output
//     pixels, with the 6x4 kernel reading the output gradient and the
//     weights in place (A: the weights [F][C*KH*KW], 6 taps per tile; B:
//     vectors of output pixels, the F channels its k steps) and writing
//     each tap's plane inside a zero border wide enough for every tap's
//     shift;
//  2. sumTaps512 sums each vector of the input gradient over the KH*KW
//     taps' planes of its channel, each read at the tap's shift (col2im as
//     a gather: every element written once, no read-modify-write).
//
// Every input gradient element is the sum over taps (kh, kw), in that
// order, of the sum over output channels f in order: another summation
// order than the forward-convolution path's, so the results differ from it
// in the last bits (the tests hold both to the naive float64 reference).
type colsPlan struct {
	g           ConvGeom
	ckk, ckkPad int
	wpad        []float32 // the weights [F][ckkPad], taps past ckk zero
	// a tap's plane holds output pixel (oy, ox) at (oy-lo)*pw + ox-lox;
	// ps is the plane's size
	lo, lox, pw, ps int
	tab             []int32 // GEMM steps f: A and B offsets (B: the output gradient)
	tabS            []int32 // the same with B in the scratch panel (tail tiles)
	taps            []int32 // gather: the byte offset of each tap (kh, kw)
	// ovecs are the vectors of output pixels (out: the pixel), opos their
	// positions in a plane; xvecs the vectors of the input gradient (in:
	// the position of tap (0, 0) in its channel's first plane, out: the
	// element of dx)
	ovecs []outVec
	opos  []int
	xvecs []outVec
}

// colsVecs is the vectors of the register tile of colsPlan's GEMM
// (micro512's 6x4).
const colsVecs = 4

// useCols reports whether the input gradient of g is computed by colsPlan.
func useCols[T Float](g ConvGeom) bool {
	if sizeOf[T]() != 4 || Current() != AVX512 || g.SH != 1 || g.SW != 1 || g.C > micro512.narrow.mr {
		return false
	}
	_, _, _, ps := colsPlanes(g)
	return g.ckk()*ps <= 1<<19 // the planes of an image stay within 2 MB
}

// colsPlanes returns the planes' geometry: first row and column (lo, lox,
// at most 0), row length and size.
func colsPlanes(g ConvGeom) (lo, lox, pw, ps int) {
	lo = min(0, g.PT-(g.KH-1)*g.DH)
	lox = min(0, g.PL-(g.KW-1)*g.DW)
	hi, hix := max(g.OH, g.H+g.PT), max(g.OW, g.W+g.PL)
	pw = hix - lox
	return lo, lox, pw, (hi - lo) * pw
}

func newColsPlan(g ConvGeom, w []float32) *colsPlan {
	const mr, vl = 6, 16
	ckk, ohw := g.ckk(), g.ohw()
	pl := &colsPlan{g: g, ckk: ckk, ckkPad: (ckk + mr - 1) / mr * mr}
	pl.lo, pl.lox, pl.pw, pl.ps = colsPlanes(g)
	pl.wpad = GetBuf[float32](g.F * pl.ckkPad)
	for f := 0; f < g.F; f++ {
		row := pl.wpad[f*pl.ckkPad : (f+1)*pl.ckkPad]
		copy(row, w[f*ckk:(f+1)*ckk])
		clear(row[ckk:])
	}
	pl.tab, pl.tabS = getTab(2*g.F), getTab(2*g.F)
	for f := 0; f < g.F; f++ {
		pl.tab[2*f], pl.tab[2*f+1] = int32(f*pl.ckkPad*4), int32(f*ohw*4)
		pl.tabS[2*f], pl.tabS[2*f+1] = int32(f*pl.ckkPad*4), int32(f*colsVecs*vl*4)
	}
	kk := g.KH * g.KW
	pl.taps = getTab(kk)
	for kh := 0; kh < g.KH; kh++ {
		for kw := 0; kw < g.KW; kw++ {
			pl.taps[kh*g.KW+kw] = int32(((kh*g.KW+kw)*pl.ps - kh*g.DH*pl.pw - kw*g.DW) * 4)
		}
	}
	perRow, perIn := (g.OW+vl-1)/vl, (g.W+vl-1)/vl
	pl.ovecs, pl.opos = make([]outVec, 0, g.OH*perRow), make([]int, 0, g.OH*perRow)
	pl.xvecs = make([]outVec, 0, g.C*g.H*perIn)
	for oy := 0; oy < g.OH; oy++ {
		for ox := 0; ox < g.OW; ox += vl {
			pl.ovecs = append(pl.ovecs, outVec{out: oy*g.OW + ox, lanes: min(vl, g.OW-ox)})
			pl.opos = append(pl.opos, (oy-pl.lo)*pl.pw+ox-pl.lox)
		}
	}
	for c := 0; c < g.C; c++ {
		for iy := 0; iy < g.H; iy++ {
			for ix := 0; ix < g.W; ix += vl {
				pl.xvecs = append(pl.xvecs, outVec{
					in:    c*kk*pl.ps + (iy+g.PT-pl.lo)*pl.pw + ix + g.PL - pl.lox,
					out:   (c*g.H+iy)*g.W + ix,
					lanes: min(vl, g.W-ix)})
			}
		}
	}
	return pl
}

func (pl *colsPlan) free() {
	PutBuf(pl.wpad)
	putTab(pl.tab)
	putTab(pl.tabS)
	putTab(pl.taps)
}

// buffer returns a worker's planes (zero: the borders are never written)
// followed by the scratch panel of the tail tiles.
func (pl *colsPlan) buffer() []float32 {
	buf := GetBuf[float32](pl.ckk*pl.ps + 16 + pl.g.F*colsVecs*16)
	clear(buf)
	return buf
}

// image computes image n's input gradient dxn [C,H,W] from its output
// gradient gyn [F,OH,OW] in buf (from buffer).
func (pl *colsPlan) image(gyn, buf, dxn []float32) {
	const mr, vl = 6, 16
	g := pl.g
	ohw := g.ohw()
	cols := buf[:pl.ckk*pl.ps+16]
	scr := buf[pl.ckk*pl.ps+16:]
	var p kargs
	p.k = g.F
	p.ldc = pl.ps * 4
	for s := 0; s < len(pl.ovecs); s += colsVecs {
		n := min(colsVecs, len(pl.ovecs)-s)
		v0 := pl.ovecs[s]
		last := pl.ovecs[s+n-1]
		if last.out+vl <= ohw {
			p.b, p.tab = unsafe.Pointer(&gyn[v0.out]), &pl.tab[0]
			for j := 0; j < n; j++ {
				p.disp[j] = (pl.ovecs[s+j].out - v0.out) * 4
			}
		} else {
			// the tile's last vector would read past the image: copy the
			// tile's pixels into the scratch panel [F][colsVecs*vl]
			for f := 0; f < g.F; f++ {
				row := scr[f*colsVecs*vl : (f+1)*colsVecs*vl]
				clear(row)
				for j := 0; j < n; j++ {
					v := pl.ovecs[s+j]
					copy(row[j*vl:j*vl+v.lanes], gyn[f*ohw+v.out:f*ohw+v.out+v.lanes])
				}
			}
			p.b, p.tab = unsafe.Pointer(&scr[0]), &pl.tabS[0]
			for j := 0; j < n; j++ {
				p.disp[j] = j * vl * 4
			}
		}
		for j := 0; j < colsVecs; j++ {
			if j < n {
				p.coff[j] = (pl.opos[s+j] - pl.opos[s]) * 4
				p.mask[j] = 1<<pl.ovecs[s+j].lanes - 1
			} else {
				p.disp[j], p.coff[j], p.mask[j] = 0, 0, 0
			}
		}
		for r0 := 0; r0 < pl.ckk; r0 += mr {
			p.a = unsafe.Pointer(&pl.wpad[r0])
			p.c = unsafe.Pointer(&cols[r0*pl.ps+pl.opos[s]])
			p.rows = min(mr, pl.ckk-r0)
			kernA512(&p) // directly: through micro512.kernA, p would escape to the heap (an allocation per image)
		}
	}
	// the gather: 8 input gradient vectors per call
	p = kargs{}
	p.k = g.KH * g.KW
	p.tab = &pl.taps[0]
	for s := 0; s < len(pl.xvecs); s += 8 {
		n := min(8, len(pl.xvecs)-s)
		v0 := pl.xvecs[s]
		p.a = unsafe.Pointer(&cols[v0.in])
		p.c = unsafe.Pointer(&dxn[v0.out])
		for j := 0; j < 8; j++ {
			if j < n {
				v := pl.xvecs[s+j]
				p.disp[j], p.coff[j], p.mask[j] = (v.in-v0.in)*4, (v.out-v0.out)*4, 1<<v.lanes-1
			} else {
				p.disp[j], p.coff[j], p.mask[j] = 0, 0, 0
			}
		}
		sumTaps512(&p)
	}
}

// dotTile is the side of kernD512's tile: 5 taps by 5 output channels.
const dotTile = 5

// dotPlan is the weight gradient of a convolution with few input channels
// (at most 3), unit strides and output rows of whole vectors on the
// AVX-512 path (CifarNet's conv1). The general plan (wgradPlan) makes
// every pixel a k step, which needs each image's output gradient
// transposed to [OH*OW][F] first; here the lanes run over output pixels
// instead: kernD512 multiplies vectors of 16 output pixels of 5 output
// channels (rows of the output gradient, read in place) with the vectors
// of the zero-padded image that 5 taps (c, kh, kw) read at the same
// pixels, keeping 25 vectors of partial sums over all the pixels of a
// worker's images; the lanes are added up once at the end.
//
// Every dw element is the sum over lanes of the sums over a worker's
// images and pixel vectors in order, then over the workers in order:
// another order than wgradPlan's, so the bits differ from it (the tests
// hold both to the naive float64 reference).
type dotPlan struct {
	g   ConvGeom
	ckk int
	// fg and tg are the first output channel and tap of each group of 5
	// (the last group moved back to end at F or C*KH*KW: groups may
	// overlap, never reach past the end)
	fg, tg []int
	tab    []int32 // per pixel vector: its offset in the padded image and in the output gradient
	rdisp  []int   // per tap (c, kh, kw): its displacement in the padded image (bytes)
}

// useDot reports whether the weight gradient of g is computed by dotPlan.
func useDot[T Float](g ConvGeom) bool {
	return sizeOf[T]() == 4 && Current() == AVX512 && g.SH == 1 && g.SW == 1 && g.C <= micro512.narrow.mr &&
		g.OW%16 == 0 && g.F >= dotTile && g.ckk() >= dotTile
}

// groups returns the starts of groups of dotTile covering 0..n-1.
func groups(n int) []int {
	s := make([]int, 0, (n+dotTile-1)/dotTile)
	for i := 0; i < n; i += dotTile {
		s = append(s, min(i, n-dotTile))
	}
	return s
}

func newDotPlan(g ConvGeom) *dotPlan {
	pl := &dotPlan{g: g, ckk: g.ckk(), fg: groups(g.F), tg: groups(g.ckk())}
	wpd := g.wp()
	pl.tab = getTab(2 * g.ohw() / 16)
	t := 0
	for oy := 0; oy < g.OH; oy++ {
		for ox := 0; ox < g.OW; ox += 16 {
			pl.tab[2*t], pl.tab[2*t+1] = int32((oy*wpd+ox)*4), int32((oy*g.OW+ox)*4)
			t++
		}
	}
	pl.rdisp = make([]int, pl.ckk)
	for r := range pl.rdisp {
		c, kh, kw := r/(g.KH*g.KW), r/g.KW%g.KH, r%g.KW
		pl.rdisp[r] = (c*g.hp()*wpd + kh*g.DH*wpd + kw*g.DW) * 4
	}
	return pl
}

func (pl *dotPlan) free() { putTab(pl.tab) }

func (pl *dotPlan) size() int { return len(pl.fg) * len(pl.tg) * dotTile * dotTile * 16 }

func (pl *dotPlan) buffers() (xp, dyT []float32) {
	return GetBuf[float32](pl.g.C * pl.g.hp() * pl.g.wp()), nil
}

// add adds image xn's products with its output gradient gyn to part.
func (pl *dotPlan) add(xn, gyn, part, xp, _ []float32) {
	g := pl.g
	padImage(g, xn, xp, 0)
	var p kargs
	p.k = g.ohw() / 16
	p.tab = &pl.tab[0]
	p.ldc = g.ohw() * 4
	c := 0
	for _, f0 := range pl.fg {
		p.b = unsafe.Pointer(&gyn[f0*g.ohw()])
		for _, t0 := range pl.tg {
			p.a = unsafe.Add(unsafe.Pointer(&xp[0]), pl.rdisp[t0])
			for i := 1; i < dotTile; i++ {
				p.disp[i] = pl.rdisp[t0+i] - pl.rdisp[t0]
			}
			p.c = unsafe.Pointer(&part[c])
			kernD512(&p)
			c += dotTile * dotTile * 16
		}
	}
}

// store writes dw [F][C*KH*KW] from the sum of the workers' parts.
func (pl *dotPlan) store(sum, dw []float32) {
	c := 0
	for _, f0 := range pl.fg {
		for _, t0 := range pl.tg {
			for i := 0; i < dotTile; i++ {
				for j := 0; j < dotTile; j++ {
					var s float32
					for _, v := range sum[c : c+16] {
						s += v
					}
					dw[(f0+j)*pl.ckk+t0+i] = s
					c += 16
				}
			}
		}
	}
}
