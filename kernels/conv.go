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
	if x32, ok := any(x).([]float32); ok {
		if p := Current(); p == AVX512 && g.PL+g.PR <= 16 || p == AVX2 && g.PL+g.PR <= 8 {
			padImageVec(g, x32, any(xp).([]float32), slack, p == AVX512)
			return
		}
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

// padImageVec is padImage for float32 on the AVX-512 path (avx512) with at
// most 16 elements of padding per row (left and right), or on the AVX2
// path with at most 8: each plane's rows are copied, and the padding
// between them zeroed, by one call of padRows512 or padRows256 (vector
// copies, no call per row); the runs from one plane's last row to the
// next plane's first are cleared in Go.
func padImageVec(g ConvGeom, x, xp []float32, slack int, avx512 bool) {
	hp, wp, w := g.hp(), g.wp(), g.W
	x, xp = x[:g.C*g.H*w], xp[:g.C*hp*wp+slack]
	clear(xp[:g.PT*wp+g.PL])
	rows := func(src, dst unsafe.Pointer) {
		padRows256(src, dst, g.H, w/8, w*4, wp*4, uint16(w%8), uint16(g.PL+g.PR))
	}
	if avx512 {
		tail, gap := uint16(1<<(w%16)-1), uint16(1<<(g.PL+g.PR)-1)
		rows = func(src, dst unsafe.Pointer) { padRows512(src, dst, g.H, w/16, w*4, wp*4, tail, gap) }
	}
	for c := 0; c < g.C; c++ {
		d := (c*hp+g.PT)*wp + g.PL
		rows(unsafe.Pointer(&x[c*g.H*w]), unsafe.Pointer(&xp[d]))
		// the last row's right padding, the bottom rows, and the next
		// plane's top rows and first left padding (or the slack)
		e := d + (g.H-1)*wp + w
		n := g.PR + g.PB*wp + slack
		if c < g.C-1 {
			n = g.PR + (g.PB+g.PT)*wp + g.PL
		}
		clear(xp[e : e+n])
	}
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
// above it (narrow images) it reads vectors spanning rows (flatWaste) or
// packs im2col panels.
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

// flatUse is the least share of the computed lanes that must be output
// pixels for a forward convolution with KW > 1 to read vectors across rows
// (useFlat); below it the im2col panels, which compute no dropped pixels,
// are faster despite their packing (measured on Inception v3's shapes: at
// 17x17, 1x7 kernels use 64% of the lanes and run 1.3-1.5 times faster
// flat; at 8x8, 3x3 and 1x3 kernels use 50% and run 1.3 times slower).
const flatUse = 0.6

// useFlat reports whether the forward pass of g, unit strides, reads
// vectors of consecutive pixels of the padded image across its rows:
// output pixel (oy, ox) is padded pixel oy*Wp+ox, so a vector of vl of
// them computes the Wp-OW pixels past each output row's end too (dropped).
// With KW = 1 (1x1, 7x1 convolutions) there are none and the vectors are
// written straight to the output; otherwise they go to a scratch tile
// whose valid pixels are copied out. It is chosen for KW = 1 always and
// for other kernels whose rows do not fill vectors (useDirect false) when
// at least flatUse of the lanes of the tiles of nv vectors are output
// pixels: Inception v3's 35- and 17-pixel images.
func useFlat(g ConvGeom, nv, vl int) bool {
	if g.SW != 1 || g.SH != 1 {
		return false
	}
	if g.wp() == g.OW {
		return true
	}
	if useDirect(g, vl) {
		return false
	}
	vecs := ((g.OH-1)*g.wp() + g.OW + vl - 1) / vl
	lanes := (vecs + nv - 1) / nv * nv * vl
	return float64(g.ohw()) >= flatUse*float64(lanes)
}

// flatVectors splits the padded pixels oy*Wp+ox of the output rows
// (useFlat) into vectors of up to vl.
func flatVectors(g ConvGeom, vl int) []outVec {
	n := (g.OH-1)*g.wp() + g.OW
	vs := make([]outVec, 0, (n+vl-1)/vl)
	for o := 0; o < n; o += vl {
		vs = append(vs, outVec{in: o, out: o, lanes: min(vl, n-o)})
	}
	return vs
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
// vector); with unit strides on narrow images (and always for 1x1 and nx1
// kernels) the vectors run across the padded rows instead (useFlat);
// otherwise im2col panels of nr output pixels are packed per image
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
	if useWino[T](g) {
		winoForward(g, x, w, bias, y, relu, each)
		return
	}
	pl := newFwdPlan(g, w, bias, relu)
	defer pl.free()
	chw, fo := g.C*g.H*g.W, g.F*g.ohw()
	// every image's output is the same whichever worker computes it: the
	// workers take images as they finish the previous ones
	if each != nil {
		ParallelDynamic(g.N, func(next func() (int, bool)) {
			buf := GetBuf[T](pl.scratch)
			yb := GetBuf[T](fo)
			defer PutBuf(buf)
			defer PutBuf(yb)
			var p kargs
			for n, ok := next(); ok; n, ok = next() {
				pl.image(x[n*chw:(n+1)*chw], buf, &p, yb)
				each(n, yb)
			}
		})
		return
	}
	if g.N >= 2*Workers() {
		ParallelDynamic(g.N, func(next func() (int, bool)) {
			buf := GetBuf[T](pl.scratch)
			defer PutBuf(buf)
			var p kargs
			for n, ok := next(); ok; n, ok = next() {
				pl.image(x[n*chw:(n+1)*chw], buf, &p, y[n*fo:(n+1)*fo])
			}
		})
		return
	}
	ParallelFor(g.N*pl.subs, 1, func(lo, hi int) {
		buf := GetBuf[T](pl.scratch)
		defer PutBuf(buf)
		var p kargs
		cur := -1
		var src []T
		for u := lo; u < hi; u++ {
			n, s := u/pl.subs, u%pl.subs
			xn := x[n*chw : (n+1)*chw]
			if n != cur {
				src = pl.prep(xn, buf)
				cur = n
			}
			pl.unit(xn, s, src, buf, &p, y[n*fo:(n+1)*fo])
		}
	})
}

// fwdPlan is a forward convolution ready to run image by image: packed
// weights, the step table and how an image splits into units.
type fwdPlan[T Float] struct {
	g      ConvGeom
	mk     *micro
	wp     []T
	tab    []int32
	bias   []T
	relu   bool
	direct bool
	// inPlace (direct, no padding, KW = 1): the vectors read the image
	// itself, not a padded copy, when vl elements past its end can be read
	inPlace bool
	vecs    []outVec // direct: the output vectors of an image
	cb      int      // direct: input channels per block
	// scatter (flat vectors with KW > 1): the tile goes to a scratch of
	// F rows of nr pixels at ytile in the worker's buffer, and its valid
	// pixels are copied to the output
	scatter bool
	ytile   int
	// subs is the number of units of an image (groups of output vectors
	// or im2col chunks), scratch the size of a worker's buffer (the
	// padded image or an im2col panel)
	subs, scratch int
}

func newFwdPlan[T Float](g ConvGeom, w, bias []T, relu bool) *fwdPlan[T] {
	mk := microFor[T]()
	if mk.narrow != nil && g.F <= mk.narrow.mr {
		mk = mk.narrow // few output channels: tiles of fewer rows, more vectors
	}
	size := sizeOf[T]()
	ckk, ohw := g.ckk(), g.ohw()
	mr, nv, vl := mk.mr, mk.nv, mk.vl
	pl := &fwdPlan[T]{g: g, mk: mk, bias: bias, relu: relu}
	kk := g.KH * g.KW
	flat := useFlat(g, nv, vl)
	pl.direct = flat || useDirect(g, vl)
	if pl.direct {
		hp, wpd := g.hp(), g.wp()
		// a block of channels: its weight panel and the rows a group of
		// vectors reads take about half of L1
		var span int
		if flat {
			pl.vecs = flatVectors(g, vl)
			pl.scatter = wpd != g.OW
			pl.inPlace = !pl.scatter && g.PT == 0 && g.PB == 0 && g.PL == 0 && g.PR == 0
			span = nv*vl + (g.KH-1)*g.DH*wpd + (g.KW-1)*g.DW
		} else {
			pl.vecs = rowVectors(g, vl)
			perRow := (g.OW + vl - 1) / vl
			span = ((nv+perRow-1)/perRow*g.SH + (g.KH-1)*g.DH + 1) * wpd
		}
		pl.cb = max(1, min(g.C, l1Budget/((kk*mr+span)*size)))
		if t := mk.tall; t != nil && !flat && tallTiles(g.F, len(pl.vecs), mk.shape, t.shape) {
			// the channel blocks stay the default tile's, so every output
			// is summed in the same order: the same bits either way
			pl.mk, mr, nv = t, t.mr, t.nv
		}
		pl.subs = (len(pl.vecs) + nv - 1) / nv
		pl.scratch = g.C*hp*wpd + vl
		if pl.scatter {
			pl.ytile = pl.scratch
			pl.scratch += g.F * nv * vl
		}
	}
	panels := (g.F + mr - 1) / mr
	pl.wp = GetBuf[T](panels * mr * ckk)
	packWeights(w, g.F, ckk, mr, pl.wp)
	pl.tab = getTab(2 * ckk)
	for t := range ckk {
		pl.tab[2*t] = int32(t * mr * size)
	}
	if pl.direct {
		hp, wpd := g.hp(), g.wp()
		for t := range ckk {
			c, kh, kw := t/kk, t/g.KW%g.KH, t%g.KW
			pl.tab[2*t+1] = int32((c*hp*wpd + kh*g.DH*wpd + kw*g.DW) * size)
		}
	} else {
		nr := nv * vl
		for t := range ckk {
			pl.tab[2*t+1] = int32(t * nr * size)
		}
		pl.subs = (ohw + nr - 1) / nr
		pl.cb = g.C
		pl.scratch = ckk * nr
	}
	return pl
}

// tallTiles reports whether tiles of shape tall compute fewer lanes than
// tiles of shape def for f output channels (rows) and vecs vectors of
// output pixels: rows and vectors rounded up to whole tiles (mnist-small's
// conv2, 32 channels of 14 vectors: 32 rows of 15 vectors with 8x3 tiles
// against 36 rows of 16 with 6x4).
func tallTiles(f, vecs int, def, tall shape) bool {
	lanes := func(s shape) int { return (f + s.mr - 1) / s.mr * s.mr * ((vecs + s.nv - 1) / s.nv * s.nv) }
	return lanes(tall) < lanes(def)
}

func (pl *fwdPlan[T]) free() {
	PutBuf(pl.wp)
	putTab(pl.tab)
}

// prep readies image xn [C,H,W] for its units and returns the padded
// image they read: xn itself when the plan reads in place and the memory
// behind xn (its capacity: the next image, or a buffer's slack) holds the
// up to vl-1 elements the last vector reads past the image's end (they
// reach only lanes that are dropped); else the zero-padded copy in buf.
// (The 1x1 convolutions of a ResNet and of Inception's blocks: no copy.)
func (pl *fwdPlan[T]) prep(xn, buf []T) []T {
	if !pl.direct {
		return nil
	}
	if pl.inPlace && cap(xn)-len(xn) >= pl.mk.vl {
		return xn
	}
	padImage(pl.g, xn, buf, pl.mk.vl)
	return buf
}

// image computes the whole output yn [F,OH,OW] of image xn.
func (pl *fwdPlan[T]) image(xn, buf []T, p *kargs, yn []T) {
	src := pl.prep(xn, buf)
	for s := 0; s < pl.subs; s++ {
		pl.unit(xn, s, src, buf, p, yn)
	}
}

// unit computes unit s of image xn into yn, src the padded image prep
// returned, buf the worker's buffer (im2col panel, scatter tile).
func (pl *fwdPlan[T]) unit(xn []T, s int, src, buf []T, p *kargs, yn []T) {
	g, mk := pl.g, pl.mk
	size := sizeOf[T]()
	nv, vl := mk.nv, mk.vl
	if !pl.direct {
		nr := nv * vl
		p0 := s * nr
		cnt := min(nr, g.ohw()-p0)
		im2colPanel(g, xn, p0, cnt, nr, buf)
		p.b = unsafe.Pointer(&buf[0])
		for j := 0; j < nv; j++ {
			p.disp[j], p.coff[j] = j*vl*size, (p0+j*vl)*size
			mk.setMask(p, j, max(0, min(vl, cnt-j*vl)))
		}
		pl.tile(p, yn, g.ohw())
		return
	}
	v0 := pl.vecs[s*nv]
	p.b = unsafe.Pointer(&src[v0.in])
	base := 0 // output pixel at the tile's C
	if pl.scatter {
		base = v0.out
	}
	cnt := 0
	for j := 0; j < nv; j++ {
		if i := s*nv + j; i < len(pl.vecs) {
			v := pl.vecs[i]
			p.disp[j], p.coff[j] = (v.in-v0.in)*size, (v.out-base)*size
			mk.setMask(p, j, v.lanes)
			cnt += v.lanes
		} else {
			p.disp[j], p.coff[j] = 0, 0
			mk.setMask(p, j, 0)
		}
	}
	if !pl.scatter {
		pl.tile(p, yn, g.ohw())
		return
	}
	nr := nv * vl
	yt := buf[pl.ytile : pl.ytile+g.F*nr]
	pl.tile(p, yt, nr)
	// copy the pixels of output rows (column < OW of the padded width)
	wpd := g.wp()
	for i := 0; i < cnt; {
		o := base + i
		oy, ox := o/wpd, o%wpd
		seg := min(cnt-i, wpd-ox)
		if n := min(seg, g.OW-ox); n > 0 {
			for f := 0; f < g.F; f++ {
				copy(yn[f*g.ohw()+oy*g.OW+ox:f*g.ohw()+oy*g.OW+ox+n], yt[f*nr+i:f*nr+i+n])
			}
		}
		i += seg
	}
}

// tile runs every weight panel on the vectors set up in p, in blocks of cb
// input channels (steps (c,kh,kw) are channel-major), into yn whose rows
// (output channels) are ld elements apart: the first block writes C (plus
// the bias), the others add to it, the last one applies the ReLU.
func (pl *fwdPlan[T]) tile(p *kargs, yn []T, ld int) {
	g, mk := pl.g, pl.mk
	mr, ckk, kk := mk.mr, g.ckk(), g.KH*g.KW
	p.ldc = ld * sizeOf[T]()
	for c0 := 0; c0 < g.C; c0 += pl.cb {
		p.tab = &pl.tab[2*c0*kk]
		p.k = min(pl.cb, g.C-c0) * kk
		p.flags = 0
		if c0 > 0 {
			p.flags = flagAcc
		}
		if pl.relu && c0+pl.cb >= g.C {
			p.flags |= flagRelu
		}
		for q := 0; q*mr < g.F; q++ {
			p.a = unsafe.Pointer(&pl.wp[q*mr*ckk])
			p.c = unsafe.Pointer(&yn[q*mr*ld])
			p.rows = min(mr, g.F-q*mr)
			p.bias = nil
			if pl.bias != nil && c0 == 0 {
				p.bias = unsafe.Pointer(&pl.bias[q*mr])
			}
			mk.forRows(p.rows).kernA(p)
		}
	}
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
// also the transposed convolution of gy with w. With at most 3 input
// channels and unit strides on the AVX-512 path it is colsPlan's GEMM and
// gather. Otherwise, with unit strides, padding within the kernel's reach
// and enough input channels it is a forward convolution of gy with the
// flipped, transposed weights; else each image's columns W^T gy are
// computed by a GEMM and added up into dx (col2im).
func ConvInputGrad[T Float](g ConvGeom, gy, w, dx []T) {
	if useCols[T](g) {
		gy32, w32, dx32 := any(gy).([]float32), any(w).([]float32), any(dx).([]float32)
		pl := newColsPlan(g, w32)
		defer pl.free()
		fo, chw := g.F*g.ohw(), g.C*g.H*g.W
		ParallelFor(g.N, 1, func(lo, hi int) {
			buf := pl.buffer()
			defer PutBuf(buf)
			for n := lo; n < hi; n++ {
				pl.image(gy32[n*fo:(n+1)*fo], buf, dx32[n*chw:(n+1)*chw])
			}
		})
		return
	}
	if g2, ok := inputGradAsForward[T](g); ok {
		wt := GetBuf[T](len(w))
		defer PutBuf(wt)
		flipWeights(g, w, wt)
		ConvForward(g2, gy, wt, nil, dx, false)
		return
	}
	ckk, ohw, chw := g.ckk(), g.ohw(), g.C*g.H*g.W
	ParallelFor(g.N, 1, func(lo, hi int) {
		cols := GetBuf[T](ckk * ohw)
		defer PutBuf(cols)
		for n := lo; n < hi; n++ {
			inputGradCols(g, gy[n*g.F*ohw:(n+1)*g.F*ohw], w, cols, dx[n*chw:(n+1)*chw])
		}
	})
}

// inputGradAsForward returns the forward convolution that computes the
// input gradient of g (of the output gradient, with flipWeights' weights)
// when g has unit strides, padding within the kernel's reach and enough
// input channels to fill the rows of the register tiles (or few enough for
// the narrow tiles, or on the Winograd path).
func inputGradAsForward[T Float](g ConvGeom) (ConvGeom, bool) {
	eh, ew := g.DH*(g.KH-1), g.DW*(g.KW-1)
	mk := microFor[T]()
	rowsFit := g.C%mk.mr == 0 || g.C >= 4*mk.mr || mk.narrow != nil && g.C <= mk.narrow.mr
	if g.SH != 1 || g.SW != 1 || g.PT > eh || g.PB > eh || g.PL > ew || g.PR > ew {
		return ConvGeom{}, false
	}
	g2 := ConvGeom{N: g.N, C: g.F, H: g.OH, W: g.OW, F: g.C, KH: g.KH, KW: g.KW, OH: g.H, OW: g.W,
		SH: 1, SW: 1, PT: eh - g.PT, PB: eh - g.PB, PL: ew - g.PL, PR: ew - g.PR, DH: g.DH, DW: g.DW}
	// Winograd's products fill their tiles' rows whatever the channels
	return g2, rowsFit || useWino[T](g2)
}

// flipWeights writes w [F,C,KH,KW] transposed and flipped into wt
// [C,F,KH,KW]: wt[c][f][i][j] = w[f][c][KH-1-i][KW-1-j].
func flipWeights[T Float](g ConvGeom, w, wt []T) {
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
}

// inputGradCols computes one image's input gradient dxn from its output
// gradient gyn by a GEMM to columns (cols [CKK][OH*OW]) and col2im.
func inputGradCols[T Float](g ConvGeom, gyn, w, cols, dxn []T) {
	ckk, ohw := g.ckk(), g.ohw()
	GemmSingle(true, false, ckk, ohw, g.F, 1, w, ckk, gyn, ohw, 0, cols, ohw)
	clear(dxn)
	col2im(g, cols, dxn)
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
const wgradBlock = 256

// ConvWeightGrad computes dw = the gradient of ConvForward with respect to
// w for input x and output gradient gy, overwriting dw [F,C,KH,KW].
//
// It computes dw^T [CKK][F] as a product over the pixels of all images:
// row (c,kh,kw) of a tile reads the padded image at its own displacement
// from each pixel's window origin (kernB's A), and the vectors of B are
// rows of the image's output gradient transposed to [OH*OW][F]. Images
// are split between the workers, each summing into its own partial
// gradient (added up in image order), or, with fewer images than twice the
// workers, the rows of dw^T are. With at most 3 input channels and output
// rows of whole vectors on the AVX-512 path, dotPlan sums over the pixels
// in vector lanes instead (no transposes).
func ConvWeightGrad[T Float](g ConvGeom, x, gy, dw []T) {
	chw, fo := g.C*g.H*g.W, g.F*g.ohw()
	images := func(n int, _ []T) ([]T, []T) { return x[n*chw : (n+1)*chw], gy[n*fo : (n+1)*fo] }
	if useWino[T](g) {
		ww := newWinoWgrad(g)
		defer ww.free()
		byImages(g, any(ww).(wgradSum[T]), dw, images, nil)
		return
	}
	if useDot[T](g) && g.N >= 2*Workers() {
		dp := newDotPlan(g)
		defer dp.free()
		byImages(g, any(dp).(wgradSum[T]), dw, images, nil)
		return
	}
	pl := newWgradPlan[T](g)
	defer pl.free()
	if w := Workers(); w > 1 && g.N >= 2*w {
		byImages(g, wgradSum[T](pl), dw, images, nil)
		return
	}
	dwT := GetBuf[T](pl.size())
	defer PutBuf(dwT)
	clear(dwT)
	ParallelFor(pl.rowTiles, 1, func(lo, hi int) {
		xp, dyT := pl.buffers()
		defer PutBuf(xp)
		defer PutBuf(dyT)
		for n := 0; n < g.N; n++ {
			pl.image(x[n*chw:(n+1)*chw], gy[n*fo:(n+1)*fo], lo, hi, dwT, xp, dyT)
		}
	})
	pl.store(dwT, dw)
}

// ConvBackwardEach computes the input gradient dx [N,C,H,W] and the
// weight gradient dw [F,C,KH,KW] of ConvForward (either may be nil: not
// computed) for output gradients made one image at a time: gyOf(n, buf) must fill buf [F,OH,OW] with image
// n's output gradient (or return another slice holding it). Each worker
// takes whole images and uses every image's output gradient for both
// gradients while it is in the core's cache, so the batch's output
// gradient is never written. The results are ConvInputGrad's and
// ConvWeightGrad's up to the order in which dw sums its images.
func ConvBackwardEach[T Float](g ConvGeom, x, w []T, gyOf func(n int, buf []T) []T, dx, dw []T) {
	chw := g.C * g.H * g.W
	var sum wgradSum[T] // no weight gradient (dw nil): no plan for one
	switch {
	case dw == nil:
	case useWino[T](g):
		ww := newWinoWgrad(g)
		defer ww.free()
		sum = any(ww).(wgradSum[T])
	case useDot[T](g):
		dp := newDotPlan(g)
		defer dp.free()
		sum = any(dp).(wgradSum[T])
	default:
		pl := newWgradPlan[T](g)
		defer pl.free()
		sum = pl
	}
	var worker func() (func(int, []T), func())
	if useCols[T](g) {
		pl := newColsPlan(g, any(w).([]float32))
		defer pl.free()
		dx32 := any(dx).([]float32)
		worker = func() (func(int, []T), func()) {
			buf := pl.buffer()
			return func(n int, gyn []T) { pl.image(any(gyn).([]float32), buf, dx32[n*chw:(n+1)*chw]) }, func() { PutBuf(buf) }
		}
	} else if g2, ok := inputGradAsForward[T](g); ok {
		wt := GetBuf[T](len(w))
		defer PutBuf(wt)
		flipWeights(g, w, wt)
		if useWino[T](g2) {
			wp := newWinoPlan(g2, any(wt).([]float32), nil, false)
			defer wp.free()
			dx32 := any(dx).([]float32)
			worker = func() (func(int, []T), func()) {
				buf := GetBuf[float32](wp.scratch)
				p := new(kargs)
				return func(n int, gyn []T) { wp.image(any(gyn).([]float32), buf, p, dx32[n*chw:(n+1)*chw]) }, func() { PutBuf(buf) }
			}
		} else {
			fp := newFwdPlan(g2, wt, nil, false)
			defer fp.free()
			worker = func() (func(int, []T), func()) {
				buf := GetBuf[T](fp.scratch)
				var p kargs
				return func(n int, gyn []T) { fp.image(gyn, buf, &p, dx[n*chw:(n+1)*chw]) }, func() { PutBuf(buf) }
			}
		}
	} else {
		worker = func() (func(int, []T), func()) {
			cols := GetBuf[T](g.ckk() * g.ohw())
			return func(n int, gyn []T) { inputGradCols(g, gyn, w, cols, dx[n*chw:(n+1)*chw]) }, func() { PutBuf(cols) }
		}
	}
	if dx == nil {
		worker = nil
	}
	byImages(g, sum, dw, func(n int, buf []T) ([]T, []T) { return x[n*chw : (n+1)*chw], gyOf(n, buf) }, worker)
}

// wgradPlan is a weight gradient ready to be summed image by image into
// dw^T [CKK][fpad] (see ConvWeightGrad).
type wgradPlan[T Float] struct {
	g        ConvGeom
	mk       *micro
	tab      []int32
	fpad     int
	rowTiles int
	// rdisp[r] is the displacement of row r of dw^T, (c,kh,kw), in the
	// padded image (bytes)
	rdisp []int
}

func newWgradPlan[T Float](g ConvGeom) *wgradPlan[T] {
	mk := microFor[T]()
	size := sizeOf[T]()
	ohw, nr := g.ohw(), mk.nv*mk.vl
	pl := &wgradPlan[T]{g: g, mk: mk, fpad: (g.F + nr - 1) / nr * nr, rowTiles: (g.ckk() + mk.mr - 1) / mk.mr}
	// A and B offsets of every pixel of an image
	wpd := g.wp()
	pl.tab = getTab(2 * ohw)
	for pix := 0; pix < ohw; pix++ {
		oy, ox := pix/g.OW, pix%g.OW
		pl.tab[2*pix] = int32((oy*g.SH*wpd + ox*g.SW) * size)
		pl.tab[2*pix+1] = int32((pix % wgradBlock) * pl.fpad * size)
	}
	pl.rdisp = make([]int, g.ckk())
	for r := range pl.rdisp {
		c, kh, kw := r/(g.KH*g.KW), r/g.KW%g.KH, r%g.KW
		pl.rdisp[r] = (c*g.hp()*wpd + kh*g.DH*wpd + kw*g.DW) * size
	}
	return pl
}

func (pl *wgradPlan[T]) free() { putTab(pl.tab) }

// wgradSum is a weight gradient summed image by image into partial sums
// of its own layout (wgradPlan, dotPlan), for byImages.
type wgradSum[T Float] interface {
	// size is the length of a partial sum.
	size() int
	// buffers returns a worker's scratch (PutBuf each when done; dyT may
	// be nil).
	buffers() (xp, dyT []T)
	// add adds image xn's contribution for output gradient gyn to part.
	add(xn, gyn, part, xp, dyT []T)
	// store writes dw from the sum of the partial sums.
	store(sum, dw []T)
}

func (pl *wgradPlan[T]) add(xn, gyn, part, xp, dyT []T) {
	pl.image(xn, gyn, 0, pl.rowTiles, part, xp, dyT)
}

// size is the length of dw^T.
func (pl *wgradPlan[T]) size() int { return pl.g.ckk() * pl.fpad }

// buffers returns a worker's padded image and transposed output gradient.
func (pl *wgradPlan[T]) buffers() (xp, dyT []T) {
	g := pl.g
	return GetBuf[T](g.C * g.hp() * g.wp()), GetBuf[T](g.ohw() * pl.fpad)
}

// image adds image xn's contribution, for output gradient gyn, to rows of
// dw^T in row tiles r0..r1-1 of part.
func (pl *wgradPlan[T]) image(xn, gyn []T, r0, r1 int, part, xp, dyT []T) {
	g, mk := pl.g, pl.mk
	size := sizeOf[T]()
	ckk, ohw, fpad := g.ckk(), g.ohw(), pl.fpad
	mr, nv, vl := mk.mr, mk.nv, mk.vl
	nr := nv * vl
	padImage(g, xn, xp, 0)
	transposePad(gyn, g.F, ohw, fpad, dyT)
	var p kargs
	p.ldc = fpad * size
	p.flags = flagAcc
	for j := 0; j < nv; j++ {
		p.coff[j] = j * vl * size
	}
	// the lane masks of the last group of nr output channels (all the
	// others are full)
	var lastMask [8]int
	fl := (g.F - 1) / nr * nr
	for j := 0; j < nv; j++ {
		mk.setMask(&p, j, max(0, min(vl, g.F-fl-j*vl)))
	}
	lastMask = p.mask
	for b0 := 0; b0 < ohw; b0 += wgradBlock {
		p.k = min(wgradBlock, ohw-b0)
		p.tab = &pl.tab[2*b0]
		for rt := r0; rt < r1; rt++ {
			row := rt * mr
			p.rows = min(mr, ckk-row)
			d0 := pl.rdisp[row]
			p.a = unsafe.Add(unsafe.Pointer(&xp[0]), d0)
			for i := 0; i < mr; i++ {
				p.disp[i] = pl.rdisp[row+min(i, p.rows-1)] - d0
			}
			for f0 := 0; f0 < g.F; f0 += nr {
				p.b = unsafe.Pointer(&dyT[b0*fpad+f0])
				p.c = unsafe.Pointer(&part[row*fpad+f0])
				if f0 == fl {
					p.mask = lastMask
				} else {
					for j := 0; j < nv; j++ {
						mk.setMask(&p, j, vl)
					}
				}
				mk.forRows(p.rows).kernB(&p)
			}
		}
	}
}

// workerHooks starts one of byImages's workers: worker's per-image hook
// and its clean-up, no-ops where worker or its hook is nil.
func workerHooks[T Float](worker func() (func(int, []T), func())) (each func(int, []T), done func()) {
	if worker != nil {
		each, done = worker()
	}
	if each == nil {
		each = func(int, []T) {}
	}
	if done == nil {
		done = func() {}
	}
	return each, done
}

// byImages splits the images between the workers, each summing into its
// own partial sum (pl's layout) the images that images(n, buf) returns (input and
// output gradient; buf is a worker's buffer of F*OH*OW elements that the
// output gradient may be made in), adds the partials up in image order and
// stores dw (none of it when dw is nil). worker, if not nil, is called once per worker first and its
// result, if not nil, after each image with the image's output gradient.
func byImages[T Float](g ConvGeom, pl wgradSum[T], dw []T, images func(n int, buf []T) (xn, gyn []T), worker func() (each func(n int, gyn []T), done func())) {
	if dw == nil {
		// input gradients alone: every image's is the same whichever
		// worker makes it, so the workers take images as they finish
		ParallelDynamic(g.N, func(next func() (int, bool)) {
			each, done := workerHooks(worker)
			defer done()
			buf := GetBuf[T](g.F * g.ohw())
			defer PutBuf(buf)
			for n, ok := next(); ok; n, ok = next() {
				_, gyn := images(n, buf)
				each(n, gyn)
			}
		})
		return
	}
	// the weight gradient's partial sums are each worker's contiguous
	// share of the images, added up in image order: the same bits for a
	// given number of workers
	parts := make([][]T, g.N)
	ParallelFor(g.N, 1, func(lo, hi int) {
		each, done := workerHooks(worker)
		defer done()
		buf := GetBuf[T](g.F * g.ohw())
		defer PutBuf(buf)
		part := GetBuf[T](pl.size())
		clear(part)
		parts[lo] = part
		xp, dyT := pl.buffers()
		defer PutBuf(xp)
		defer PutBuf(dyT)
		for n := lo; n < hi; n++ {
			xn, gyn := images(n, buf)
			each(n, gyn)
			pl.add(xn, gyn, part, xp, dyT)
		}
	})
	dwT := GetBuf[T](pl.size())
	defer PutBuf(dwT)
	clear(dwT)
	for _, part := range parts {
		if part != nil {
			for i, v := range part {
				dwT[i] += v
			}
			PutBuf(part)
		}
	}
	pl.store(dwT, dw)
}

// store writes dw [F][CKK] from dw^T.
func (pl *wgradPlan[T]) store(dwT, dw []T) {
	ckk := pl.g.ckk()
	for f := 0; f < pl.g.F; f++ {
		for r := 0; r < ckk; r++ {
			dw[f*ckk+r] = dwT[r*pl.fpad+f]
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
