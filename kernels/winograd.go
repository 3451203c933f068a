package kernels

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"unsafe"
)

// Winograd F(2x2,5x5) for float32 5x5 convolutions with unit strides and
// no dilation: every 6x6 tile of the padded input (tiles 2 pixels apart)
// gives a 2x2 tile of the output as
//
//	Y = A^T [ (G w G^T) ⊙ (B^T d B) ] A
//
// with the interpolation points 0, 1, -1, 2, -2 and ∞:
//
//	B^T = [4  0 -5  0 1 0      G = [ 1/4     0     0     0    0     A^T = [1 1  1 1  1 0
//	       0 -4 -4  1 1 0           -1/6  -1/6  -1/6  -1/6 -1/6            0 1 -1 2 -2 1]
//	       0  4 -4 -1 1 0           -1/6   1/6  -1/6   1/6 -1/6
//	       0 -2 -1  2 1 0           1/24  1/12   1/6   1/3  2/3
//	       0  2 -1 -2 1 0           1/24 -1/12   1/6  -1/3  2/3
//	       0  4  0 -5 0 1]             0     0     0     0    1]
//
// 36 products per tile and channel pair instead of 100. Summed over the
// input channels, the products at each of the 36 tile positions ξ are a
// matrix product [F x C] x [C x tiles], computed by the path's kernA
// microkernel; the input and output transforms are vectorised across
// tiles (winoIn, winoOut: assembly on the AVX-512 and AVX2 paths).

// ConvAlgo selects the algorithm of the float32 5x5 unit-stride
// convolutions: [ConvAuto] (Winograd where it is measured faster),
// [ConvDirect] or [ConvWinograd] (wherever the geometry allows: images up
// to 220 pixels wide whose transforms take at most 64 MB per worker).
type ConvAlgo uint8

const (
	ConvAuto ConvAlgo = iota
	ConvDirect
	ConvWinograd
)

func (a ConvAlgo) String() string {
	switch a {
	case ConvAuto:
		return "auto"
	case ConvDirect:
		return "direct"
	case ConvWinograd:
		return "winograd"
	}
	return fmt.Sprintf("ConvAlgo(%d)", uint8(a))
}

// ParseConvAlgo reads a convolution algorithm as ARP_CONV takes it:
// auto (or empty), direct or winograd.
func ParseConvAlgo(s string) (ConvAlgo, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return ConvAuto, nil
	case "direct":
		return ConvDirect, nil
	case "winograd":
		return ConvWinograd, nil
	}
	return ConvAuto, fmt.Errorf("ARP_CONV=%q: unknown convolution algorithm (want auto, direct or winograd)", s)
}

var (
	convAlgo atomic.Uint32
	// convEnvErr is why ARP_CONV could not be honoured, if any.
	convEnvErr error
)

func init() {
	a, err := ParseConvAlgo(os.Getenv("ARP_CONV"))
	convEnvErr = err
	convAlgo.Store(uint32(a))
}

// CurrentConvAlgo returns the convolution algorithm setting in use.
func CurrentConvAlgo() ConvAlgo { return ConvAlgo(convAlgo.Load()) }

// UseConvAlgo switches the convolution algorithm setting. It is not safe
// to call while kernels run.
func UseConvAlgo(a ConvAlgo) { convAlgo.Store(uint32(a)) }

// winoTmpRow is the length (floats) of each of the six rows of the input
// transform's scratch; gen.go's winoTmpRow is its size in bytes.
const winoTmpRow = 256

// winoMaxBytes bounds the working memory (bytes) of one worker's image on
// the Winograd path (37 slots of transformed channels): larger geometries
// run the direct kernels even under ConvWinograd.
const winoMaxBytes = 64 << 20

// winoGeom reports whether g's geometry has a Winograd F(2x2,5x5) form:
// 5x5 kernels, unit strides and dilations, padded rows short enough for
// the input transform's scratch rows, and an image's transforms within
// winoMaxBytes.
func winoGeom(g ConvGeom) bool {
	tx := (g.OW + 1) / 2
	return g.KH == 5 && g.KW == 5 && g.SH == 1 && g.SW == 1 && g.DH == 1 && g.DW == 1 && 2*tx+4 <= 224 &&
		4*37*winoSlot(g) <= winoMaxBytes
}

// winoL2 is the largest working set (bytes) of an image's Winograd
// transforms and products with which ConvAuto chooses Winograd: it stays
// in a core's L2 (1 MB on Zen 5).
const winoL2 = 768 << 10

// winoMinChannels is the least number of input and of output channels with
// which ConvAuto chooses Winograd: with fewer the transforms take a larger
// share of the time (mnist-small's conv2, 16 to 32 channels at 14x14 and
// batch 50: 0.92 ms against the direct kernels' 0.93, 0.84 against 0.78
// per image; mnist-cnn's, 32 to 64: 2.7 against 3.3).
const winoMinChannels = 32

// useWino reports whether a convolution of g in element type T runs as
// Winograd F(2x2,5x5) under the current setting: float32 only; ConvAuto
// where it was measured faster (the second convolutions of CifarNet and
// mnist-cnn and their input gradients: enough channels, a working set
// within L2).
func useWino[T Float](g ConvGeom) bool {
	if sizeOf[T]() != 4 || !winoGeom(g) {
		return false
	}
	switch CurrentConvAlgo() {
	case ConvDirect:
		return false
	case ConvWinograd:
		return true
	}
	return g.C >= winoMinChannels && g.F >= winoMinChannels && 4*37*winoSlot(g) <= winoL2
}

// winoTiles returns the tile grid of g: tiles across, down, in all, and
// the row length (floats) of a transformed channel, a multiple of 16.
func winoTiles(g ConvGeom) (tx, ty, t, tpad int) {
	tx, ty = (g.OW+1)/2, (g.OH+1)/2
	t = tx * ty
	return tx, ty, t, (t + 15) / 16 * 16
}

// winoSlot is the length (floats) of one of the 37 slots an image's
// transformed input (slots 1..36) and products (slots 0..35, each written
// over the input it no longer needs) take: max(C, F) rows, 16 floats of
// slack for the transforms' whole-vector stores past the last tile.
func winoSlot(g ConvGeom) int {
	_, _, _, tpad := winoTiles(g)
	return max(g.C, g.F)*tpad + 16
}

// wargs is the argument block of winoIn and winoOut; the layout is fixed
// (gen.go's offsets must match). Strides are in bytes.
//
// winoIn (one channel): src is the padded plane, dst the transformed
// channel's row in plane 0 (planes sx apart), tmp the six scratch rows;
// n tile rows, ld the padded row stride, sf the tile row step in dst
// (tiles across times 4), vecs the vectors per padded row, chunks the half
// vectors of tiles per tile row.
//
// winoOut (one chunk of 8 tiles of a tile row): src the products of
// plane 0 at the chunk (planes sx apart, channels sf), dst the output at
// the chunk's first pixel (channels df apart, rows ld), n channels, bias
// (or nil), relu, and the store masks of the two output rows (AVX-512: a
// bit mask in mask[0] and mask[8]; AVX2: lane masks, 8 int32 each, of row
// 0's first and second 8 pixels and row 1's).
type wargs struct {
	src, dst, tmp, bias unsafe.Pointer
	n                   int
	ld, sx, sf, df      int
	vecs, chunks        int
	relu                int
	mask                [32]int32
}

// winoPlan is a Winograd forward convolution ready to run image by image.
type winoPlan struct {
	g              ConvGeom
	pg             ConvGeom // g with the padding the tile grid reads
	mk             *micro
	path           Path
	tx, ty, t      int
	tpad, slot     int
	hpw, wpw       int
	panels         int
	u              []float32 // transformed weights [36][panels][C][mr]
	tab            []int32
	bias           []float32
	relu           bool
	xpLen, scratch int
}

// newWinoLayout returns the tile grid and buffers of g, without weights
// (inputs works; products and outputs need newWinoPlan's).
func newWinoLayout(g ConvGeom) *winoPlan {
	pl := &winoPlan{g: g, mk: microFor[float32](), path: Current()}
	pl.tx, pl.ty, pl.t, pl.tpad = winoTiles(g)
	pl.slot = winoSlot(g)
	pl.hpw, pl.wpw = 2*pl.ty+4, 2*pl.tx+4
	pl.pg = g
	pl.pg.PB = pl.hpw - g.H - g.PT
	pl.pg.PR = pl.wpw - g.W - g.PL
	pl.xpLen = g.C*pl.hpw*pl.wpw + 16
	pl.scratch = pl.xpLen + 6*winoTmpRow + 32 + 37*pl.slot + 16
	return pl
}

func newWinoPlan(g ConvGeom, w, bias []float32, relu bool) *winoPlan {
	pl := newWinoLayout(g)
	mk := pl.mk
	pl.bias, pl.relu = bias, relu
	pl.panels = (g.F + mk.mr - 1) / mk.mr
	pl.u = GetBuf[float32](36 * pl.panels * g.C * mk.mr)
	winoWeights(g, w, mk.mr, pl.panels, pl.u)
	pl.tab = getTab(2 * g.C)
	for c := range g.C {
		pl.tab[2*c] = int32(c * mk.mr * 4)
		pl.tab[2*c+1] = int32(c * pl.tpad * 4)
	}
	return pl
}

func (pl *winoPlan) free() {
	PutBuf(pl.u)
	putTab(pl.tab)
}

// winoWeights writes the transformed weights G w G^T of every (f, c) pair
// of w [F,C,5,5] into u, packed for kernA: [36][panels][C][mr], rows past F
// zero. They are computed in float64 and rounded once.
func winoWeights(g ConvGeom, w []float32, mr, panels int, u []float32) {
	c, plane := g.C, panels*g.C*mr
	u = u[:36*plane]
	ParallelFor(panels*mr, 1, func(lo, hi int) {
		for f := lo; f < hi; f++ {
			q, i := f/mr, f%mr
			for ch := 0; ch < c; ch++ {
				o := (q*c+ch)*mr + i
				if f >= g.F {
					for xi := range 36 {
						u[xi*plane+o] = 0
					}
					continue
				}
				k := (*[25]float32)(w[(f*c+ch)*25:])
				var t [6][5]float64 // G w, column by column
				for col := range 5 {
					t[0][col], t[1][col], t[2][col], t[3][col], t[4][col], t[5][col] =
						winoG1(float64(k[col]), float64(k[5+col]), float64(k[10+col]), float64(k[15+col]), float64(k[20+col]))
				}
				var out [36]float32
				for a := range 6 {
					r := &t[a]
					v0, v1, v2, v3, v4, v5 := winoG1(r[0], r[1], r[2], r[3], r[4])
					out[a*6], out[a*6+1], out[a*6+2] = float32(v0), float32(v1), float32(v2)
					out[a*6+3], out[a*6+4], out[a*6+5] = float32(v3), float32(v4), float32(v5)
				}
				for xi, v := range out {
					u[xi*plane+o] = v
				}
			}
		}
	})
}

// winoG1 is G g for the five values g0..g4 (G's rows share their sums;
// multiplications by the reciprocals, not divisions, which took most of
// the time).
func winoG1(g0, g1, g2, g3, g4 float64) (u0, u1, u2, u3, u4, u5 float64) {
	const sixth = 1.0 / 6
	se, so := g0+g2+g4, g1+g3
	a, b := g0*(1.0/24)+g2*sixth+g4*(2.0/3), g1*(1.0/12)+g3*(1.0/3)
	return g0 * 0.25, -(se + so) * sixth, -(se - so) * sixth, a + b, a - b, g4
}

// image computes the output yn [F,OH,OW] of image xn [C,H,W] with buf
// (scratch floats) as its working memory and p as the microkernels'
// argument block (a worker's: p would escape if made here).
func (pl *winoPlan) image(xn, buf []float32, p *kargs, yn []float32) {
	pl.inputs(xn, buf)
	pl.products(buf, p)
	pl.outputs(buf, yn)
}

// slots returns the 37 slots of the worker's buffer buf.
func (pl *winoPlan) slots(buf []float32) []float32 { return buf[pl.xpLen+6*winoTmpRow+32:] }

// inputs pads image xn and writes its transformed channels into slots
// 1..36 of buf, channel by channel (each channel's whole-vector stores
// past a tile row's last tile land on tiles it writes later, on the next
// channel's row, or on the slot's slack).
func (pl *winoPlan) inputs(xn, buf []float32) {
	xp := buf[:pl.xpLen]
	tmp := buf[pl.xpLen : pl.xpLen+6*winoTmpRow+32]
	slots := pl.slots(buf)
	padImage(pl.pg, xn, xp, 16)
	plane := pl.hpw * pl.wpw
	var wa wargs
	for c := range pl.g.C {
		pl.in(&wa, xp[c*plane:], slots[pl.slot+c*pl.tpad:], tmp)
	}
}

// products multiplies, for each tile position ξ, the transformed weights
// by the transformed input in slot ξ+1 into slot ξ (kernA, tiles of nr
// tiles by mr output channels).
func (pl *winoPlan) products(buf []float32, p *kargs) {
	g, mk, slots := pl.g, pl.mk, pl.slots(buf)
	nr := mk.nr()
	p.k, p.ldc, p.tab = g.C, pl.tpad*4, &pl.tab[0]
	for xi := range 36 {
		vb := slots[(xi+1)*pl.slot:]
		mb := slots[xi*pl.slot:]
		for c0 := 0; c0 < pl.t; c0 += nr {
			for j := 0; j < mk.nv; j++ {
				lanes := max(0, min(mk.vl, pl.t-c0-j*mk.vl))
				p.disp[j], p.coff[j] = 0, 0
				if lanes > 0 {
					p.disp[j], p.coff[j] = j*mk.vl*4, j*mk.vl*4
				}
				mk.setMask(p, j, lanes)
			}
			p.b = unsafe.Pointer(&vb[c0])
			for q := range pl.panels {
				p.a = unsafe.Pointer(&pl.u[((xi*pl.panels+q)*g.C)*mk.mr])
				p.c = unsafe.Pointer(&mb[q*mk.mr*pl.tpad+c0])
				p.rows = min(mk.mr, g.F-q*mk.mr)
				mk.forRows(p.rows).kernA(p)
			}
		}
	}
}

// outputs writes the output yn from the products in slots 0..35, by
// chunks of 8 tiles of a tile row.
func (pl *winoPlan) outputs(buf, yn []float32) {
	slots := pl.slots(buf)
	var wa wargs
	for ty := range pl.ty {
		for q := 0; q*8 < pl.tx; q++ {
			pl.out(&wa, slots[ty*pl.tx+8*q:], yn, ty, q)
		}
	}
}

// in runs the input transform of one padded channel plane xc into the
// transformed channel's row dst of plane 0.
func (pl *winoPlan) in(wa *wargs, xc, dst, tmp []float32) {
	if pl.path == Go {
		winoInGo(pl, xc, dst, tmp)
		return
	}
	vl := 16
	if pl.path == AVX2 {
		vl = 8
	}
	*wa = wargs{src: unsafe.Pointer(&xc[0]), dst: unsafe.Pointer(&dst[0]), tmp: unsafe.Pointer(&tmp[0]),
		n: pl.ty, ld: pl.wpw * 4, sx: pl.slot * 4, sf: pl.tx * 4,
		vecs: (pl.wpw + vl - 1) / vl, chunks: (pl.tx + vl/2 - 1) / (vl / 2)}
	if pl.path == AVX512 {
		winoIn512(wa)
	} else {
		winoIn256(wa)
	}
}

// out runs the output transform of chunk q (tiles 8q..8q+7) of tile row
// ty, src the products of plane 0 at the chunk's first tile.
func (pl *winoPlan) out(wa *wargs, src, yn []float32, ty, q int) {
	g := pl.g
	cols := min(16, g.OW-16*q)
	rows := min(2, g.OH-2*ty)
	dst := yn[2*ty*g.OW+16*q:]
	if pl.path == Go {
		winoOutGo(pl, src, dst, cols, rows)
		return
	}
	*wa = wargs{src: unsafe.Pointer(&src[0]), dst: unsafe.Pointer(&dst[0]),
		n: g.F, ld: g.OW * 4, sx: pl.slot * 4, sf: pl.tpad * 4, df: g.ohw() * 4}
	if pl.bias != nil {
		wa.bias = unsafe.Pointer(&pl.bias[0])
	}
	if pl.relu {
		wa.relu = 1
	}
	if pl.path == AVX512 {
		wa.mask[0] = int32(1<<cols - 1)
		if rows == 2 {
			wa.mask[8] = int32(1<<cols - 1)
		}
		winoOut512(wa)
		return
	}
	for r := range rows {
		for l := range 16 {
			if l < cols {
				wa.mask[16*r+l] = -1
			}
		}
	}
	winoOut256(wa)
}

// winoBT1 is B^T d for six values (see winoBT in gen.go).
func winoBT1(d [6]float32) [6]float32 {
	return [6]float32{
		4*d[0] - 5*d[2] + d[4],
		(d[4] - 4*d[2]) + (d[3] - 4*d[1]),
		(d[4] - 4*d[2]) - (d[3] - 4*d[1]),
		(d[4] - d[2]) + 2*(d[3]-d[1]),
		(d[4] - d[2]) - 2*(d[3]-d[1]),
		4*d[1] - 5*d[3] + d[5],
	}
}

// winoInGo is winoIn in Go: every tile of the padded plane xc through
// B^T d B into dst's planes.
func winoInGo(pl *winoPlan, xc, dst, _ []float32) {
	for ty := range pl.ty {
		for tx := range pl.tx {
			var col [6][6]float32 // B^T d: [k][column j]
			for j := range 6 {
				var d [6]float32
				for i := range 6 {
					d[i] = xc[(2*ty+i)*pl.wpw+2*tx+j]
				}
				v := winoBT1(d)
				for k := range 6 {
					col[k][j] = v[k]
				}
			}
			t := ty*pl.tx + tx
			for k := range 6 {
				v := winoBT1(col[k])
				for l := range 6 {
					dst[(k*6+l)*pl.slot+t] = v[l]
				}
			}
		}
	}
}

// winoOutGo is winoOut in Go: the tiles of one chunk through A^T m A into
// rows rows and cols columns of dst, every channel.
func winoOutGo(pl *winoPlan, src, dst []float32, cols, rows int) {
	g := pl.g
	at := func(m [6]float32) (float32, float32) {
		return m[0] + m[1] + m[2] + m[3] + m[4], (m[1] - m[2]) + 2*(m[3]-m[4]) + m[5]
	}
	for f := range g.F {
		for i := 0; 2*i < cols; i++ {
			var r0, r1 [6]float32 // A^T rows applied across each k
			for k := range 6 {
				var m [6]float32
				for l := range 6 {
					m[l] = src[(k*6+l)*pl.slot+f*pl.tpad+i]
				}
				r0[k], r1[k] = at(m)
			}
			var y [2][2]float32
			y[0][0], y[1][0] = at(r0)
			y[0][1], y[1][1] = at(r1)
			for a := range rows {
				for b := range min(2, cols-2*i) {
					v := y[a][b]
					if pl.bias != nil {
						v += pl.bias[f]
					}
					if pl.relu {
						v = relu(v)
					}
					dst[f*g.ohw()+a*g.OW+2*i+b] = v
				}
			}
		}
	}
}

// winoForward is convForward on the Winograd path: the images taken by
// the workers as they finish (every image's output is the same whichever
// worker computes it).
func winoForward[T Float](g ConvGeom, x, w, bias, y []T, relu bool, each func(n int, yn []T)) {
	var b32 []float32
	if bias != nil {
		b32 = any(bias).([]float32)
	}
	pl := newWinoPlan(g, any(w).([]float32), b32, relu)
	defer pl.free()
	x32, y32 := any(x).([]float32), any(y).([]float32)
	chw, fo := g.C*g.H*g.W, g.F*g.ohw()
	ParallelDynamic(g.N, func(next func() (int, bool)) {
		buf := GetBuf[float32](pl.scratch)
		defer PutBuf(buf)
		var p kargs
		var yb []float32
		var ybT []T
		if each != nil {
			yb = GetBuf[float32](fo)
			defer PutBuf(yb)
			ybT = any(yb).([]T)
		}
		for n, ok := next(); ok; n, ok = next() {
			if each == nil {
				pl.image(x32[n*chw:(n+1)*chw], buf, &p, y32[n*fo:(n+1)*fo])
				continue
			}
			pl.image(x32[n*chw:(n+1)*chw], buf, &p, yb)
			each(n, ybT)
		}
	})
}

// winoWgrad is the weight gradient of a Winograd convolution summed image
// by image (a wgradSum for byImages): with y = A^T [(G w G^T) ⊙ (B^T d B)] A
// per tile, dL/d(G w G^T) = Σ over images and tiles of (A dy A^T) ⊙
// (B^T d B), and dw = G^T (that sum) G. Per image the input transform
// writes B^T d B as the forward pass does ([36][C][tiles]), the output
// gradient, transposed to [pixels][fpad], goes through A dy A^T into
// [36][tiles][fpad] (winoDy), and kernB adds, for each ξ, the product
// [C x tiles] x [tiles x F] to the partial sum [36][C][fpad].
type winoWgrad struct {
	lay  *winoPlan // the tile grid and input transform (no weights)
	mk   *micro
	fpad int
	tab  []int32
	// dyT and ydy are the lengths of the transposed output gradient
	// [2*ty][2*tx][fpad] and of its transform (36 planes [tiles][fpad],
	// yplane apart, plus a tile of slack), both in the worker's second
	// buffer; the partial sums' planes [C][fpad] are splane apart. The
	// planes are 16 floats longer than their contents: 36 streams 16 KB
	// apart (CifarNet) would all fall in the same sets of L1 (measured:
	// the output-gradient transform took 43 µs per image instead of about 5)
	dyT, ydy       int
	yplane, splane int
}

func newWinoWgrad(g ConvGeom) *winoWgrad {
	mk := microFor[float32]()
	lay := newWinoLayout(g)
	vl := mk.vl
	ww := &winoWgrad{lay: lay, mk: mk, fpad: (g.F + vl - 1) / vl * vl}
	ww.dyT = 4 * lay.ty * lay.tx * ww.fpad
	ww.yplane, ww.splane = lay.t*ww.fpad+16, g.C*ww.fpad+16
	ww.ydy = 36*ww.yplane + mk.nr()
	ww.tab = getTab(2 * lay.t)
	for t := range lay.t {
		ww.tab[2*t] = int32(t * 4)
		ww.tab[2*t+1] = int32(t * ww.fpad * 4)
	}
	return ww
}

func (ww *winoWgrad) free() { putTab(ww.tab) }

// size is the length of a partial sum: 36 planes [C][fpad], splane apart.
func (ww *winoWgrad) size() int { return 36 * ww.splane }

// buffers returns the input transform's scratch and the output gradient's.
func (ww *winoWgrad) buffers() (xp, dyT []float32) {
	return GetBuf[float32](ww.lay.scratch), GetBuf[float32](ww.dyT + ww.ydy)
}

// add adds image xn's contribution for output gradient gyn to part.
func (ww *winoWgrad) add(xn, gyn, part, xp, dyb []float32) {
	lay, g, mk := ww.lay, ww.lay.g, ww.mk
	lay.inputs(xn, xp)
	slots := lay.slots(xp)
	// the output gradient transposed: pixel (oy, ox) of the 2ty x 2tx
	// grid at [oy][ox][fpad], zero outside OH x OW
	dyT, ydy := dyb[:ww.dyT], dyb[ww.dyT:]
	w2 := 2 * lay.tx
	for oy := range g.OH {
		transpose(g.F, g.OW, gyn[oy*g.OW:], g.ohw(), dyT[oy*w2*ww.fpad:], ww.fpad)
		clear(dyT[(oy*w2+g.OW)*ww.fpad : (oy+1)*w2*ww.fpad])
	}
	clear(dyT[g.OH*w2*ww.fpad:])
	var wa wargs
	for ty := range lay.ty {
		ww.dy(&wa, dyT[2*ty*w2*ww.fpad:], ydy[ty*lay.tx*ww.fpad:])
	}
	var p kargs
	p.k, p.ldc, p.tab, p.flags = lay.t, ww.fpad*4, &ww.tab[0], flagAcc
	nr := mk.nr()
	for xi := range 36 {
		vb := slots[(xi+1)*lay.slot:]
		yb := ydy[xi*ww.yplane:]
		for c0 := 0; c0 < g.C; c0 += mk.mr {
			p.rows = min(mk.mr, g.C-c0)
			for i := range mk.mr {
				p.disp[i] = min(i, p.rows-1) * lay.tpad * 4
			}
			p.a = unsafe.Pointer(&vb[c0*lay.tpad])
			for f0 := 0; f0 < g.F; f0 += nr {
				for j := 0; j < mk.nv; j++ {
					p.coff[j] = j * mk.vl * 4
					mk.setMask(&p, j, max(0, min(mk.vl, g.F-f0-j*mk.vl)))
				}
				p.b = unsafe.Pointer(&yb[f0])
				p.c = unsafe.Pointer(&part[xi*ww.splane+c0*ww.fpad+f0])
				mk.forRows(p.rows).kernB(&p)
			}
		}
	}
}

// dy transforms one tile row of the transposed output gradient dyT (at
// its first pixel row) into ydy (at the row's first tile, plane 0).
func (ww *winoWgrad) dy(wa *wargs, dyT, ydy []float32) {
	lay := ww.lay
	if lay.path == Go {
		winoDyGo(ww, dyT, ydy)
		return
	}
	*wa = wargs{src: unsafe.Pointer(&dyT[0]), dst: unsafe.Pointer(&ydy[0]), n: lay.tx,
		ld: 2 * lay.tx * ww.fpad * 4, sx: ww.yplane * 4, sf: ww.fpad * 4, vecs: ww.fpad / ww.mk.vl}
	if lay.path == AVX512 {
		winoDy512(wa)
	} else {
		winoDy256(wa)
	}
}

// winoDyGo is winoDy in Go: A dy A^T of every tile of one tile row, every
// output channel.
func winoDyGo(ww *winoWgrad, dyT, ydy []float32) {
	lay := ww.lay
	fp, w2 := ww.fpad, 2*lay.tx
	plane := ww.yplane
	a := func(y0, y1 float32) [6]float32 { return [6]float32{y0, y0 + y1, y0 - y1, y0 + 2*y1, y0 - 2*y1, y1} }
	for tx := range lay.tx {
		for f := range fp {
			p := 2*tx*fp + f
			h0 := a(dyT[p], dyT[p+fp])             // row 0 across
			h1 := a(dyT[p+w2*fp], dyT[p+w2*fp+fp]) // row 1 across
			for l := range 6 {
				v := a(h0[l], h1[l])
				for k := range 6 {
					ydy[(k*6+l)*plane+tx*fp+f] = v[k]
				}
			}
		}
	}
}

// store writes dw [F][C][5][5] = G^T S G from the sum S (36 planes
// [C][fpad]), in float64 per (f, c) pair.
func (ww *winoWgrad) store(sum, dw []float32) {
	g := ww.lay.g
	plane := ww.splane
	ParallelFor(g.F, 1, func(lo, hi int) {
		for f := lo; f < hi; f++ {
			for c := range g.C {
				o := c*ww.fpad + f
				var t [6][5]float64 // G^T applied down each column b
				for b := range 6 {
					t[b][0], t[b][1], t[b][2], t[b][3], t[b][4] = winoGT1(float64(sum[b*plane+o]), float64(sum[(6+b)*plane+o]),
						float64(sum[(12+b)*plane+o]), float64(sum[(18+b)*plane+o]), float64(sum[(24+b)*plane+o]), float64(sum[(30+b)*plane+o]))
				}
				k := (*[25]float32)(dw[(f*g.C+c)*25:])
				for r := range 5 {
					v0, v1, v2, v3, v4 := winoGT1(t[0][r], t[1][r], t[2][r], t[3][r], t[4][r], t[5][r])
					k[r*5], k[r*5+1], k[r*5+2], k[r*5+3], k[r*5+4] = float32(v0), float32(v1), float32(v2), float32(v3), float32(v4)
				}
			}
		}
	})
}

// winoGT1 is G^T m for six values m0..m5.
func winoGT1(m0, m1, m2, m3, m4, m5 float64) (r0, r1, r2, r3, r4 float64) {
	const sixth = 1.0 / 6
	s12, d12, s34, d34 := m1+m2, m1-m2, m3+m4, m3-m4
	return m0*0.25 - s12*sixth + s34*(1.0/24), -d12*sixth + d34*(1.0/12), (s34 - s12) * sixth,
		-d12*sixth + d34*(1.0/3), -s12*sixth + s34*(2.0/3) + m5
}
