package kernels

import (
	"fmt"
	"unsafe"
)

// ConvGeom is the geometry of a 2-D convolution (cross-correlation, as in
// PyTorch) of an input [N,C,H,W] with weights [F,C,KH,KW] giving
// [N,F,OH,OW]: strides SH, SW, zero padding PT (top), PB, PL, PR and
// dilations DH, DW, all at least 1 (padding at least 0). All tensors are
// dense NCHW; the kernels use their own layouts internally.
type ConvGeom struct {
	N, C, H, W     int
	F, KH, KW      int
	OH, OW         int
	SH, SW         int
	PT, PB, PL, PR int
	DH, DW         int
}

func (g ConvGeom) ckk() int { return g.C * g.KH * g.KW }
func (g ConvGeom) ohw() int { return g.OH * g.OW }
func (g ConvGeom) hp() int  { return g.H + g.PT + g.PB }
func (g ConvGeom) wp() int  { return g.W + g.PL + g.PR }

// Check returns an error if g is inconsistent (the output size does not
// follow from the rest, or a size is out of range).
func (g ConvGeom) Check() error {
	out := func(in, k, s, p0, p1, d int) int { return (in+p0+p1-((k-1)*d+1))/s + 1 }
	switch {
	case g.N < 0 || g.C < 1 || g.H < 1 || g.W < 1 || g.F < 1 || g.KH < 1 || g.KW < 1:
		return fmt.Errorf("kernels: bad convolution sizes %+v", g)
	case g.SH < 1 || g.SW < 1 || g.DH < 1 || g.DW < 1 || g.PT < 0 || g.PB < 0 || g.PL < 0 || g.PR < 0:
		return fmt.Errorf("kernels: bad convolution parameters %+v", g)
	case g.OH < 1 || g.OW < 1 || g.OH != out(g.H, g.KH, g.SH, g.PT, g.PB, g.DH) || g.OW != out(g.W, g.KW, g.SW, g.PL, g.PR, g.DW):
		return fmt.Errorf("kernels: convolution output %dx%d does not follow from %+v", g.OH, g.OW, g)
	case 8*(g.C*(g.hp()+1)*(g.wp()+32)+g.F*g.ohw()) >= 1<<31:
		return fmt.Errorf("kernels: convolution image too large (%+v): one image must take less than 2 GB", g)
	}
	return nil
}

func sizeOf[T Float]() int {
	var zero T
	return int(unsafe.Sizeof(zero))
}

// packWeights copies w [F][K] into mr-row panels [ceil(F/mr)][K][mr]
// (rows past F zero), the layout kernA reads A in.
func packWeights[T Float](w []T, f, k, mr int, wp []T) {
	for q := 0; q < f; q += mr {
		panel := wp[q*k : (q+mr)*k]
		for r := 0; r < mr; r++ {
			if q+r >= f {
				for t := 0; t < k; t++ {
					panel[t*mr+r] = 0
				}
				continue
			}
			for t, v := range w[(q+r)*k : (q+r+1)*k] {
				panel[t*mr+r] = v
			}
		}
	}
}

// padImage copies one image [C][H][W] into xp [C][Hp][Wp] at row PT and
// column PL, zeros around it, and zeros the slack elements after it.
func padImage[T Float](g ConvGeom, x, xp []T, slack int) {
	hp, wp := g.hp(), g.wp()
	if g.PT == 0 && g.PB == 0 && g.PL == 0 && g.PR == 0 {
		copy(xp, x[:g.C*g.H*g.W])
		clear(xp[g.C*g.H*g.W : g.C*g.H*g.W+slack])
		return
	}
	for c := 0; c < g.C; c++ {
		plane := xp[c*hp*wp : (c+1)*hp*wp]
		clear(plane[:g.PT*wp])
		for y := 0; y < g.H; y++ {
			row := plane[(g.PT+y)*wp : (g.PT+y+1)*wp]
			clear(row[:g.PL])
			copy(row[g.PL:g.PL+g.W], x[(c*g.H+y)*g.W:(c*g.H+y+1)*g.W])
			clear(row[g.PL+g.W:])
		}
		clear(plane[(g.PT+g.H)*wp:])
	}
	clear(xp[g.C*hp*wp : g.C*hp*wp+slack])
}

// outVec is one vector of output pixels: lanes consecutive pixels of one
// output row starting at pixel index out (oy*OW+ox) whose window origin is
// element in of the padded input plane.
type outVec struct{ in, out, lanes int }

// rowVectors splits every output row into vectors of up to vl pixels.
func rowVectors(g ConvGeom, vl int) []outVec {
	var vs []outVec
	for oy := 0; oy < g.OH; oy++ {
		for ox := 0; ox < g.OW; ox += vl {
			vs = append(vs, outVec{in: oy*g.SH*g.wp() + ox*g.SW, out: oy*g.OW + ox, lanes: min(vl, g.OW-ox)})
		}
	}
	return vs
}

// directWaste is the largest share of idle vector lanes with which the
// forward convolution reads output rows straight from the padded image;
// above it (narrow images) it packs im2col panels spanning rows.
const directWaste = 0.2

// useDirect reports whether the forward pass of g reads vectors of output
// pixels straight from the padded input rows (stride 1 along rows and
// output rows that fill vectors well).
func useDirect(g ConvGeom, vl int) bool {
	if g.SW != 1 {
		return false
	}
	vecs := (g.OW + vl - 1) / vl
	return float64(vecs*vl-g.OW)/float64(vecs*vl) <= directWaste
}

// l1Budget is the share of a core's L1 data cache (bytes) the operands of
// one run of microkernel calls should fit in.
const l1Budget = 24 << 10

// ConvForward computes y = conv(x, w) (+ bias[f] on channel f when bias is
// not nil), overwriting y, with negative outputs set to 0 when relu is set.
// x is [N,C,H,W], w [F,C,KH,KW], y [N,F,OH,OW]; g must pass Check.
//
// The weights are packed into mr-row panels (kernA's A). With stride 1
// along rows and output rows that fill vectors well, each image is copied
// zero-padded and vectors of output pixels read their windows straight
// from its rows (B at a table offset per (c,kh,kw) plus a displacement per
// vector); otherwise im2col panels of nr output pixels are packed per image
// chunk. The images (and chunks) are split between the workers.
func ConvForward[T Float](g ConvGeom, x, w, bias, y []T, relu bool) {
	convForward(g, x, w, bias, y, relu, nil)
}

// ConvForwardEach is ConvForward computing one image at a time into a
// buffer of the worker's, [F,OH,OW], and calling each(n, yn) on that
// worker once image n is complete; yn is reused after each returns. The
// images are split between the workers. It lets a caller consume each
// image's output (pool it, say) while it is still in the core's cache,
// without the whole batch's output ever being written.
func ConvForwardEach[T Float](g ConvGeom, x, w, bias []T, relu bool, each func(n int, yn []T)) {
	convForward(g, x, w, bias, nil, relu, each)
}

func convForward[T Float](g ConvGeom, x, w, bias, y []T, relu bool, each func(n int, yn []T)) {
	mk := microFor[T]()
	if mk.narrow != nil && g.F <= mk.narrow.mr {
		mk = mk.narrow // few output channels: tiles of fewer rows, more vectors
	}
	size := sizeOf[T]()
	ckk, ohw, chw := g.ckk(), g.ohw(), g.C*g.H*g.W
	mr, nv, vl := mk.mr, mk.nv, mk.vl
	panels := (g.F + mr - 1) / mr
	wp := GetBuf[T](panels * mr * ckk)
	defer PutBuf(wp)
	packWeights(w, g.F, ckk, mr, wp)
	tab := getTab(2 * ckk)
	defer putTab(tab)
	for t := range ckk {
		tab[2*t] = int32(t * mr * size)
	}
	// tile runs every weight panel on the vectors set up in p, in blocks of
	// cb input channels (steps (c,kh,kw) are channel-major): the first
	// block writes C (plus the bias), the others add to it, the last one
	// applies the ReLU
	kk := g.KH * g.KW
	tile := func(p *kargs, yn []T, cb int) {
		for c0 := 0; c0 < g.C; c0 += cb {
			p.tab = &tab[2*c0*kk]
			p.k = min(cb, g.C-c0) * kk
			p.flags = 0
			if c0 > 0 {
				p.flags = flagAcc
			}
			if relu && c0+cb >= g.C {
				p.flags |= flagRelu
			}
			for q := 0; q < panels; q++ {
				p.a = unsafe.Pointer(&wp[q*mr*ckk])
				p.c = unsafe.Pointer(&yn[q*mr*ohw])
				p.rows = min(mr, g.F-q*mr)
				p.bias = nil
				if bias != nil && c0 == 0 {
					p.bias = unsafe.Pointer(&bias[q*mr])
				}
				mk.kernA(p)
			}
		}
	}
	// Each image is computed in subs units (groups of output vectors or
	// im2col chunks): prep readies a worker's scratch for image n, unit
	// computes one unit of it into yn.
	var (
		subs    int
		scratch int
		prep    func(n int, buf []T)
		unit    func(n, s int, buf []T, p *kargs, yn []T)
	)
	if useDirect(g, vl) {
		hp, wpd := g.hp(), g.wp()
		for t := range ckk {
			c, kh, kw := t/(g.KH*g.KW), t/g.KW%g.KH, t%g.KW
			tab[2*t+1] = int32((c*hp*wpd + kh*g.DH*wpd + kw*g.DW) * size)
		}
		vecs := rowVectors(g, vl)
		subs = (len(vecs) + nv - 1) / nv
		// a block of channels: its weight panel and the rows a group of
		// vectors reads take about half of L1
		span := ((nv+(g.OW+vl-1)/vl-1)/((g.OW+vl-1)/vl)*g.SH + (g.KH-1)*g.DH + 1) * wpd
		cb := max(1, min(g.C, l1Budget/((kk*mr+span)*size)))
		scratch = g.C*hp*wpd + vl
		prep = func(n int, xp []T) { padImage(g, x[n*chw:], xp, vl) }
		unit = func(n, gi int, xp []T, p *kargs, yn []T) {
			v0 := vecs[gi*nv]
			p.b = unsafe.Pointer(&xp[v0.in])
			for j := 0; j < nv; j++ {
				if i := gi*nv + j; i < len(vecs) {
					v := vecs[i]
					p.disp[j], p.coff[j] = (v.in-v0.in)*size, v.out*size
					mk.setMask(p, j, v.lanes)
				} else {
					p.disp[j], p.coff[j] = 0, 0
					mk.setMask(p, j, 0)
				}
			}
			tile(p, yn, cb)
		}
	} else {
		nr := nv * vl
		for t := range ckk {
			tab[2*t+1] = int32(t * nr * size)
		}
		subs = (ohw + nr - 1) / nr
		scratch = ckk * nr
		prep = func(int, []T) {}
		unit = func(n, ch int, panel []T, p *kargs, yn []T) {
			p0 := ch * nr
			cnt := min(nr, ohw-p0)
			im2colPanel(g, x[n*chw:(n+1)*chw], p0, cnt, nr, panel)
			p.b = unsafe.Pointer(&panel[0])
			for j := 0; j < nv; j++ {
				p.disp[j], p.coff[j] = j*vl*size, (p0+j*vl)*size
				mk.setMask(p, j, max(0, min(vl, cnt-j*vl)))
			}
			tile(p, yn, g.C)
		}
	}
	p0 := kargs{ldc: ohw * size}
	if each != nil {
		ParallelFor(g.N, 1, func(lo, hi int) {
			buf := GetBuf[T](scratch)
			yb := GetBuf[T](g.F * ohw)
			defer PutBuf(buf)
			defer PutBuf(yb)
			p := p0
			for n := lo; n < hi; n++ {
				prep(n, buf)
				for s := 0; s < subs; s++ {
					unit(n, s, buf, &p, yb)
				}
				each(n, yb)
			}
		})
		return
	}
	ParallelFor(g.N*subs, 1, func(lo, hi int) {
		buf := GetBuf[T](scratch)
		defer PutBuf(buf)
		p := p0
		cur := -1
		for u := lo; u < hi; u++ {
			n, s := u/subs, u%subs
			if n != cur {
				prep(n, buf)
				cur = n
			}
			unit(n, s, buf, &p, y[n*g.F*ohw:])
		}
	})
}

// im2colPanel writes the im2col columns of output pixels p0..p0+cnt-1 of
// one image into panel [CKK][nr] (columns past cnt zero).
func im2colPanel[T Float](g ConvGeom, x []T, p0, cnt, nr int, panel []T) {
	t := 0
	for c := 0; c < g.C; c++ {
		xc := x[c*g.H*g.W : (c+1)*g.H*g.W]
		for kh := 0; kh < g.KH; kh++ {
			for kw := 0; kw < g.KW; kw++ {
				row := panel[t*nr : (t+1)*nr]
				t++
				oy, ox := p0/g.OW, p0%g.OW
				for i := 0; i < cnt; {
					// one output row segment: pixels i.. of row oy from ox
					seg := min(cnt-i, g.OW-ox)
					iy := oy*g.SH + kh*g.DH - g.PT
					if iy < 0 || iy >= g.H {
						clear(row[i : i+seg])
					} else {
						xr := xc[iy*g.W : (iy+1)*g.W]
						ix := ox*g.SW + kw*g.DW - g.PL
						for s := 0; s < seg; s++ {
							if ix >= 0 && ix < g.W {
								row[i+s] = xr[ix]
							} else {
								row[i+s] = 0
							}
							ix += g.SW
						}
					}
					i += seg
					oy, ox = oy+1, 0
				}
				clear(row[cnt:])
			}
		}
	}
}

// ConvInputGrad computes dx = the gradient of ConvForward with respect to
// x for output gradient gy [N,F,OH,OW], overwriting dx [N,C,H,W]; it is
// also the transposed convolution of gy with w. With unit strides, padding
// within the kernel's reach and enough input channels it is a forward
// convolution of gy with the flipped, transposed weights; otherwise each
// image's columns W^T gy are computed by a GEMM and added up into dx
// (col2im).
func ConvInputGrad[T Float](g ConvGeom, gy, w, dx []T) {
	eh, ew := g.DH*(g.KH-1), g.DW*(g.KW-1)
	// as a forward convolution, the input channels are the rows of the
	// register tiles: few of them would leave most rows idle, unless the
	// narrow tiles take them
	mk := microFor[T]()
	rowsFit := g.C%mk.mr == 0 || g.C >= 4*mk.mr || mk.narrow != nil && g.C <= mk.narrow.mr
	if rowsFit && g.SH == 1 && g.SW == 1 && g.PT <= eh && g.PB <= eh && g.PL <= ew && g.PR <= ew {
		g2 := ConvGeom{N: g.N, C: g.F, H: g.OH, W: g.OW, F: g.C, KH: g.KH, KW: g.KW, OH: g.H, OW: g.W,
			SH: 1, SW: 1, PT: eh - g.PT, PB: eh - g.PB, PL: ew - g.PL, PR: ew - g.PR, DH: g.DH, DW: g.DW}
		wt := GetBuf[T](len(w))
		defer PutBuf(wt)
		kk := g.KH * g.KW
		for f := 0; f < g.F; f++ {
			for c := 0; c < g.C; c++ {
				src := w[(f*g.C+c)*kk : (f*g.C+c+1)*kk]
				dst := wt[(c*g.F+f)*kk : (c*g.F+f+1)*kk]
				for i, v := range src {
					dst[kk-1-i] = v
				}
			}
		}
		ConvForward(g2, gy, wt, nil, dx, false)
		return
	}
	ckk, ohw, chw := g.ckk(), g.ohw(), g.C*g.H*g.W
	ParallelFor(g.N, 1, func(lo, hi int) {
		cols := GetBuf[T](ckk * ohw)
		defer PutBuf(cols)
		for n := lo; n < hi; n++ {
			GemmSingle(true, false, ckk, ohw, g.F, 1, w, ckk, gy[n*g.F*ohw:(n+1)*g.F*ohw], ohw, 0, cols, ohw)
			dxn := dx[n*chw : (n+1)*chw]
			clear(dxn)
			col2im(g, cols, dxn)
		}
	})
}

// col2im adds the columns [CKK][OH*OW] of one image into x [C][H][W]: the
// adjoint of im2col.
func col2im[T Float](g ConvGeom, cols, x []T) {
	ohw := g.ohw()
	t := 0
	for c := 0; c < g.C; c++ {
		xc := x[c*g.H*g.W : (c+1)*g.H*g.W]
		for kh := 0; kh < g.KH; kh++ {
			for kw := 0; kw < g.KW; kw++ {
				row := cols[t*ohw : (t+1)*ohw]
				t++
				for oy := 0; oy < g.OH; oy++ {
					iy := oy*g.SH + kh*g.DH - g.PT
					if iy < 0 || iy >= g.H {
						continue
					}
					xr := xc[iy*g.W : (iy+1)*g.W]
					r := row[oy*g.OW : (oy+1)*g.OW]
					ix := kw*g.DW - g.PL
					for ox := 0; ox < g.OW; ox++ {
						if ix >= 0 && ix < g.W {
							xr[ix] += r[ox]
						}
						ix += g.SW
					}
				}
			}
		}
	}
}

// wgradBlock is how many output pixels one weight-gradient microkernel
// call sums over (its B, the transposed output gradient, stays in L1).
const wgradBlock = 128

// ConvWeightGrad computes dw = the gradient of ConvForward with respect to
// w for input x and output gradient gy, overwriting dw [F,C,KH,KW].
//
// It computes dw^T [CKK][F] as a product over the pixels of all images:
// row (c,kh,kw) of a tile reads the padded image at its own displacement
// from each pixel's window origin (kernB's A), and the vectors of B are
// rows of the image's output gradient transposed to [OH*OW][F]. Images
// are split between the workers, each summing into its own partial
// gradient (added up in image order), or, with fewer images than twice the
// workers, the rows of dw^T are.
func ConvWeightGrad[T Float](g ConvGeom, x, gy, dw []T) {
	mk := microFor[T]()
	size := sizeOf[T]()
	ckk, ohw, chw := g.ckk(), g.ohw(), g.C*g.H*g.W
	mr, nv, vl := mk.mr, mk.nv, mk.vl
	nr := nv * vl
	fpad := (g.F + nr - 1) / nr * nr
	hp, wpd := g.hp(), g.wp()
	// A and B offsets of every pixel of an image
	tab := getTab(2 * ohw)
	defer putTab(tab)
	for pix := 0; pix < ohw; pix++ {
		oy, ox := pix/g.OW, pix%g.OW
		tab[2*pix] = int32((oy*g.SH*wpd + ox*g.SW) * size)
		tab[2*pix+1] = int32((pix % wgradBlock) * fpad * size)
	}
	// displacement of row r of dw^T in the padded image
	disp := func(r int) int {
		c, kh, kw := r/(g.KH*g.KW), r/g.KW%g.KH, r%g.KW
		return (c*hp*wpd + kh*g.DH*wpd + kw*g.DW) * size
	}
	rowTiles := (ckk + mr - 1) / mr
	// images n0..n1-1, row tiles r0..r1-1, summed into part [CKK][fpad]
	run := func(n0, n1, r0, r1 int, part []T) {
		xp := GetBuf[T](g.C * hp * wpd)
		dyT := GetBuf[T](ohw * fpad)
		defer PutBuf(xp)
		defer PutBuf(dyT)
		var p kargs
		p.ldc = fpad * size
		p.flags = flagAcc
		for n := n0; n < n1; n++ {
			padImage(g, x[n*chw:], xp, 0)
			transposePad(gy[n*g.F*ohw:(n+1)*g.F*ohw], g.F, ohw, fpad, dyT)
			for b0 := 0; b0 < ohw; b0 += wgradBlock {
				p.k = min(wgradBlock, ohw-b0)
				p.tab = &tab[2*b0]
				for rt := r0; rt < r1; rt++ {
					row := rt * mr
					p.rows = min(mr, ckk-row)
					d0 := disp(row)
					p.a = unsafe.Add(unsafe.Pointer(&xp[0]), d0)
					for i := 0; i < mr; i++ {
						p.disp[i] = disp(row+min(i, p.rows-1)) - d0
					}
					for f0 := 0; f0 < g.F; f0 += nr {
						p.b = unsafe.Pointer(&dyT[b0*fpad+f0])
						p.c = unsafe.Pointer(&part[row*fpad+f0])
						for j := 0; j < nv; j++ {
							p.coff[j] = j * vl * size
							mk.setMask(&p, j, max(0, min(vl, g.F-f0-j*vl)))
						}
						mk.kernB(&p)
					}
				}
			}
		}
	}
	dwT := GetBuf[T](ckk * fpad)
	defer PutBuf(dwT)
	clear(dwT)
	if w := Workers(); w > 1 && g.N >= 2*w {
		parts := make([][]T, g.N)
		ParallelFor(g.N, 1, func(lo, hi int) {
			part := GetBuf[T](ckk * fpad)
			clear(part)
			parts[lo] = part
			run(lo, hi, 0, rowTiles, part)
		})
		for _, part := range parts {
			if part != nil {
				for i, v := range part {
					dwT[i] += v
				}
				PutBuf(part)
			}
		}
	} else {
		ParallelFor(rowTiles, 1, func(lo, hi int) { run(0, g.N, lo, hi, dwT) })
	}
	for f := 0; f < g.F; f++ {
		for r := 0; r < ckk; r++ {
			dw[f*ckk+r] = dwT[r*fpad+f]
		}
	}
}

// transposePad writes src [rows][cols] transposed into dst [cols][ld],
// zeroing columns rows..ld-1 of dst.
func transposePad[T Float](src []T, rows, cols, ld int, dst []T) {
	transpose(rows, cols, src, cols, dst, ld)
	if rows < ld {
		for c := 0; c < cols; c++ {
			clear(dst[c*ld+rows : (c+1)*ld])
		}
	}
}

// transpose sets dst[c*ldd+r] = src[r*lds+c] for r < rows, c < cols.
// Whole blocks of float32 go through the path's assembly block transpose.
func transpose[T Float](rows, cols int, src []T, lds int, dst []T, ldd int) {
	bs, tr := 16, func(s, d unsafe.Pointer) {}
	s32, ok := any(src).([]float32)
	if ok {
		switch Current() {
		case AVX512:
			tr = func(s, d unsafe.Pointer) { transposeBlock512(s, lds*4, d, ldd*4) }
		case AVX2:
			bs = 8
			tr = func(s, d unsafe.Pointer) { transposeBlock256(s, lds*4, d, ldd*4) }
		default:
			ok = false
		}
	}
	d32, _ := any(dst).([]float32)
	for c0 := 0; c0 < cols; c0 += bs {
		c1 := min(c0+bs, cols)
		for r0 := 0; r0 < rows; r0 += bs {
			r1 := min(r0+bs, rows)
			if ok && c1-c0 == bs && r1-r0 == bs {
				tr(unsafe.Pointer(&s32[r0*lds+c0]), unsafe.Pointer(&d32[c0*ldd+r0]))
				continue
			}
			for r := r0; r < r1; r++ {
				s := src[r*lds : r*lds+cols]
				for c := c0; c < c1; c++ {
					dst[c*ldd+r] = s[c]
				}
			}
		}
	}
}
