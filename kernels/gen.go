//go:build ignore

// gen writes kernels_amd64.s, the assembly microkernels of the AVX-512 and
// AVX2 paths. Run it with `go generate ./kernels` after changing it.
//
// Every microkernel computes one register tile of C (MR rows by NV vectors
// of VL lanes) as a sum over k steps of outer products of a broadcast A
// column and a B row, and stores it through an epilogue (see kargs in
// micro.go for the argument block and the exact semantics). Two variants
// per instruction set differ only in how the rows of A and the vectors of
// B are addressed within a step:
//
//	kernA: A row i at a+tabA[t]+i*4 (a packed panel), B vector j at
//	       b+tabB[t]+disp[j] (any placement, e.g. rows of an image)
//	kernB: A row i at a+tabA[t]+disp[i] (any placement, e.g. the pixels a
//	       convolution window reads), B vector j at b+tabB[t]+j*VL*4
package main

import (
	"bytes"
	"fmt"
	"os"
)

// argument block offsets, matching kargs in micro.go
const (
	offA     = 0
	offB     = 8
	offC     = 16
	offTab   = 24
	offK     = 32
	offLdc   = 40
	offRows  = 48
	offFlags = 56
	offBias  = 64
	offDisp  = 72  // [8]int
	offCoff  = 136 // [8]int
	offMask  = 200 // [8]int
)

const (
	flagAcc      = 1
	flagRelu     = 2
	flagPrefetch = 4
)

type isa struct {
	name   string // suffix of the function names
	vreg   string // register prefix: Z or Y
	vl     int    // float32 lanes per vector
	mr, nv int
}

var (
	avx512 = isa{"512", "Z", 16, 6, 4}
	avx2   = isa{"256", "Y", 8, 6, 2}
	// narrow tiles for convolutions with few output channels (kernA only)
	avx512n = isa{"512n", "Z", 16, 3, 6}
	avx2n   = isa{"256n", "Y", 8, 3, 3}
	// tall tiles for forward convolutions whose channels and vectors
	// they fit better (kernA only)
	avx512t = isa{"512t", "Z", 16, 8, 3}
	// short tiles: the default tiles' vectors with fewer rows, for the
	// last rows of a panel (CifarNet's 64 channels: 10 tiles of 6 rows
	// and one of 4), reading A in the default tile's layout
	avx512s4 = isa{"512s4", "Z", 16, 4, 4}
	avx512s2 = isa{"512s2", "Z", 16, 2, 4}
	avx2s4   = isa{"256s4", "Y", 8, 4, 2}
	avx2s2   = isa{"256s2", "Y", 8, 2, 2}
)

type emitter struct{ bytes.Buffer }

func (e *emitter) f(format string, args ...any) { fmt.Fprintf(&e.Buffer, "\t"+format+"\n", args...) }
func (e *emitter) label(l string)               { fmt.Fprintf(&e.Buffer, "%s:\n", l) }

// acc is the accumulator register of row i, vector j.
func (s isa) acc(i, j int) string { return fmt.Sprintf("%s%d", s.vreg, i*s.nv+j) }

// breg is the register holding B vector j of the current step.
func (s isa) breg(j int) string { return fmt.Sprintf("%s%d", s.vreg, s.mr*s.nv+j) }

// bcast is one of the two registers the A broadcasts alternate between.
func (s isa) bcast(i int) string { return fmt.Sprintf("%s%d", s.vreg, s.mr*s.nv+s.nv+i%2) }

var aDispRegs = []string{"", "R9", "R10", "R11", "R12", "R13"}
var bDispRegs = []string{"", "R9", "R10", "R11", "R12", "R13"}

// kernel emits kernA (aDisp false) or kernB (aDisp true) for s.
func kernel(e *emitter, s isa, aDisp bool) {
	variant := "A"
	if aDisp {
		variant = "B"
	}
	name := "kern" + variant + s.name
	p := "kern" + variant + s.name + "_"
	fmt.Fprintf(&e.Buffer, "\n// func %s(p *kargs)\nTEXT ·%s(SB), NOSPLIT, $0-8\n", name, name)
	e.f("MOVQ p+0(FP), DI")
	e.f("MOVQ %d(DI), SI", offA)
	e.f("MOVQ %d(DI), R8", offB)
	e.f("MOVQ %d(DI), CX", offK)
	if aDisp {
		for i := 1; i < s.mr; i++ {
			e.f("MOVQ %d(DI), %s", offDisp+8*i, aDispRegs[i])
		}
	} else {
		for j := 1; j < s.nv; j++ {
			e.f("MOVQ %d(DI), %s", offDisp+8*j, bDispRegs[j])
		}
	}
	// flagPrefetch: the tile's lines of C (coff[j] = j*vl*4) are
	// requested now, so that the epilogue's stores do not wait for them
	e.f("TESTQ $%d, %d(DI)", flagPrefetch, offFlags)
	e.f("JZ %snopf", p)
	e.f("MOVQ %d(DI), AX", offC)
	e.f("MOVQ %d(DI), DX", offLdc)
	width := s.nv * s.vl * 4
	for i := 0; i < s.mr; i++ {
		for off := 0; off < width; off += 64 {
			e.f("PREFETCHT0 %d(AX)", off)
		}
		e.f("PREFETCHT0 %d(AX)", width-4) // the row's last line when C is not aligned
		if i < s.mr-1 {
			e.f("ADDQ DX, AX")
		}
	}
	e.label(p + "nopf")
	e.f("MOVQ %d(DI), DI", offTab)
	for i := 0; i < s.mr; i++ {
		for j := 0; j < s.nv; j++ {
			r := s.acc(i, j)
			e.f("VXORPS %s, %s, %s", r, r, r)
		}
	}
	e.f("TESTQ CX, CX")
	e.f("JLE %sstore", p)
	e.label(p + "loop")
	e.f("MOVLQSX (DI), AX")
	e.f("MOVLQSX 4(DI), DX")
	if aDisp {
		e.f("LEAQ (SI)(AX*1), BX")
		for j := 0; j < s.nv; j++ {
			e.f("VMOVUPS %d(R8)(DX*1), %s", j*s.vl*4, s.breg(j))
		}
	} else {
		e.f("LEAQ (R8)(DX*1), BX")
		for j := 0; j < s.nv; j++ {
			if j == 0 {
				e.f("VMOVUPS (BX), %s", s.breg(j))
			} else {
				e.f("VMOVUPS (BX)(%s*1), %s", bDispRegs[j], s.breg(j))
			}
		}
	}
	for i := 0; i < s.mr; i++ {
		b := s.bcast(i)
		switch {
		case !aDisp:
			e.f("VBROADCASTSS %d(SI)(AX*1), %s", 4*i, b)
		case i == 0:
			e.f("VBROADCASTSS (BX), %s", b)
		default:
			e.f("VBROADCASTSS (BX)(%s*1), %s", aDispRegs[i], b)
		}
		for j := 0; j < s.nv; j++ {
			e.f("VFMADD231PS %s, %s, %s", s.breg(j), b, s.acc(i, j))
		}
	}
	e.f("ADDQ $8, DI")
	e.f("DECQ CX")
	e.f("JNZ %sloop", p)
	epilogue(e, s, p)
}

// epilogue stores the tile: rows 0..rows-1, vectors whose lane count is
// not zero, C = [old C if flagAcc] + acc + [bias[i] if bias != nil], then
// tensor.Relu's float32 ReLU (sign bit set: all bits cleared) if flagRelu.
func epilogue(e *emitter, s isa, p string) {
	e.label(p + "store")
	e.f("MOVQ p+0(FP), DI")
	e.f("MOVQ %d(DI), SI", offC)
	e.f("MOVQ %d(DI), R8", offLdc)
	e.f("MOVQ %d(DI), R9", offRows)
	e.f("MOVQ %d(DI), R10", offFlags)
	e.f("MOVQ %d(DI), R11", offBias)
	t1, t2 := s.breg(0), s.breg(1) // free now: temporaries
	// ReLU as tensor.Relu computes it for float32: every bit of a value
	// whose sign bit is set is cleared (-0 and negative NaNs become +0)
	sign := s.bcast(0)
	relu := func(acc string) {
		e.f("VPSRAD $31, %s, %s", acc, sign)
		if s.vreg == "Z" {
			e.f("VPANDND %s, %s, %s", acc, sign, acc)
		} else {
			e.f("VPANDN %s, %s, %s", acc, sign, acc)
		}
	}
	for i := 0; i < s.mr; i++ {
		e.f("CMPQ R9, $%d", i)
		e.f("JLE %sdone", p)
		// bias
		e.f("TESTQ R11, R11")
		e.f("JZ %snobias%d", p, i)
		e.f("VBROADCASTSS %d(R11), %s", 4*i, t1)
		for j := 0; j < s.nv; j++ {
			e.f("VADDPS %s, %s, %s", t1, s.acc(i, j), s.acc(i, j))
		}
		e.label(fmt.Sprintf("%snobias%d", p, i))
		for j := 0; j < s.nv; j++ {
			q := fmt.Sprintf("%s%d_%d", p, i, j)
			acc := s.acc(i, j)
			e.f("MOVQ %d(DI), DX", offMask+8*j)
			e.f("TESTQ DX, DX")
			e.f("JZ %snext", q)
			e.f("MOVQ %d(DI), AX", offCoff+8*j)
			if s.vreg == "Z" {
				e.f("KMOVW DX, K1")
				e.f("TESTQ $%d, R10", flagAcc)
				e.f("JZ %snoacc", q)
				e.f("VMOVUPS.Z (SI)(AX*1), K1, %s", t2)
				e.f("VADDPS %s, %s, %s", t2, acc, acc)
				e.label(q + "noacc")
				e.f("TESTQ $%d, R10", flagRelu)
				e.f("JZ %snorelu", q)
				relu(acc)
				e.label(q + "norelu")
				e.f("VMOVUPS %s, K1, (SI)(AX*1)", acc)
			} else {
				// AVX2: DX is the lane count; full vectors use plain moves
				// (masked stores are slow on some CPUs)
				e.f("CMPQ DX, $%d", s.vl)
				e.f("JGE %sfull", q)
				e.f("VMOVQ DX, X%s", t1[1:])
				e.f("VPBROADCASTD X%s, %s", t1[1:], t1)
				e.f("VPCMPGTD ·iota8(SB), %s, %s", t1, t1)
				e.f("TESTQ $%d, R10", flagAcc)
				e.f("JZ %snoaccm", q)
				e.f("VMASKMOVPS (SI)(AX*1), %s, %s", t1, t2)
				e.f("VADDPS %s, %s, %s", t2, acc, acc)
				e.label(q + "noaccm")
				e.f("TESTQ $%d, R10", flagRelu)
				e.f("JZ %snorelum", q)
				relu(acc)
				e.label(q + "norelum")
				e.f("VMASKMOVPS %s, %s, (SI)(AX*1)", acc, t1)
				e.f("JMP %snext", q)
				e.label(q + "full")
				e.f("TESTQ $%d, R10", flagAcc)
				e.f("JZ %snoacc", q)
				e.f("VADDPS (SI)(AX*1), %s, %s", acc, acc)
				e.label(q + "noacc")
				e.f("TESTQ $%d, R10", flagRelu)
				e.f("JZ %snorelu", q)
				relu(acc)
				e.label(q + "norelu")
				e.f("VMOVUPS %s, (SI)(AX*1)", acc)
			}
			e.label(q + "next")
		}
		e.f("ADDQ R8, SI")
	}
	e.label(p + "done")
	e.f("VZEROUPPER")
	e.f("RET")
}

// peak emits the FMA throughput loop of the peak measurement: 12
// independent chains of vector FMAs.
func peak(e *emitter, s isa) {
	name := "fmaLoop" + s.name
	fmt.Fprintf(&e.Buffer, "\n// func %s(n int)\nTEXT ·%s(SB), NOSPLIT, $0-8\n", name, name)
	e.f("MOVQ n+0(FP), CX")
	for i := 0; i < 14; i++ {
		e.f("VXORPS %s%d, %s%d, %s%d", s.vreg, i, s.vreg, i, s.vreg, i)
	}
	e.label(name + "_loop")
	for i := 0; i < 12; i++ {
		e.f("VFMADD231PS %s12, %s13, %s%d", s.vreg, s.vreg, s.vreg, i)
	}
	e.f("DECQ CX")
	e.f("JNZ %s_loop", name)
	e.f("VZEROUPPER")
	e.f("RET")
}

// sumTaps emits sumTaps512, the gather half of the input gradient of a
// convolution with few input channels (see colsPlan in conv.go): up to 8
// vectors j, each the sum over the k taps t = 0..k-1 (in that order) of
// the 16 floats at a + tab[t] + disp[j] (tab: one int32 byte offset per
// tap; disp[0] = 0), stored to c + coff[j] with lane mask mask[j] (0:
// skipped). Every vector is computed, so every address must be readable.
func sumTaps(e *emitter) {
	const name = "sumTaps512"
	fmt.Fprintf(&e.Buffer, "\n// func %s(p *kargs)\nTEXT ·%s(SB), NOSPLIT, $0-8\n", name, name)
	regs := []string{"", "R9", "R10", "R11", "R12", "R13", "BX", "DX"}
	e.f("MOVQ p+0(FP), DI")
	e.f("MOVQ %d(DI), SI", offA)
	e.f("MOVQ %d(DI), CX", offK)
	for j := 1; j < 8; j++ {
		e.f("MOVQ %d(DI), %s", offDisp+8*j, regs[j])
	}
	e.f("MOVQ %d(DI), DI", offTab)
	for j := 0; j < 8; j++ {
		e.f("VPXORD Z%d, Z%d, Z%d", j, j, j)
	}
	e.f("TESTQ CX, CX")
	e.f("JLE %s_store", name)
	e.label(name + "_loop")
	e.f("MOVLQSX (DI), AX")
	e.f("LEAQ (SI)(AX*1), R8")
	for j := 0; j < 8; j++ {
		if j == 0 {
			e.f("VADDPS (R8), Z0, Z0")
		} else {
			e.f("VADDPS (R8)(%s*1), Z%d, Z%d", regs[j], j, j)
		}
	}
	e.f("ADDQ $4, DI")
	e.f("DECQ CX")
	e.f("JNZ %s_loop", name)
	e.label(name + "_store")
	e.f("MOVQ p+0(FP), DI")
	e.f("MOVQ %d(DI), SI", offC)
	for j := 0; j < 8; j++ {
		e.f("MOVQ %d(DI), DX", offMask+8*j)
		e.f("TESTQ DX, DX")
		e.f("JZ %s_skip%d", name, j)
		e.f("KMOVW DX, K1")
		e.f("MOVQ %d(DI), AX", offCoff+8*j)
		e.f("VMOVUPS Z%d, K1, (SI)(AX*1)", j)
		e.label(fmt.Sprintf("%s_skip%d", name, j))
	}
	e.f("VZEROUPPER")
	e.f("RET")
}

// kernDot emits kernD512, the weight-gradient kernel of convolutions with
// few input channels (see dotPlan in wgrad.go): a 5x5 tile of vector
// accumulators, lanes over output pixels,
//
//	acc[i][j] += V(a + tab[2t] + disp[i]) * V(b + tab[2t+1] + j*ldc)
//
// (disp[0] = 0; i: taps, rows of the padded image; j: output channels,
// rows of the output gradient ldc bytes apart), then C vector (i, j) at
// c + (5i+j)*64 += acc[i][j].
func kernDot(e *emitter) {
	const name = "kernD512"
	fmt.Fprintf(&e.Buffer, "\n// func %s(p *kargs)\nTEXT ·%s(SB), NOSPLIT, $0-8\n", name, name)
	aRegs := []string{"", "R9", "R10", "R11", "R12"}
	acc := func(i, j int) string { return fmt.Sprintf("Z%d", 5*i+j) }
	e.f("MOVQ p+0(FP), DI")
	e.f("MOVQ %d(DI), SI", offA)
	e.f("MOVQ %d(DI), R8", offB)
	e.f("MOVQ %d(DI), CX", offK)
	e.f("MOVQ %d(DI), R13", offLdc)
	for i := 1; i < 5; i++ {
		e.f("MOVQ %d(DI), %s", offDisp+8*i, aRegs[i])
	}
	e.f("MOVQ %d(DI), DI", offTab)
	for i := 0; i < 25; i++ {
		e.f("VPXORD Z%d, Z%d, Z%d", i, i, i)
	}
	e.f("TESTQ CX, CX")
	e.f("JLE %s_store", name)
	e.label(name + "_loop")
	e.f("MOVLQSX (DI), AX")
	e.f("MOVLQSX 4(DI), DX")
	e.f("LEAQ (SI)(AX*1), AX")
	e.f("LEAQ (R8)(DX*1), DX")
	e.f("LEAQ (DX)(R13*2), BX")
	e.f("VMOVUPS (DX), Z25")
	e.f("VMOVUPS (DX)(R13*1), Z26")
	e.f("VMOVUPS (DX)(R13*2), Z27")
	e.f("VMOVUPS (BX)(R13*1), Z28")
	e.f("VMOVUPS (DX)(R13*4), Z29")
	for i := 0; i < 5; i++ {
		a := fmt.Sprintf("Z%d", 30+i%2)
		if i == 0 {
			e.f("VMOVUPS (AX), %s", a)
		} else {
			e.f("VMOVUPS (AX)(%s*1), %s", aRegs[i], a)
		}
		for j := 0; j < 5; j++ {
			e.f("VFMADD231PS Z%d, %s, %s", 25+j, a, acc(i, j))
		}
	}
	e.f("ADDQ $8, DI")
	e.f("DECQ CX")
	e.f("JNZ %s_loop", name)
	e.label(name + "_store")
	e.f("MOVQ p+0(FP), DI")
	e.f("MOVQ %d(DI), SI", offC)
	for i := 0; i < 25; i++ {
		e.f("VADDPS %d(SI), Z%d, Z%d", 64*i, i, i)
		e.f("VMOVUPS Z%d, %d(SI)", i, 64*i)
	}
	e.f("VZEROUPPER")
	e.f("RET")
}

// clock emits clockLoop, the clock-rate measurement of the peak: n
// iterations of 100 dependent integer additions, one cycle each.
func clock(e *emitter) {
	e.WriteString("\n// func clockLoop(n int)\nTEXT ·clockLoop(SB), NOSPLIT, $0-8\n")
	e.f("MOVQ n+0(FP), CX")
	e.f("XORQ AX, AX")
	e.label("clockLoop_loop")
	for i := 0; i < 100; i++ {
		e.f("ADDQ $1, AX")
	}
	e.f("DECQ CX")
	e.f("JNZ clockLoop_loop")
	e.f("RET")
}

// transpose emits transposeBlock512 (16x16) or transposeBlock256 (8x8):
// the block of rows src, src+lds, ... is written transposed to dst,
// dst+ldd, ... (strides in bytes).
func transpose(e *emitter, s isa) {
	name := "transposeBlock" + s.name
	fmt.Fprintf(&e.Buffer, "\n// func %s(src unsafe.Pointer, lds int, dst unsafe.Pointer, ldd int)\nTEXT ·%s(SB), NOSPLIT, $0-32\n", name, name)
	e.f("MOVQ src+0(FP), SI")
	e.f("MOVQ lds+8(FP), AX")
	e.f("MOVQ dst+16(FP), DI")
	e.f("MOVQ ldd+24(FP), DX")
	n := s.vl
	r := func(i int) string { return fmt.Sprintf("%s%d", s.vreg, i) }
	// rows in registers 0..n-1
	for i := 0; i < n; i++ {
		e.f("VMOVUPS (SI), %s", r(i))
		if i < n-1 {
			e.f("ADDQ AX, SI")
		}
	}
	if n == 16 {
		t := func(i int) string { return r(16 + i) }
		for i := 0; i < 16; i += 2 {
			e.f("VUNPCKLPS %s, %s, %s", r(i+1), r(i), t(i))
			e.f("VUNPCKHPS %s, %s, %s", r(i+1), r(i), t(i+1))
		}
		for q := 0; q < 16; q += 4 {
			e.f("VUNPCKLPD %s, %s, %s", t(q+2), t(q), r(q))
			e.f("VUNPCKHPD %s, %s, %s", t(q+2), t(q), r(q+1))
			e.f("VUNPCKLPD %s, %s, %s", t(q+3), t(q+1), r(q+2))
			e.f("VUNPCKHPD %s, %s, %s", t(q+3), t(q+1), r(q+3))
		}
		for h := 0; h < 16; h += 8 {
			for i := 0; i < 4; i++ {
				e.f("VSHUFF32X4 $0x88, %s, %s, %s", r(h+i+4), r(h+i), t(h+i))
				e.f("VSHUFF32X4 $0xdd, %s, %s, %s", r(h+i+4), r(h+i), t(h+i+4))
			}
		}
		for i := 0; i < 8; i++ {
			e.f("VSHUFF32X4 $0x88, %s, %s, %s", t(i+8), t(i), r(i))
			e.f("VSHUFF32X4 $0xdd, %s, %s, %s", t(i+8), t(i), r(i+8))
		}
	} else {
		t := func(i int) string { return r(8 + i) }
		for i := 0; i < 8; i += 2 {
			e.f("VUNPCKLPS %s, %s, %s", r(i+1), r(i), t(i))
			e.f("VUNPCKHPS %s, %s, %s", r(i+1), r(i), t(i+1))
		}
		// tt into 0..7
		for q := 0; q < 8; q += 4 {
			e.f("VSHUFPS $0x44, %s, %s, %s", t(q+2), t(q), r(q))
			e.f("VSHUFPS $0xEE, %s, %s, %s", t(q+2), t(q), r(q+1))
			e.f("VSHUFPS $0x44, %s, %s, %s", t(q+3), t(q+1), r(q+2))
			e.f("VSHUFPS $0xEE, %s, %s, %s", t(q+3), t(q+1), r(q+3))
		}
		for i := 0; i < 4; i++ {
			e.f("VPERM2F128 $0x20, %s, %s, %s", r(i+4), r(i), t(i))
			e.f("VPERM2F128 $0x31, %s, %s, %s", r(i+4), r(i), t(i+4))
		}
		for i := 0; i < 8; i++ {
			e.f("VMOVAPS %s, %s", t(i), r(i))
		}
	}
	for i := 0; i < n; i++ {
		e.f("VMOVUPS %s, (DI)", r(i))
		if i < n-1 {
			e.f("ADDQ DX, DI")
		}
	}
	e.f("VZEROUPPER")
	e.f("RET")
}

// pool2x2 emits maxPool2x2Block512: 16 windows of a 2x2, stride-2 max-pool
// per iteration (see MaxPool2x2Row).
func pool2x2(e *emitter) {
	const name = "maxPool2x2Block512"
	fmt.Fprintf(&e.Buffer, "\n// func %s(r0, r1 unsafe.Pointer, blocks int, w int, base int32, idx *int32, val *float32) int\nTEXT ·%s(SB), NOSPLIT, $0-64\n", name, name)
	e.f("MOVQ r0+0(FP), SI")
	e.f("MOVQ r1+8(FP), DI")
	e.f("MOVQ blocks+16(FP), CX")
	e.f("MOVQ w+24(FP), AX")
	e.f("MOVL base+32(FP), DX")
	e.f("MOVQ idx+40(FP), R8")
	e.f("MOVQ val+48(FP), R9")
	e.f("VMOVDQU32 ·evenIdx(SB), Z30") // 0,2,...,30: lane permutation and index steps
	e.f("VMOVDQU32 ·oddIdx(SB), Z31")
	e.f("VPBROADCASTD DX, Z29") // window base index
	e.f("VPADDD Z30, Z29, Z29") // + 2j
	e.f("LEAQ 1(AX), R10")
	e.f("VPBROADCASTD R10, Z28") // offset of d: w+1
	e.f("VPBROADCASTD AX, Z27")  // offset of c: w
	e.f("MOVL $1, R10")
	e.f("VPBROADCASTD R10, Z26") // offset of b: 1
	e.f("MOVL $32, R10")
	e.f("VPBROADCASTD R10, Z25") // index step per block
	e.f("VPXORD Z24, Z24, Z24")  // offset of a: 0
	e.f("MOVQ CX, R11")          // blocks asked for
	e.f("TESTQ CX, CX")
	e.f("JLE %s_done", name)
	e.label(name + "_loop")
	e.f("VMOVUPS (SI), Z0")
	e.f("VMOVUPS 64(SI), Z1")
	e.f("VMOVUPS (DI), Z2")
	e.f("VMOVUPS 64(DI), Z3")
	e.f("VMOVAPS Z0, Z4")
	e.f("VPERMT2PS Z1, Z30, Z4") // a: row 0, even columns
	e.f("VMOVAPS Z0, Z5")
	e.f("VPERMT2PS Z1, Z31, Z5") // b: row 0, odd columns
	e.f("VMOVAPS Z2, Z6")
	e.f("VPERMT2PS Z3, Z30, Z6") // c
	e.f("VMOVAPS Z2, Z7")
	e.f("VPERMT2PS Z3, Z31, Z7") // d
	// a NaN anywhere: the caller's exact path
	e.f("VCMPPS $3, Z5, Z4, K1")
	e.f("VCMPPS $3, Z7, Z6, K2")
	e.f("KORTESTW K1, K2")
	e.f("JNZ %s_nan", name)
	e.f("VMAXPS Z5, Z4, Z8")
	e.f("VMAXPS Z7, Z6, Z9")
	e.f("VMAXPS Z9, Z8, Z8") // m
	// the first position holding m, in row-major order: d, then c, b, a
	e.f("VMOVDQA32 Z28, Z10")
	e.f("VMOVAPS Z7, Z11")
	e.f("VCMPPS $0, Z8, Z6, K3")
	e.f("VMOVDQA32 Z27, K3, Z10")
	e.f("VMOVAPS Z6, K3, Z11")
	e.f("VCMPPS $0, Z8, Z5, K4")
	e.f("VMOVDQA32 Z26, K4, Z10")
	e.f("VMOVAPS Z5, K4, Z11")
	e.f("VCMPPS $0, Z8, Z4, K5")
	e.f("VMOVDQA32 Z24, K5, Z10")
	e.f("VMOVAPS Z4, K5, Z11")
	e.f("VPADDD Z29, Z10, Z10")
	e.f("VMOVDQU32 Z10, (R8)")
	e.f("VMOVUPS Z11, (R9)")
	e.f("VPADDD Z25, Z29, Z29")
	e.f("ADDQ $128, SI")
	e.f("ADDQ $128, DI")
	e.f("ADDQ $64, R8")
	e.f("ADDQ $64, R9")
	e.f("DECQ CX")
	e.f("JNZ %s_loop", name)
	e.label(name + "_nan")
	e.label(name + "_done")
	e.f("SUBQ CX, R11") // blocks done: all, or those before the one with a NaN
	e.f("MOVQ R11, ret+56(FP)")
	e.f("VZEROUPPER")
	e.f("RET")
}

// adam emits adamBlock512 or adamBlock256: Adam's float32 update of n
// elements (a multiple of the vector width) with the arithmetic of
// optim.adamStep32, operation by operation (no fused multiply-adds), so the
// results are bit for bit those of the Go loop.
func adam(e *emitter, s isa) {
	name := "adamBlock" + s.name
	fmt.Fprintf(&e.Buffer, "\n// func %s(w, grad, m, v unsafe.Pointer, n int, c *AdamConsts)\nTEXT ·%s(SB), NOSPLIT, $0-48\n", name, name)
	e.f("MOVQ w+0(FP), DI")
	e.f("MOVQ grad+8(FP), SI")
	e.f("MOVQ m+16(FP), R8")
	e.f("MOVQ v+24(FP), R9")
	e.f("MOVQ n+32(FP), CX")
	e.f("MOVQ c+40(FP), AX")
	r := func(i int) string { return fmt.Sprintf("%s%d", s.vreg, i) }
	// constants: 8 b1, 9 1-b1, 10 b2, 11 1-b2, 12 eps, 13 step, 14 sqrt(bc2), 15 decay or wd
	for i := 0; i < 7; i++ {
		e.f("VBROADCASTSS %d(AX), %s", 4*i, r(8+i))
	}
	e.f("MOVL 36(AX), DX") // decoupled
	e.f("TESTL DX, DX")
	e.f("JZ %s_l2", name)
	e.f("VBROADCASTSS 28(AX), %s", r(15)) // 1 - lr*wd
	e.f("JMP %s_start", name)
	e.label(name + "_l2")
	e.f("VBROADCASTSS 32(AX), %s", r(15)) // wd
	e.label(name + "_start")
	step := s.vl * 4
	e.f("SHRQ $%d, CX", map[int]int{16: 4, 8: 3}[s.vl])
	e.f("TESTQ CX, CX")
	e.f("JLE %s_done", name)
	e.label(name + "_loop")
	e.f("VMOVUPS (SI), %s", r(0)) // g
	e.f("VMOVUPS (DI), %s", r(1)) // w
	e.f("TESTL DX, DX")
	e.f("JZ %s_coupled", name)
	e.f("VMULPS %s, %s, %s", r(15), r(1), r(1)) // w *= decay
	e.f("JMP %s_moments", name)
	e.label(name + "_coupled")
	e.f("VMULPS %s, %s, %s", r(1), r(15), r(2)) // wd*w
	e.f("VADDPS %s, %s, %s", r(2), r(0), r(0))  // g += wd*w
	e.label(name + "_moments")
	e.f("VMULPS (R8), %s, %s", r(8), r(2))      // b1*m
	e.f("VMULPS %s, %s, %s", r(0), r(9), r(3))  // (1-b1)*g
	e.f("VADDPS %s, %s, %s", r(3), r(2), r(2))  // m
	e.f("VMULPS %s, %s, %s", r(0), r(11), r(3)) // (1-b2)*g
	e.f("VMULPS %s, %s, %s", r(0), r(3), r(3))  // *g
	e.f("VMULPS (R9), %s, %s", r(10), r(4))     // b2*v
	e.f("VADDPS %s, %s, %s", r(3), r(4), r(4))  // v
	e.f("VMOVUPS %s, (R8)", r(2))
	e.f("VMOVUPS %s, (R9)", r(4))
	e.f("VSQRTPS %s, %s", r(4), r(5))
	e.f("VDIVPS %s, %s, %s", r(14), r(5), r(5)) // /sqrt(bc2)
	e.f("VADDPS %s, %s, %s", r(12), r(5), r(5)) // +eps
	e.f("VMULPS %s, %s, %s", r(2), r(13), r(6)) // step*m
	e.f("VDIVPS %s, %s, %s", r(5), r(6), r(6))  // /(...)
	e.f("VSUBPS %s, %s, %s", r(6), r(1), r(1))  // w - ...
	e.f("VMOVUPS %s, (DI)", r(1))
	for _, reg := range []string{"SI", "DI", "R8", "R9"} {
		e.f("ADDQ $%d, %s", step, reg)
	}
	e.f("DECQ CX")
	e.f("JNZ %s_loop", name)
	e.label(name + "_done")
	e.f("VZEROUPPER")
	e.f("RET")
}

// pool2x2Tail emits maxPool2x2Tail512: one block of n < 16 windows of a
// 2x2, stride-2 max-pool, loads and stores masked to them; it returns 1, or
// 0 without storing if a window holds a NaN.
func pool2x2Tail(e *emitter) {
	const name = "maxPool2x2Tail512"
	fmt.Fprintf(&e.Buffer, "\n// func %s(r0, r1 unsafe.Pointer, n int, w int, base int32, idx *int32, val *float32) int\nTEXT ·%s(SB), NOSPLIT, $0-64\n", name, name)
	e.f("MOVQ r0+0(FP), SI")
	e.f("MOVQ r1+8(FP), DI")
	e.f("MOVQ n+16(FP), CX")
	e.f("MOVQ w+24(FP), AX")
	e.f("MOVL base+32(FP), DX")
	e.f("MOVQ idx+40(FP), R8")
	e.f("MOVQ val+48(FP), R9")
	// masks: K7 the n windows, K6 and K5 the 2n input columns
	poolTailMasks(e, "R10")
	e.f("VMOVDQU32 ·evenIdx(SB), Z30")
	e.f("VMOVDQU32 ·oddIdx(SB), Z31")
	e.f("VPBROADCASTD DX, Z29")
	e.f("VPADDD Z30, Z29, Z29")
	e.f("LEAQ 1(AX), R10")
	e.f("VPBROADCASTD R10, Z28")
	e.f("VPBROADCASTD AX, Z27")
	e.f("MOVL $1, R10")
	e.f("VPBROADCASTD R10, Z26")
	e.f("VPXORD Z24, Z24, Z24")
	e.f("VMOVUPS.Z (SI), K6, Z0")
	e.f("VMOVUPS.Z 64(SI), K5, Z1")
	e.f("VMOVUPS.Z (DI), K6, Z2")
	e.f("VMOVUPS.Z 64(DI), K5, Z3")
	e.f("VMOVAPS Z0, Z4")
	e.f("VPERMT2PS Z1, Z30, Z4")
	e.f("VMOVAPS Z0, Z5")
	e.f("VPERMT2PS Z1, Z31, Z5")
	e.f("VMOVAPS Z2, Z6")
	e.f("VPERMT2PS Z3, Z30, Z6")
	e.f("VMOVAPS Z2, Z7")
	e.f("VPERMT2PS Z3, Z31, Z7")
	e.f("VCMPPS $3, Z5, Z4, K7, K1")
	e.f("VCMPPS $3, Z7, Z6, K7, K2")
	e.f("KORTESTW K1, K2")
	e.f("JNZ %s_nan", name)
	e.f("VMAXPS Z5, Z4, Z8")
	e.f("VMAXPS Z7, Z6, Z9")
	e.f("VMAXPS Z9, Z8, Z8")
	e.f("VMOVDQA32 Z28, Z10")
	e.f("VMOVAPS Z7, Z11")
	e.f("VCMPPS $0, Z8, Z6, K3")
	e.f("VMOVDQA32 Z27, K3, Z10")
	e.f("VMOVAPS Z6, K3, Z11")
	e.f("VCMPPS $0, Z8, Z5, K4")
	e.f("VMOVDQA32 Z26, K4, Z10")
	e.f("VMOVAPS Z5, K4, Z11")
	e.f("VCMPPS $0, Z8, Z4, K1")
	e.f("VMOVDQA32 Z24, K1, Z10")
	e.f("VMOVAPS Z4, K1, Z11")
	e.f("VPADDD Z29, Z10, Z10")
	e.f("VMOVDQU32 Z10, K7, (R8)")
	e.f("VMOVUPS Z11, K7, (R9)")
	e.f("MOVQ $1, ret+56(FP)")
	e.f("VZEROUPPER")
	e.f("RET")
	e.label(name + "_nan")
	e.f("MOVQ $0, ret+56(FP)")
	e.f("VZEROUPPER")
	e.f("RET")
}

// poolTailMasks emits the masks of a block of n < 16 2x2-pool windows, n
// in CX: K7 the n windows, K6 and K5 the 2n input columns (CX is doubled;
// tmp is clobbered).
func poolTailMasks(e *emitter, tmp string) {
	e.f("MOVQ $1, %s", tmp)
	e.f("SHLQ CX, %s", tmp)
	e.f("DECQ %s", tmp)
	e.f("KMOVW %s, K7", tmp)
	e.f("ADDQ CX, CX") // 2n
	e.f("MOVQ $1, %s", tmp)
	e.f("SHLQ CX, %s", tmp)
	e.f("DECQ %s", tmp)
	e.f("KMOVW %s, K6", tmp) // columns 0..15 (KMOVW keeps the low 16 bits)
	e.f("SHRQ $16, %s", tmp)
	e.f("KMOVW %s, K5", tmp)
}

// padRows256 writes padRows256, padRows512 for AVX2: vectors of 8 lanes,
// tail and gap lane counts (at most 8) instead of bit masks, the partial
// vectors moved by VMASKMOVPS.
func padRows256(e *emitter) {
	const name = "padRows256"
	fmt.Fprintf(&e.Buffer, "\n// func %s(src, dst unsafe.Pointer, rows, nvec, lds, ldd int, tail, gap uint16)\nTEXT ·%s(SB), NOSPLIT, $0-52\n", name, name)
	e.f("MOVQ src+0(FP), SI")
	e.f("MOVQ dst+8(FP), DI")
	e.f("MOVQ rows+16(FP), CX")
	e.f("MOVQ nvec+24(FP), DX")
	e.f("MOVQ lds+32(FP), R8")
	e.f("MOVQ ldd+40(FP), R9")
	// lane masks: lane i set where i < tail (Y2), i < gap (Y4)
	e.f("MOVWQZX tail+48(FP), AX")
	e.f("VMOVQ AX, X2")
	e.f("VPBROADCASTD X2, Y2")
	e.f("VPCMPGTD ·iota8(SB), Y2, Y2")
	e.f("MOVWQZX gap+50(FP), AX")
	e.f("VMOVQ AX, X4")
	e.f("VPBROADCASTD X4, Y4")
	e.f("VPCMPGTD ·iota8(SB), Y4, Y4")
	e.f("VXORPS Y1, Y1, Y1")
	e.f("TESTQ CX, CX")
	e.f("JLE %s_done", name)
	e.label(name + "_row")
	e.f("XORQ AX, AX")
	e.f("MOVQ DX, BX")
	e.f("TESTQ BX, BX")
	e.f("JZ %s_tail", name)
	e.label(name + "_vec")
	e.f("VMOVUPS (SI)(AX*1), Y0")
	e.f("VMOVUPS Y0, (DI)(AX*1)")
	e.f("ADDQ $32, AX")
	e.f("DECQ BX")
	e.f("JNZ %s_vec", name)
	e.label(name + "_tail")
	e.f("VMASKMOVPS (SI)(AX*1), Y2, Y0")
	e.f("VMASKMOVPS Y0, Y2, (DI)(AX*1)")
	e.f("DECQ CX")
	e.f("JZ %s_done", name)
	e.f("VMASKMOVPS Y1, Y4, (DI)(R8*1)")
	e.f("ADDQ R8, SI")
	e.f("ADDQ R9, DI")
	e.f("JMP %s_row", name)
	e.label(name + "_done")
	e.f("VZEROUPPER")
	e.f("RET")
}

// padRows writes padRows512: rows rows of a plane copied from src (rows
// lds bytes apart, nvec full vectors then the lanes of tail) to dst (rows
// ldd bytes apart), and after every row but the last the lanes of gap
// (the right padding and the next row's left padding) at the row's end
// zeroed.
func padRows(e *emitter) {
	const name = "padRows512"
	fmt.Fprintf(&e.Buffer, "\n// func %s(src, dst unsafe.Pointer, rows, nvec, lds, ldd int, tail, gap uint16)\nTEXT ·%s(SB), NOSPLIT, $0-52\n", name, name)
	e.f("MOVQ src+0(FP), SI")
	e.f("MOVQ dst+8(FP), DI")
	e.f("MOVQ rows+16(FP), CX")
	e.f("MOVQ nvec+24(FP), DX")
	e.f("MOVQ lds+32(FP), R8")
	e.f("MOVQ ldd+40(FP), R9")
	e.f("KMOVW tail+48(FP), K1")
	e.f("KMOVW gap+50(FP), K2")
	e.f("VPXORD Z1, Z1, Z1")
	e.f("TESTQ CX, CX")
	e.f("JLE %s_done", name)
	e.label(name + "_row")
	e.f("XORQ AX, AX")
	e.f("MOVQ DX, BX")
	e.f("TESTQ BX, BX")
	e.f("JZ %s_tail", name)
	e.label(name + "_vec")
	e.f("VMOVUPS (SI)(AX*1), Z0")
	e.f("VMOVUPS Z0, (DI)(AX*1)")
	e.f("ADDQ $64, AX")
	e.f("DECQ BX")
	e.f("JNZ %s_vec", name)
	e.label(name + "_tail")
	e.f("VMOVUPS.Z (SI)(AX*1), K1, Z0")
	e.f("VMOVUPS Z0, K1, (DI)(AX*1)")
	e.f("DECQ CX")
	e.f("JZ %s_done", name)
	e.f("VMOVUPS Z1, K2, (DI)(R8*1)")
	e.f("ADDQ R8, SI")
	e.f("ADDQ R9, DI")
	e.f("JMP %s_row", name)
	e.label(name + "_done")
	e.f("VZEROUPPER")
	e.f("RET")
}

// pool2x2Vals emits maxPool2x2Vals512: the values (no indices) of rows
// output rows of a 2x2 max-pool (see MaxPool2x2Values). Per block of 16
// windows the two input rows' even and odd columns are separated by
// permutes and each window keeps the first of its largest values in
// row-major order: VMAXPS returns its first source only when it is
// strictly greater, so max(b over a), max(d over c) and then the second
// row's over the first keep the earlier of equal values (-0 before +0).
// A row holding a NaN stops the kernel before that row is finished.
func pool2x2Vals(e *emitter) {
	const name = "maxPool2x2Vals512"
	fmt.Fprintf(&e.Buffer, "\n// func %s(src unsafe.Pointer, w, stride, ow, rows int, dst unsafe.Pointer) int\nTEXT ·%s(SB), NOSPLIT, $0-56\n", name, name)
	e.f("MOVQ src+0(FP), SI")
	e.f("MOVQ w+8(FP), AX")
	e.f("SHLQ $2, AX") // bytes from row 0 to row 1 of a window
	e.f("MOVQ stride+16(FP), BX")
	e.f("SHLQ $2, BX") // bytes between output rows' first input rows
	e.f("MOVQ ow+24(FP), DX")
	e.f("MOVQ rows+32(FP), CX")
	e.f("MOVQ dst+40(FP), DI")
	e.f("MOVQ CX, R11") // rows asked for
	// the tail of each row: n = ow mod 16 windows, masks K7 (windows), K6
	// and K5 (the 2n input columns)
	e.f("MOVQ DX, R10")
	e.f("ANDQ $15, R10")
	e.f("MOVQ R10, CX")
	poolTailMasks(e, "R12")
	e.f("MOVQ R11, CX")
	e.f("MOVQ DX, R13")
	e.f("SHRQ $4, R13") // full blocks per row
	e.f("VMOVDQU32 ·evenIdx(SB), Z30")
	e.f("VMOVDQU32 ·oddIdx(SB), Z31")
	e.f("TESTQ CX, CX")
	e.f("JLE %s_done", name)
	e.label(name + "_row")
	e.f("MOVQ SI, R8")         // row 0 of the windows
	e.f("LEAQ (SI)(AX*1), R9") // row 1
	e.f("MOVQ DI, R10")        // output
	e.f("MOVQ R13, R12")       // blocks left
	e.f("TESTQ R12, R12")
	e.f("JZ %s_tail", name)
	e.label(name + "_block")
	e.f("VMOVUPS (R8), Z0")
	e.f("VMOVUPS 64(R8), Z1")
	e.f("VMOVUPS (R9), Z2")
	e.f("VMOVUPS 64(R9), Z3")
	vals := func() {
		e.f("VMOVAPS Z0, Z4")
		e.f("VPERMT2PS Z1, Z30, Z4") // a
		e.f("VPERMT2PS Z1, Z31, Z0") // b
		e.f("VMOVAPS Z2, Z6")
		e.f("VPERMT2PS Z3, Z30, Z6") // c
		e.f("VPERMT2PS Z3, Z31, Z2") // d
	}
	vals()
	e.f("VCMPPS $3, Z0, Z4, K1")
	e.f("VCMPPS $3, Z2, Z6, K2")
	e.f("KORTESTW K1, K2")
	e.f("JNZ %s_nan", name)
	max3 := func() {
		e.f("VMAXPS Z4, Z0, Z8") // b if b > a, else a
		e.f("VMAXPS Z6, Z2, Z9") // d if d > c, else c
		e.f("VMAXPS Z8, Z9, Z8") // the second row's if greater
	}
	max3()
	e.f("VMOVUPS Z8, (R10)")
	e.f("ADDQ $128, R8")
	e.f("ADDQ $128, R9")
	e.f("ADDQ $64, R10")
	e.f("DECQ R12")
	e.f("JNZ %s_block", name)
	e.label(name + "_tail")
	e.f("KORTESTW K7, K7") // no tail
	e.f("JZ %s_next", name)
	e.f("VMOVUPS.Z (R8), K6, Z0")
	e.f("VMOVUPS.Z 64(R8), K5, Z1")
	e.f("VMOVUPS.Z (R9), K6, Z2")
	e.f("VMOVUPS.Z 64(R9), K5, Z3")
	vals()
	e.f("VCMPPS $3, Z0, Z4, K7, K1")
	e.f("VCMPPS $3, Z2, Z6, K7, K2")
	e.f("KORTESTW K1, K2")
	e.f("JNZ %s_nan", name)
	max3()
	e.f("VMOVUPS Z8, K7, (R10)")
	e.label(name + "_next")
	e.f("ADDQ BX, SI")
	e.f("LEAQ (DI)(DX*4), DI")
	e.f("DECQ CX")
	e.f("JNZ %s_row", name)
	e.label(name + "_nan")
	e.label(name + "_done")
	e.f("SUBQ CX, R11") // rows done: all, or those before the one with a NaN
	e.f("MOVQ R11, ret+48(FP)")
	e.f("VZEROUPPER")
	e.f("RET")
}

// pool2x2Rows emits maxPool2x2Rows512: rows output rows of a 2x2
// max-pool with indices (see MaxPool2x2Rows), each row in blocks of 16
// windows and a masked tail, with MaxPool2x2Row's arithmetic (the first
// maximum in row-major order, its value). A row holding a NaN stops the
// kernel before that row is finished; it returns the rows done.
func pool2x2Rows(e *emitter) {
	const name = "maxPool2x2Rows512"
	fmt.Fprintf(&e.Buffer, "\n// func %s(src unsafe.Pointer, w, stride, ow, rows int, base int32, idx *int32, val unsafe.Pointer) int\nTEXT ·%s(SB), NOSPLIT, $0-72\n", name, name)
	e.f("MOVQ src+0(FP), SI")
	e.f("MOVQ w+8(FP), AX")
	e.f("MOVQ stride+16(FP), BX")
	e.f("MOVQ ow+24(FP), DX")
	e.f("MOVQ rows+32(FP), CX")
	e.f("MOVL base+40(FP), R10")
	e.f("MOVQ idx+48(FP), DI")
	e.f("MOVQ val+56(FP), R9")
	e.f("MOVQ CX, R11") // rows asked for
	e.f("VMOVDQU32 ·evenIdx(SB), Z30")
	e.f("VMOVDQU32 ·oddIdx(SB), Z31")
	e.f("VPBROADCASTD R10, Z22") // index of each row's window j: base + 2j
	e.f("VPADDD Z30, Z22, Z22")
	e.f("VPBROADCASTD BX, Z23") // index step per row
	e.f("LEAQ 1(AX), R10")
	e.f("VPBROADCASTD R10, Z28") // offset of d: w+1
	e.f("VPBROADCASTD AX, Z27")  // offset of c: w
	e.f("MOVL $1, R10")
	e.f("VPBROADCASTD R10, Z26") // offset of b: 1
	e.f("MOVL $32, R10")
	e.f("VPBROADCASTD R10, Z25") // index step per block
	e.f("VPXORD Z24, Z24, Z24")  // offset of a: 0
	e.f("SHLQ $2, AX")           // bytes from row 0 to row 1 of a window
	e.f("SHLQ $2, BX")           // bytes between output rows' first input rows
	// the tail of each row: n = ow mod 16 windows, masks K7 (windows), K6
	// and K5 (the 2n input columns)
	e.f("MOVQ DX, CX")
	e.f("ANDQ $15, CX")
	poolTailMasks(e, "R12")
	e.f("MOVQ DX, R13")
	e.f("SHRQ $4, R13") // full blocks per row
	e.f("MOVQ R11, CX")
	e.f("TESTQ CX, CX")
	e.f("JLE %s_done", name)
	// one block: Z0..Z3 the two rows' 32 columns; K1 the windows (full or
	// K7); stores under K1
	block := func(masked bool) {
		e.f("VMOVAPS Z0, Z4")
		e.f("VPERMT2PS Z1, Z30, Z4") // a: row 0, even columns
		e.f("VMOVAPS Z0, Z5")
		e.f("VPERMT2PS Z1, Z31, Z5") // b: row 0, odd columns
		e.f("VMOVAPS Z2, Z6")
		e.f("VPERMT2PS Z3, Z30, Z6") // c
		e.f("VMOVAPS Z2, Z7")
		e.f("VPERMT2PS Z3, Z31, Z7") // d
		if masked {
			e.f("VCMPPS $3, Z5, Z4, K7, K1")
			e.f("VCMPPS $3, Z7, Z6, K7, K2")
		} else {
			e.f("VCMPPS $3, Z5, Z4, K1")
			e.f("VCMPPS $3, Z7, Z6, K2")
		}
		e.f("KORTESTW K1, K2")
		e.f("JNZ %s_nan", name)
		e.f("VMAXPS Z5, Z4, Z8")
		e.f("VMAXPS Z7, Z6, Z9")
		e.f("VMAXPS Z9, Z8, Z8") // m
		// the first position holding m, in row-major order: d, then c, b, a
		e.f("VMOVDQA32 Z28, Z10")
		e.f("VMOVAPS Z7, Z11")
		e.f("VCMPPS $0, Z8, Z6, K3")
		e.f("VMOVDQA32 Z27, K3, Z10")
		e.f("VMOVAPS Z6, K3, Z11")
		e.f("VCMPPS $0, Z8, Z5, K4")
		e.f("VMOVDQA32 Z26, K4, Z10")
		e.f("VMOVAPS Z5, K4, Z11")
		e.f("VCMPPS $0, Z8, Z4, K3")
		e.f("VMOVDQA32 Z24, K3, Z10")
		e.f("VMOVAPS Z4, K3, Z11")
		e.f("VPADDD Z29, Z10, Z10")
		if masked {
			e.f("VMOVDQU32 Z10, K7, (DI)(R10*1)")
			e.f("VMOVUPS Z11, K7, (R9)(R10*1)")
		} else {
			e.f("VMOVDQU32 Z10, (DI)(R10*1)")
			e.f("VMOVUPS Z11, (R9)(R10*1)")
		}
	}
	e.label(name + "_row")
	e.f("MOVQ SI, R8")        // the windows' row 0; row 1 is AX bytes on
	e.f("XORQ R10, R10")      // byte offset into the output row
	e.f("VMOVDQA32 Z22, Z29") // indices of the block's windows' first elements
	e.f("MOVQ R13, R12")      // blocks left
	e.f("TESTQ R12, R12")
	e.f("JZ %s_tail", name)
	e.label(name + "_block")
	e.f("VMOVUPS (R8), Z0")
	e.f("VMOVUPS 64(R8), Z1")
	e.f("VMOVUPS (R8)(AX*1), Z2")
	e.f("VMOVUPS 64(R8)(AX*1), Z3")
	block(false)
	e.f("VPADDD Z25, Z29, Z29")
	e.f("ADDQ $128, R8")
	e.f("ADDQ $64, R10")
	e.f("DECQ R12")
	e.f("JNZ %s_block", name)
	e.label(name + "_tail")
	e.f("KORTESTW K7, K7") // no tail
	e.f("JZ %s_next", name)
	e.f("VMOVUPS.Z (R8), K6, Z0")
	e.f("VMOVUPS.Z 64(R8), K5, Z1")
	e.f("VMOVUPS.Z (R8)(AX*1), K6, Z2")
	e.f("VMOVUPS.Z 64(R8)(AX*1), K5, Z3")
	block(true)
	e.label(name + "_next")
	e.f("ADDQ BX, SI")
	e.f("LEAQ (DI)(DX*4), DI")
	e.f("LEAQ (R9)(DX*4), R9")
	e.f("VPADDD Z23, Z22, Z22")
	e.f("DECQ CX")
	e.f("JNZ %s_row", name)
	e.label(name + "_nan")
	e.label(name + "_done")
	e.f("SUBQ CX, R11") // rows done: all, or those before the one with a NaN
	e.f("MOVQ R11, ret+64(FP)")
	e.f("VZEROUPPER")
	e.f("RET")
}

// poolGrad writes maxPoolGrad2x2Plane512: the gradient of one channel
// plane z [2ph][2pw] of a max-pool whose every window's maximum lies in
// the 2x2 block at (2i, 2j) of its output (i, j): each block gets gy,
// where the pooled value y is above 0 (plus 0, so -0 becomes +0 as in a
// sum), at the block position idx points to and zeros elsewhere, in blocks
// of 16 windows (the last masked). It returns 0 as soon as an index is
// not in its block (having written part of z), else 1 and the sum of the
// gradients written in *sum.
func poolGrad(e *emitter) {
	const name = "maxPoolGrad2x2Plane512"
	fmt.Fprintf(&e.Buffer, "\n// func %s(gy, y unsafe.Pointer, idx *int32, z unsafe.Pointer, base int32, ph, pw, ow int, sum *float32) int\nTEXT ·%s(SB), NOSPLIT, $0-80\n", name, name)
	e.f("MOVQ gy+0(FP), SI")
	e.f("MOVQ y+8(FP), DI")
	e.f("MOVQ idx+16(FP), R8")
	e.f("MOVQ z+24(FP), R9")
	e.f("MOVL base+32(FP), DX")
	e.f("MOVQ ph+40(FP), R10")
	e.f("MOVQ pw+48(FP), R11")
	e.f("MOVQ ow+56(FP), R12")
	// tail masks: K7 the t = pw%16 windows, K6 and K5 their 2t columns
	e.f("MOVQ R11, CX")
	e.f("ANDQ $15, CX")
	e.f("MOVQ $1, AX")
	e.f("SHLQ CX, AX")
	e.f("DECQ AX")
	e.f("KMOVW AX, K7")
	e.f("ADDQ CX, CX")
	e.f("MOVQ $1, AX")
	e.f("SHLQ CX, AX")
	e.f("DECQ AX")
	e.f("KMOVW AX, K6")
	e.f("SHRQ $16, AX")
	e.f("KMOVW AX, K5")
	e.f("VMOVDQU32 ·evenIdx(SB), Z31")
	e.f("VMOVDQU32 ·ilvLo(SB), Z30")
	e.f("VMOVDQU32 ·ilvHi(SB), Z29")
	e.f("VPBROADCASTD R12, Z28")
	e.f("LEAQ 1(R12), AX")
	e.f("VPBROADCASTD AX, Z27")
	e.f("MOVL $1, AX")
	e.f("VPBROADCASTD AX, Z26")
	e.f("VPXORD Z25, Z25, Z25")
	e.f("VPXORD Z24, Z24, Z24")
	e.f("MOVQ R12, R13")
	e.f("SHLQ $2, R13") // bytes per row of z
	e.label(name + "_row")
	e.f("TESTQ R10, R10")
	e.f("JZ %s_done", name)
	e.f("MOVQ R11, CX")
	e.f("SHRQ $4, CX")
	e.f("MOVL DX, AX")
	e.f("MOVQ R9, BX")
	e.label(name + "_blk")
	e.f("TESTQ CX, CX")
	e.f("JZ %s_tail", name)
	e.f("VMOVUPS (SI), Z0")
	e.f("VMOVUPS (DI), Z1")
	e.f("VMOVDQU32 (R8), Z2")
	poolGradBlock(e)
	e.f("KORTESTW K0, K0")
	e.f("JCC %s_fail", name) // not every index in its block
	e.f("VMOVUPS Z9, (BX)")
	e.f("VMOVUPS Z10, 64(BX)")
	e.f("VMOVUPS Z11, (BX)(R13*1)")
	e.f("VMOVUPS Z12, 64(BX)(R13*1)")
	e.f("ADDQ $64, SI")
	e.f("ADDQ $64, DI")
	e.f("ADDQ $64, R8")
	e.f("ADDQ $128, BX")
	e.f("ADDL $32, AX")
	e.f("DECQ CX")
	e.f("JMP %s_blk", name)
	e.label(name + "_tail")
	e.f("KORTESTW K7, K7")
	e.f("JZ %s_next", name)
	e.f("VMOVUPS.Z (SI), K7, Z0")
	e.f("VMOVUPS.Z (DI), K7, Z1")
	e.f("VMOVDQU32.Z (R8), K7, Z2")
	poolGradBlock(e)
	e.f("KANDNW K7, K0, K0") // lanes of the tail whose index is not in its block
	e.f("KORTESTW K0, K0")
	e.f("JNZ %s_fail", name)
	e.f("VMOVUPS Z9, K6, (BX)")
	e.f("VMOVUPS Z10, K5, 64(BX)")
	e.f("VMOVUPS Z11, K6, (BX)(R13*1)")
	e.f("VMOVUPS Z12, K5, 64(BX)(R13*1)")
	e.f("MOVQ R11, CX")
	e.f("ANDQ $15, CX")
	e.f("SHLQ $2, CX")
	e.f("ADDQ CX, SI")
	e.f("ADDQ CX, DI")
	e.f("ADDQ CX, R8")
	poolGradEnd(e, name, func() {
		e.f("VEXTRACTF32X8 $1, Z24, Y0")
		e.f("VADDPS Y0, Y24, Y0")
		e.f("VEXTRACTF128 $1, Y0, X1")
		e.f("VADDPS X1, X0, X0")
	})
}

// poolGradEnd emits the end of maxPoolGrad2x2Plane512 and 256 from their
// label _next: the step to the next block row, then at _done the lane sum
// of the gradients (sum4 reduces the accumulator to 4 lanes in X0) stored
// to sum, and the returns (1, or 0 from _fail).
func poolGradEnd(e *emitter, name string, sum4 func()) {
	e.label(name + "_next")
	e.f("ADDQ R13, R9")
	e.f("ADDQ R13, R9")
	e.f("ADDL R12, DX")
	e.f("ADDL R12, DX")
	e.f("DECQ R10")
	e.f("JMP %s_row", name)
	e.label(name + "_done")
	sum4()
	e.f("VMOVHLPS X0, X0, X1")
	e.f("VADDPS X1, X0, X0")
	e.f("VPSHUFD $1, X0, X1")
	e.f("VADDSS X1, X0, X0")
	e.f("MOVQ sum+64(FP), AX")
	e.f("VMOVSS X0, (AX)")
	e.f("MOVQ $1, ret+72(FP)")
	e.f("VZEROUPPER")
	e.f("RET")
	e.label(name + "_fail")
	e.f("MOVQ $0, ret+72(FP)")
	e.f("VZEROUPPER")
	e.f("RET")
}

// poolGrad256 writes maxPoolGrad2x2Plane256, maxPoolGrad2x2Plane512 for
// AVX2: blocks of 8 windows, lane masks in vectors (the tail's loads and
// stores by VMASKMOVPS), the interleaving of each block row by unpacks
// and 128-bit permutes, the sum in 8 lanes.
func poolGrad256(e *emitter) {
	const name = "maxPoolGrad2x2Plane256"
	fmt.Fprintf(&e.Buffer, "\n// func %s(gy, y unsafe.Pointer, idx *int32, z unsafe.Pointer, base int32, ph, pw, ow int, sum *float32) int\nTEXT ·%s(SB), NOSPLIT, $0-80\n", name, name)
	e.f("MOVQ gy+0(FP), SI")
	e.f("MOVQ y+8(FP), DI")
	e.f("MOVQ idx+16(FP), R8")
	e.f("MOVQ z+24(FP), R9")
	e.f("MOVL base+32(FP), DX")
	e.f("MOVQ ph+40(FP), R10")
	e.f("MOVQ pw+48(FP), R11")
	e.f("MOVQ ow+56(FP), R12")
	bcast := func(gpr, y string) {
		e.f("VMOVD %s, X%s", gpr, y[1:])
		e.f("VPBROADCASTD X%s, %s", y[1:], y)
	}
	// tail masks: Y9 the t = pw%8 windows, Y8 and Y7 their 2t columns
	e.f("MOVQ R11, CX")
	e.f("ANDQ $7, CX")
	bcast("CX", "Y9")
	e.f("VPCMPGTD ·iota8(SB), Y9, Y9")
	e.f("ADDQ CX, CX")
	bcast("CX", "Y8")
	e.f("VPCMPGTD ·iota8(SB), Y8, Y8")
	e.f("SUBQ $8, CX")
	bcast("CX", "Y7")
	e.f("VPCMPGTD ·iota8(SB), Y7, Y7")
	e.f("VMOVDQU ·evenIdx(SB), Y13") // 0, 2, ..., 14
	bcast("R12", "Y12")
	e.f("LEAQ 1(R12), AX")
	bcast("AX", "Y11")
	e.f("MOVL $1, AX")
	bcast("AX", "Y10")
	e.f("VPXOR Y15, Y15, Y15")
	e.f("VPXOR Y14, Y14, Y14")
	e.f("MOVQ R12, R13")
	e.f("SHLQ $2, R13") // bytes per row of z
	e.label(name + "_row")
	e.f("TESTQ R10, R10")
	e.f("JZ %s_done", name)
	e.f("MOVQ R11, CX")
	e.f("SHRQ $3, CX")
	e.f("MOVL DX, AX")
	e.f("MOVQ R9, BX")
	e.label(name + "_blk")
	e.f("TESTQ CX, CX")
	e.f("JZ %s_tail", name)
	e.f("VMOVUPS (SI), Y0")
	e.f("VMOVUPS (DI), Y1")
	e.f("VMOVDQU (R8), Y2")
	e.f("VPCMPEQD Y4, Y4, Y4") // every window must have its index in its block
	poolGradBlock256(e)
	e.f("JCC %s_fail", name)
	e.f("VMOVUPS Y5, (BX)")
	e.f("VMOVUPS Y6, 32(BX)")
	e.f("VMOVUPS Y0, (BX)(R13*1)")
	e.f("VMOVUPS Y1, 32(BX)(R13*1)")
	e.f("ADDQ $32, SI")
	e.f("ADDQ $32, DI")
	e.f("ADDQ $32, R8")
	e.f("ADDQ $64, BX")
	e.f("ADDL $16, AX")
	e.f("DECQ CX")
	e.f("JMP %s_blk", name)
	e.label(name + "_tail")
	e.f("MOVQ R11, CX")
	e.f("ANDQ $7, CX")
	e.f("JZ %s_next", name)
	e.f("VMASKMOVPS (SI), Y9, Y0")
	e.f("VMASKMOVPS (DI), Y9, Y1")
	e.f("VPMASKMOVD (R8), Y9, Y2")
	e.f("VMOVDQU Y9, Y4") // the tail's windows must
	poolGradBlock256(e)
	e.f("JCC %s_fail", name)
	e.f("VMASKMOVPS Y5, Y8, (BX)")
	e.f("VMASKMOVPS Y6, Y7, 32(BX)")
	e.f("VMASKMOVPS Y0, Y8, (BX)(R13*1)")
	e.f("VMASKMOVPS Y1, Y7, 32(BX)(R13*1)")
	e.f("SHLQ $2, CX")
	e.f("ADDQ CX, SI")
	e.f("ADDQ CX, DI")
	e.f("ADDQ CX, R8")
	poolGradEnd(e, name, func() {
		e.f("VEXTRACTF128 $1, Y14, X0")
		e.f("VADDPS X0, X14, X0")
	})
}

// poolGradBlock256 emits the body of maxPoolGrad2x2Plane256 for 8
// windows: gy in Y0, y in Y1, idx in Y2, the windows that must have their
// index in their block in Y4 (lane masks), the first window's block origin
// (index of z) in AX; it leaves the two rows of the blocks in Y5, Y6 (top)
// and Y0, Y1 (bottom), adds the gradients to Y14 and sets the carry flag
// if every window of Y4 has its index in its block.
func poolGradBlock256(e *emitter) {
	e.f("VCMPPS $0x1e, Y15, Y1, Y1") // y > 0 (not NaN)
	e.f("VANDPS Y1, Y0, Y3")
	e.f("VADDPS Y15, Y3, Y3")
	e.f("VADDPS Y3, Y14, Y14")
	e.f("VMOVD AX, X5")
	e.f("VPBROADCASTD X5, Y5")
	e.f("VPADDD Y13, Y5, Y5")
	e.f("VPSUBD Y5, Y2, Y2") // offset of the maximum in its block
	e.f("VPCMPEQD Y15, Y2, Y5")
	e.f("VPCMPEQD Y10, Y2, Y6")
	e.f("VPCMPEQD Y12, Y2, Y0")
	e.f("VPCMPEQD Y11, Y2, Y1")
	e.f("VPOR Y5, Y6, Y2")
	e.f("VPOR Y0, Y2, Y2")
	e.f("VPOR Y1, Y2, Y2")
	e.f("VANDPS Y3, Y5, Y5")
	e.f("VANDPS Y3, Y6, Y6")
	e.f("VANDPS Y3, Y0, Y0")
	e.f("VANDPS Y3, Y1, Y1")
	e.f("VUNPCKLPS Y6, Y5, Y3")
	e.f("VUNPCKHPS Y6, Y5, Y6")
	e.f("VPERM2F128 $0x20, Y6, Y3, Y5")
	e.f("VPERM2F128 $0x31, Y6, Y3, Y6")
	e.f("VUNPCKLPS Y1, Y0, Y3")
	e.f("VUNPCKHPS Y1, Y0, Y1")
	e.f("VPERM2F128 $0x20, Y1, Y3, Y0")
	e.f("VPERM2F128 $0x31, Y1, Y3, Y1")
	e.f("VPTEST Y4, Y2") // carry: no window of Y4 outside its block
}

// poolGradBlock emits the body of maxPoolGrad2x2Plane512 for 16 windows:
// gy in Z0, y in Z1, idx in Z2, the first window's block origin (index of
// z) in AX; it leaves the two rows of the blocks in Z9, Z10 (top) and
// Z11, Z12 (bottom), adds the gradients to Z24 and sets K0 to the windows
// whose index is in their block.
func poolGradBlock(e *emitter) {
	e.f("VCMPPS $0x1e, Z25, Z1, K1") // y > 0 (not NaN)
	e.f("VMOVAPS.Z Z0, K1, Z3")
	e.f("VADDPS Z25, Z3, Z3")
	e.f("VADDPS Z3, Z24, Z24")
	e.f("VPBROADCASTD AX, Z4")
	e.f("VPADDD Z31, Z4, Z4")
	e.f("VPSUBD Z4, Z2, Z4") // offset of the maximum in its block
	e.f("VPCMPEQD Z25, Z4, K2")
	e.f("VPCMPEQD Z26, Z4, K3")
	e.f("VPCMPEQD Z28, Z4, K4")
	e.f("VPCMPEQD Z27, Z4, K1")
	e.f("KORW K3, K2, K0")
	e.f("KORW K4, K0, K0")
	e.f("KORW K1, K0, K0")
	e.f("VMOVAPS.Z Z3, K2, Z5")
	e.f("VMOVAPS.Z Z3, K3, Z6")
	e.f("VMOVAPS.Z Z3, K4, Z7")
	e.f("VMOVAPS.Z Z3, K1, Z8")
	e.f("VMOVAPS Z5, Z9")
	e.f("VPERMT2PS Z6, Z30, Z9")
	e.f("VMOVAPS Z5, Z10")
	e.f("VPERMT2PS Z6, Z29, Z10")
	e.f("VMOVAPS Z7, Z11")
	e.f("VPERMT2PS Z8, Z30, Z11")
	e.f("VMOVAPS Z7, Z12")
	e.f("VPERMT2PS Z8, Z29, Z12")
}

// binOps emits binAdd512, binSub512, binMul512 and binDiv512: out[i] =
// a[i*sa] op b[i*sb] for n elements (a multiple of 16), sa and sb each 1
// (a vector) or 0 (a scalar, broadcast; not both). One correctly rounded
// instruction per element, as the Go loop computes it, so the bits are
// the same.
func binOps(e *emitter) {
	for _, op := range []struct{ name, ins string }{{"Add", "VADDPS"}, {"Sub", "VSUBPS"}, {"Mul", "VMULPS"}, {"Div", "VDIVPS"}} {
		name := "bin" + op.name + "512"
		fmt.Fprintf(&e.Buffer, "\n// func %s(a, b, out unsafe.Pointer, n, sa, sb int)\nTEXT ·%s(SB), NOSPLIT, $0-48\n", name, name)
		e.f("MOVQ a+0(FP), SI")
		e.f("MOVQ b+8(FP), DX")
		e.f("MOVQ out+16(FP), DI")
		e.f("MOVQ n+24(FP), CX")
		e.f("SHRQ $4, CX")
		e.f("JZ %s_done", name)
		e.f("XORQ AX, AX")
		e.f("MOVQ sa+32(FP), R8")
		e.f("MOVQ sb+40(FP), R9")
		e.f("TESTQ R8, R8")
		e.f("JZ %s_sv", name)
		e.f("TESTQ R9, R9")
		e.f("JZ %s_vs", name)
		// both vectors
		e.label(name + "_vv")
		e.f("VMOVUPS (SI)(AX*1), Z0")
		e.f("%s (DX)(AX*1), Z0, Z0", op.ins)
		e.f("VMOVUPS Z0, (DI)(AX*1)")
		e.f("ADDQ $64, AX")
		e.f("DECQ CX")
		e.f("JNZ %s_vv", name)
		e.f("JMP %s_done", name)
		// b a scalar
		e.label(name + "_vs")
		e.f("VBROADCASTSS (DX), Z1")
		e.label(name + "_vsloop")
		e.f("VMOVUPS (SI)(AX*1), Z0")
		e.f("%s Z1, Z0, Z0", op.ins)
		e.f("VMOVUPS Z0, (DI)(AX*1)")
		e.f("ADDQ $64, AX")
		e.f("DECQ CX")
		e.f("JNZ %s_vsloop", name)
		e.f("JMP %s_done", name)
		// a a scalar
		e.label(name + "_sv")
		e.f("VBROADCASTSS (SI), Z1")
		e.label(name + "_svloop")
		e.f("VMOVUPS (DX)(AX*1), Z0")
		e.f("%s Z0, Z1, Z0", op.ins)
		e.f("VMOVUPS Z0, (DI)(AX*1)")
		e.f("ADDQ $64, AX")
		e.f("DECQ CX")
		e.f("JNZ %s_svloop", name)
		e.label(name + "_done")
		e.f("VZEROUPPER")
		e.f("RET")
	}
}

// reluOps emits the elementwise ReLU passes of ReluGrad32 and AddRelu32
// for n elements (a multiple of 16 for AVX-512, of 8 for AVX2):
// reluGrad512/256 set out[i] = gy[i] where y[i] > 0 as an int32 (sign bit
// clear, not all bits zero; a positive NaN counts as positive, as
// tensor.ReluGrad's Go loop has it) and +0 elsewhere; addRelu512/256 set
// out[i] = a[i] + b[i] with every bit cleared where the sum's sign bit is
// set (tensor.Relu's float32 ReLU).
func reluOps(e *emitter) {
	for _, s := range []struct {
		suffix, reg string
		bytes       int
	}{{"512", "Z", 64}, {"256", "Y", 32}} {
		r := func(i int) string { return fmt.Sprintf("%s%d", s.reg, i) }
		name := "reluGrad" + s.suffix
		fmt.Fprintf(&e.Buffer, "\n// func %s(gy, y, out unsafe.Pointer, n int)\nTEXT ·%s(SB), NOSPLIT, $0-32\n", name, name)
		e.f("MOVQ gy+0(FP), SI")
		e.f("MOVQ y+8(FP), DX")
		e.f("MOVQ out+16(FP), DI")
		e.f("MOVQ n+24(FP), CX")
		e.f("SHRQ $%d, CX", map[int]int{64: 4, 32: 3}[s.bytes])
		e.f("JZ %s_done", name)
		e.f("XORQ AX, AX")
		if s.reg == "Z" {
			e.f("VPXORD Z0, Z0, Z0")
		} else {
			e.f("VPXOR Y0, Y0, Y0")
		}
		e.label(name + "_loop")
		e.f("VMOVUPS (DX)(AX*1), %s", r(1))
		if s.reg == "Z" {
			e.f("VPCMPGTD %s, %s, K1", r(0), r(1)) // K1 = y > 0
			e.f("VMOVUPS.Z (SI)(AX*1), K1, %s", r(2))
		} else {
			e.f("VPCMPGTD %s, %s, %s", r(0), r(1), r(1)) // Y1 = y > 0 ? all ones : 0
			e.f("VPAND (SI)(AX*1), %s, %s", r(1), r(2))
		}
		e.f("VMOVUPS %s, (DI)(AX*1)", r(2))
		e.f("ADDQ $%d, AX", s.bytes)
		e.f("DECQ CX")
		e.f("JNZ %s_loop", name)
		e.label(name + "_done")
		e.f("VZEROUPPER")
		e.f("RET")

		name = "addRelu" + s.suffix
		fmt.Fprintf(&e.Buffer, "\n// func %s(a, b, out unsafe.Pointer, n int)\nTEXT ·%s(SB), NOSPLIT, $0-32\n", name, name)
		e.f("MOVQ a+0(FP), SI")
		e.f("MOVQ b+8(FP), DX")
		e.f("MOVQ out+16(FP), DI")
		e.f("MOVQ n+24(FP), CX")
		e.f("SHRQ $%d, CX", map[int]int{64: 4, 32: 3}[s.bytes])
		e.f("JZ %s_done", name)
		e.f("XORQ AX, AX")
		e.label(name + "_loop")
		e.f("VMOVUPS (SI)(AX*1), %s", r(0))
		e.f("VADDPS (DX)(AX*1), %s, %s", r(0), r(0))
		e.f("VPSRAD $31, %s, %s", r(0), r(1))
		if s.reg == "Z" {
			e.f("VPANDND %s, %s, %s", r(0), r(1), r(0))
		} else {
			e.f("VPANDN %s, %s, %s", r(0), r(1), r(0))
		}
		e.f("VMOVUPS %s, (DI)(AX*1)", r(0))
		e.f("ADDQ $%d, AX", s.bytes)
		e.f("DECQ CX")
		e.f("JNZ %s_loop", name)
		e.label(name + "_done")
		e.f("VZEROUPPER")
		e.f("RET")
	}
}

func main() {
	var e emitter
	e.WriteString("// Code generated by gen.go; DO NOT EDIT.\n\n//go:build amd64 && !purego\n\n#include \"textflag.h\"\n\n")
	e.WriteString("// iota8 is 0..7 as int32, for AVX2 lane masks.\n")
	for i := 0; i < 8; i++ {
		fmt.Fprintf(&e.Buffer, "DATA ·iota8+%d(SB)/4, $%d\n", 4*i, i)
	}
	e.WriteString("GLOBL ·iota8(SB), RODATA|NOPTR, $32\n")
	e.WriteString("\n// evenIdx and oddIdx are 0,2,...,30 and 1,3,...,31 as int32.\n")
	for i := 0; i < 16; i++ {
		fmt.Fprintf(&e.Buffer, "DATA ·evenIdx+%d(SB)/4, $%d\n", 4*i, 2*i)
		fmt.Fprintf(&e.Buffer, "DATA ·oddIdx+%d(SB)/4, $%d\n", 4*i, 2*i+1)
	}
	e.WriteString("GLOBL ·evenIdx(SB), RODATA|NOPTR, $64\nGLOBL ·oddIdx(SB), RODATA|NOPTR, $64\n")
	e.WriteString("\n// ilvLo and ilvHi interleave two vectors: 0,16,1,17,...,7,23 and 8,24,...,15,31.\n")
	for i := 0; i < 16; i++ {
		fmt.Fprintf(&e.Buffer, "DATA ·ilvLo+%d(SB)/4, $%d\n", 4*i, i/2+16*(i%2))
		fmt.Fprintf(&e.Buffer, "DATA ·ilvHi+%d(SB)/4, $%d\n", 4*i, 8+i/2+16*(i%2))
	}
	e.WriteString("GLOBL ·ilvLo(SB), RODATA|NOPTR, $64\nGLOBL ·ilvHi(SB), RODATA|NOPTR, $64\n")
	winoConsts(&e)
	for _, s := range []isa{avx512, avx2} {
		kernel(&e, s, false)
		kernel(&e, s, true)
		peak(&e, s)
	}
	for _, s := range []isa{avx512n, avx2n, avx512t} {
		kernel(&e, s, false)
	}
	for _, s := range []isa{avx512s4, avx512s2, avx2s4, avx2s2} {
		kernel(&e, s, false)
		kernel(&e, s, true)
	}
	clock(&e)
	transpose(&e, avx512)
	transpose(&e, avx2)
	pool2x2(&e)
	pool2x2Tail(&e)
	pool2x2Vals(&e)
	pool2x2Rows(&e)
	adam(&e, avx512)
	adam(&e, avx2)
	padRows(&e)
	padRows256(&e)
	poolGrad(&e)
	poolGrad256(&e)
	sumTaps(&e)
	kernDot(&e)
	binOps(&e)
	reluOps(&e)
	for _, s := range []isa{avx512, avx2} {
		winoIn(&e, s)
		winoOut(&e, s)
		winoDy(&e, s)
	}
	if err := os.WriteFile("kernels_amd64.s", e.Bytes(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// wargs offsets, matching wargs in winograd.go
const (
	wSrc    = 0
	wDst    = 8
	wTmp    = 16
	wBias   = 24
	wN      = 32
	wLd     = 40
	wSx     = 48
	wSf     = 56
	wDf     = 64
	wVecs   = 72
	wChunks = 80
	wRelu   = 88
	wMask   = 96 // [4][8]int32
)

// winoTmpRow is the byte stride of the rows of the input transform's
// scratch (winoTmpRow in winograd.go, in floats).
const winoTmpRow = 256 * 4

// winoBT emits the 1-D input transform of Winograd F(2,5) (points 0, ±1,
// ±2, ∞) on the six vectors in registers d: V = B^T d with
//
//	V0 = 4d0 - 5d2 + d4         V3 = (d4 - d2) + 2(d3 - d1)
//	V1 = (d4 - 4d2) + (d3 - 4d1) V4 = (d4 - d2) - 2(d3 - d1)
//	V2 = (d4 - 4d2) - (d3 - 4d1) V5 = 4d1 - 5d3 + d5
//
// using t0, t1, t2 as temporaries and c2, c4, c5 holding 2, 4 and 5 in
// every lane; it returns the registers holding V0..V5.
func winoBT(e *emitter, v func(int) string, d [6]int, t0, t1, t2, c2, c4, c5 int) [6]int {
	e.f("VMOVAPS %s, %s", v(d[4]), v(t0))
	e.f("VFNMADD231PS %s, %s, %s", v(c5), v(d[2]), v(t0))
	e.f("VFMADD231PS %s, %s, %s", v(c4), v(d[0]), v(t0))
	e.f("VFNMADD231PS %s, %s, %s", v(c5), v(d[3]), v(d[5]))
	e.f("VFMADD231PS %s, %s, %s", v(c4), v(d[1]), v(d[5]))
	e.f("VMOVAPS %s, %s", v(d[4]), v(t1))
	e.f("VFNMADD231PS %s, %s, %s", v(c4), v(d[2]), v(t1))
	e.f("VMOVAPS %s, %s", v(d[3]), v(t2))
	e.f("VFNMADD231PS %s, %s, %s", v(c4), v(d[1]), v(t2))
	e.f("VADDPS %s, %s, %s", v(t2), v(t1), v(d[0]))
	e.f("VSUBPS %s, %s, %s", v(t2), v(t1), v(t1))
	e.f("VSUBPS %s, %s, %s", v(d[2]), v(d[4]), v(d[4]))
	e.f("VSUBPS %s, %s, %s", v(d[1]), v(d[3]), v(d[3]))
	e.f("VMOVAPS %s, %s", v(d[4]), v(d[2]))
	e.f("VFMADD231PS %s, %s, %s", v(c2), v(d[3]), v(d[2]))
	e.f("VFNMADD231PS %s, %s, %s", v(c2), v(d[3]), v(d[4]))
	return [6]int{t0, d[0], t1, d[2], d[4], d[5]}
}

// winoIn emits winoIn512 or winoIn256, the input transform of one
// channel (see wargs in winograd.go): for each of n tile rows, stage 1
// applies B^T down the six padded rows 2ty..2ty+5 (vecs vectors across
// the row) into six scratch rows, stage 2 applies B^T across them at every
// column, keeps the even columns (the tiles' origins) and stores each of
// the 36 results' half vector of tiles to its plane (sx bytes apart).
func winoIn(e *emitter, s isa) {
	name := "winoIn" + s.name
	p := name + "_"
	v := func(i int) string { return fmt.Sprintf("%s%d", s.vreg, i) }
	half := "Y"
	if s.vreg == "Y" {
		half = "X"
	}
	fmt.Fprintf(&e.Buffer, "\n// func %s(p *wargs)\nTEXT ·%s(SB), NOSPLIT, $0-8\n", name, name)
	e.f("MOVQ p+0(FP), R11")
	e.f("MOVQ %d(R11), SI", wSrc)
	e.f("MOVQ %d(R11), DI", wDst)
	e.f("MOVQ %d(R11), R8", wTmp)
	e.f("MOVQ %d(R11), CX", wN)
	e.f("MOVQ %d(R11), R9", wLd)
	e.f("MOVQ %d(R11), R10", wSx)
	e.f("LEAQ (R9)(R9*2), DX")
	e.f("VBROADCASTSS ·winoC+0(SB), %s", v(9))
	e.f("VBROADCASTSS ·winoC+4(SB), %s", v(10))
	e.f("VBROADCASTSS ·winoC+8(SB), %s", v(11))
	e.f("VMOVUPS ·evenIdx(SB), %s", v(12))
	e.f("TESTQ CX, CX")
	e.f("JLE %sdone", p)
	e.label(p + "row")
	// stage 1: down the padded rows
	e.f("MOVQ SI, BX")
	e.f("MOVQ R8, R13")
	e.f("XORQ R12, R12")
	e.label(p + "s1")
	e.f("LEAQ (BX)(R9*2), AX")
	e.f("VMOVUPS (BX), %s", v(0))
	e.f("VMOVUPS (BX)(R9*1), %s", v(1))
	e.f("VMOVUPS (BX)(R9*2), %s", v(2))
	e.f("VMOVUPS (BX)(DX*1), %s", v(3))
	e.f("VMOVUPS (BX)(R9*4), %s", v(4))
	e.f("VMOVUPS (AX)(DX*1), %s", v(5))
	out := winoBT(e, v, [6]int{0, 1, 2, 3, 4, 5}, 6, 7, 8, 9, 10, 11)
	for k, r := range out {
		e.f("VMOVUPS %s, %d(R13)", v(r), k*winoTmpRow)
	}
	e.f("ADDQ $%d, BX", s.vl*4)
	e.f("ADDQ $%d, R13", s.vl*4)
	e.f("INCQ R12")
	e.f("CMPQ R12, %d(R11)", wVecs)
	e.f("JLT %ss1", p)
	// stage 2: across the scratch rows, even columns kept
	e.f("MOVQ R8, R13")
	e.f("MOVQ DI, BX")
	e.f("XORQ R12, R12")
	e.label(p + "s2")
	e.f("MOVQ BX, AX")
	for k := 0; k < 6; k++ {
		for j := 0; j < 6; j++ {
			e.f("VMOVUPS %d(R13), %s", k*winoTmpRow+4*j, v(j))
		}
		out := winoBT(e, v, [6]int{0, 1, 2, 3, 4, 5}, 6, 7, 8, 9, 10, 11)
		for _, r := range out {
			e.f("VPERMPS %s, %s, %s", v(r), v(12), v(r))
			e.f("VMOVUPS %s%d, (AX)", half, r)
			e.f("ADDQ R10, AX")
		}
	}
	e.f("ADDQ $%d, R13", s.vl*4)
	e.f("ADDQ $%d, BX", s.vl/2*4)
	e.f("INCQ R12")
	e.f("CMPQ R12, %d(R11)", wChunks)
	e.f("JLT %ss2", p)
	e.f("LEAQ (SI)(R9*2), SI")
	e.f("ADDQ %d(R11), DI", wSf)
	e.f("DECQ CX")
	e.f("JNZ %srow", p)
	e.label(p + "done")
	e.f("VZEROUPPER")
	e.f("RET")
}

// winoOut emits winoOut512 or winoOut256, the output transform of one
// chunk of 8 tiles of a tile row for n output channels (see wargs in
// winograd.go): per channel, the 36 products' vectors (planes sx bytes
// apart, channels sf apart) go through A^T on both sides, A^T = [1 1 1 1
// 1 0; 0 1 -1 2 -2 1], giving the tiles' 2x2 outputs; the bias is added,
// the ReLU applied if asked, and the two output rows' 16 pixels (the
// tiles' columns interleaved) stored under the masks.
func winoOut(e *emitter, s isa) {
	name := "winoOut" + s.name
	p := name + "_"
	y := func(i int) string { return fmt.Sprintf("Y%d", i) }
	fmt.Fprintf(&e.Buffer, "\n// func %s(p *wargs)\nTEXT ·%s(SB), NOSPLIT, $0-8\n", name, name)
	e.f("MOVQ p+0(FP), R8")
	e.f("MOVQ %d(R8), SI", wSrc)
	e.f("MOVQ %d(R8), DI", wDst)
	e.f("MOVQ %d(R8), BX", wBias)
	e.f("MOVQ %d(R8), CX", wN)
	e.f("MOVQ %d(R8), R12", wLd)
	e.f("MOVQ %d(R8), R9", wSx)
	e.f("MOVQ %d(R8), R10", wSf)
	e.f("MOVQ %d(R8), R11", wDf)
	e.f("LEAQ (R9)(R9*2), DX")
	e.f("LEAQ (R9)(R9*4), R13")
	e.f("VBROADCASTSS ·winoC+0(SB), Y12")
	if s.vreg == "Z" {
		e.f("KMOVW %d(R8), K1", wMask)
		e.f("KMOVW %d(R8), K2", wMask+32)
		e.f("VMOVDQU32 ·ilvLo(SB), Z13")
	}
	e.f("TESTQ CX, CX")
	e.f("JLE %sdone", p)
	e.label(p + "chan")
	e.f("MOVQ SI, AX")
	// Y6..Y9: outputs (row a, column b) = Y(6+2a+b); Y10, Y11: the row
	// sums of one k
	for k := 0; k < 6; k++ {
		e.f("VMOVUPS (AX), Y0")
		e.f("VMOVUPS (AX)(R9*1), Y1")
		e.f("VMOVUPS (AX)(R9*2), Y2")
		e.f("VMOVUPS (AX)(DX*1), Y3")
		e.f("VMOVUPS (AX)(R9*4), Y4")
		e.f("VMOVUPS (AX)(R13*1), Y5")
		if k < 5 {
			e.f("ADDQ R13, AX")
			e.f("ADDQ R9, AX")
		}
		// R0 = m0+m1+m2+m3+m4, R1 = m1-m2+2(m3-m4)+m5
		e.f("VADDPS Y1, Y0, Y10")
		e.f("VSUBPS Y2, Y1, Y11")
		e.f("VADDPS Y3, Y2, Y2")
		e.f("VSUBPS Y4, Y3, Y3")
		e.f("VADDPS Y4, Y10, Y10")
		e.f("VADDPS Y5, Y11, Y11")
		e.f("VADDPS Y2, Y10, Y10")
		e.f("VFMADD231PS Y12, Y3, Y11")
		// row a=0 gets AT[0][k] = 1 (k < 5), row a=1 AT[1][k] = 0,1,-1,2,-2,1
		switch k {
		case 0:
			e.f("VMOVAPS Y10, Y6")
			e.f("VMOVAPS Y11, Y7")
		case 1:
			e.f("VADDPS Y10, Y6, Y6")
			e.f("VADDPS Y11, Y7, Y7")
			e.f("VMOVAPS Y10, Y8")
			e.f("VMOVAPS Y11, Y9")
		case 2:
			e.f("VADDPS Y10, Y6, Y6")
			e.f("VADDPS Y11, Y7, Y7")
			e.f("VSUBPS Y10, Y8, Y8")
			e.f("VSUBPS Y11, Y9, Y9")
		case 3:
			e.f("VADDPS Y10, Y6, Y6")
			e.f("VADDPS Y11, Y7, Y7")
			e.f("VFMADD231PS Y12, Y10, Y8")
			e.f("VFMADD231PS Y12, Y11, Y9")
		case 4:
			e.f("VADDPS Y10, Y6, Y6")
			e.f("VADDPS Y11, Y7, Y7")
			e.f("VFNMADD231PS Y12, Y10, Y8")
			e.f("VFNMADD231PS Y12, Y11, Y9")
		case 5:
			e.f("VADDPS Y10, Y8, Y8")
			e.f("VADDPS Y11, Y9, Y9")
		}
	}
	e.f("TESTQ BX, BX")
	e.f("JZ %snobias", p)
	e.f("VBROADCASTSS (BX), Y0")
	for i := 6; i < 10; i++ {
		e.f("VADDPS Y0, %s, %s", y(i), y(i))
	}
	e.f("ADDQ $4, BX")
	e.label(p + "nobias")
	e.f("CMPQ %d(R8), $0", wRelu)
	e.f("JEQ %snorelu", p)
	for i := 6; i < 10; i++ {
		e.f("VPSRAD $31, %s, Y0", y(i))
		e.f("VPANDN %s, Y0, %s", y(i), y(i))
	}
	e.label(p + "norelu")
	if s.vreg == "Z" {
		e.f("VPERMT2PS Z7, Z13, Z6")
		e.f("VPERMT2PS Z9, Z13, Z8")
		e.f("VMOVUPS Z6, K1, (DI)")
		e.f("VMOVUPS Z8, K2, (DI)(R12*1)")
	} else {
		for a := 0; a < 2; a++ {
			r0, r1 := y(6+2*a), y(7+2*a)
			e.f("VUNPCKLPS %s, %s, Y0", r1, r0)
			e.f("VUNPCKHPS %s, %s, Y1", r1, r0)
			e.f("VPERM2F128 $0x20, Y1, Y0, Y2")
			e.f("VPERM2F128 $0x31, Y1, Y0, Y3")
			e.f("VMOVDQU %d(R8), Y4", wMask+64*a)
			e.f("VMOVDQU %d(R8), Y5", wMask+64*a+32)
			if a == 0 {
				e.f("VMASKMOVPS Y2, Y4, (DI)")
				e.f("VMASKMOVPS Y3, Y5, 32(DI)")
			} else {
				e.f("VMASKMOVPS Y2, Y4, (DI)(R12*1)")
				e.f("LEAQ 32(DI)(R12*1), AX")
				e.f("VMASKMOVPS Y3, Y5, (AX)")
			}
		}
	}
	e.f("ADDQ R10, SI")
	e.f("ADDQ R11, DI")
	e.f("DECQ CX")
	e.f("JNZ %schan", p)
	e.label(p + "done")
	e.f("VZEROUPPER")
	e.f("RET")
}

// winoConsts emits winoC: 2, 4 and 5 as float32.
func winoConsts(e *emitter) {
	e.WriteString("\n// winoC is 2, 4, 5 as float32, the Winograd transforms' constants.\n")
	for i, bits := range []uint32{0x40000000, 0x40800000, 0x40a00000} {
		fmt.Fprintf(&e.Buffer, "DATA ·winoC+%d(SB)/4, $0x%08x\n", 4*i, bits)
	}
	e.WriteString("GLOBL ·winoC(SB), RODATA|NOPTR, $12\n")
}

// winoDy emits winoDy512 or winoDy256, the output-gradient transform of
// the Winograd weight gradient for one tile row (see winoDyGo in
// winograd.go): for each of n tiles and each of vecs vectors of output
// channels, the tile's 2x2 output gradients (pixel rows ld bytes apart,
// pixels sf apart in the transposed gradient) go through A on both sides,
// A = [1 0; 1 1; 1 -1; 1 2; 1 -2; 0 1], and the 36 results are stored to
// their planes (sx bytes apart), tiles sf apart.
func winoDy(e *emitter, s isa) {
	name := "winoDy" + s.name
	p := name + "_"
	v := func(i int) string { return fmt.Sprintf("%s%d", s.vreg, i) }
	fmt.Fprintf(&e.Buffer, "\n// func %s(p *wargs)\nTEXT ·%s(SB), NOSPLIT, $0-8\n", name, name)
	e.f("MOVQ p+0(FP), AX")
	e.f("MOVQ %d(AX), SI", wSrc)
	e.f("MOVQ %d(AX), DI", wDst)
	e.f("MOVQ %d(AX), CX", wN)
	e.f("MOVQ %d(AX), R8", wLd)
	e.f("ADDQ SI, R8")
	e.f("MOVQ %d(AX), R11", wSx)
	e.f("MOVQ %d(AX), R12", wSf)
	e.f("MOVQ %d(AX), DX", wVecs)
	e.f("LEAQ (R11)(R11*2), R9")
	e.f("ADDQ R9, R9") // 6 sx
	e.f("LEAQ (R9)(R9*2), R10")
	e.f("LEAQ (R9)(R9*4), R13")
	e.f("VBROADCASTSS ·winoC+0(SB), %s", v(7))
	e.f("TESTQ CX, CX")
	e.f("JLE %sdone", p)
	e.f("TESTQ DX, DX")
	e.f("JLE %sdone", p)
	e.label(p + "tile")
	e.f("MOVQ DX, BX")
	e.label(p + "vec")
	e.f("VMOVUPS (SI), %s", v(0))
	e.f("VMOVUPS (SI)(R12*1), %s", v(1))
	e.f("VMOVUPS (R8), %s", v(2))
	e.f("VMOVUPS (R8)(R12*1), %s", v(3))
	e.f("MOVQ DI, AX")
	for l := 0; l < 6; l++ {
		h0, h1 := 4, 5
		switch l {
		case 0:
			h0, h1 = 0, 2
		case 1:
			e.f("VADDPS %s, %s, %s", v(1), v(0), v(4))
			e.f("VADDPS %s, %s, %s", v(3), v(2), v(5))
		case 2:
			e.f("VSUBPS %s, %s, %s", v(1), v(0), v(4))
			e.f("VSUBPS %s, %s, %s", v(3), v(2), v(5))
		case 3, 4:
			op := "VFMADD231PS"
			if l == 4 {
				op = "VFNMADD231PS"
			}
			e.f("VMOVAPS %s, %s", v(0), v(4))
			e.f("%s %s, %s, %s", op, v(7), v(1), v(4))
			e.f("VMOVAPS %s, %s", v(2), v(5))
			e.f("%s %s, %s, %s", op, v(7), v(3), v(5))
		case 5:
			h0, h1 = 1, 3
		}
		e.f("VMOVUPS %s, (AX)", v(h0))
		e.f("VADDPS %s, %s, %s", v(h1), v(h0), v(6))
		e.f("VMOVUPS %s, (AX)(R9*1)", v(6))
		e.f("VSUBPS %s, %s, %s", v(h1), v(h0), v(6))
		e.f("VMOVUPS %s, (AX)(R9*2)", v(6))
		e.f("VMOVAPS %s, %s", v(h0), v(6))
		e.f("VFMADD231PS %s, %s, %s", v(7), v(h1), v(6))
		e.f("VMOVUPS %s, (AX)(R10*1)", v(6))
		e.f("VMOVAPS %s, %s", v(h0), v(6))
		e.f("VFNMADD231PS %s, %s, %s", v(7), v(h1), v(6))
		e.f("VMOVUPS %s, (AX)(R9*4)", v(6))
		e.f("VMOVUPS %s, (AX)(R13*1)", v(h1))
		if l < 5 {
			e.f("ADDQ R11, AX")
		}
	}
	e.f("ADDQ $%d, SI", s.vl*4)
	e.f("ADDQ $%d, R8", s.vl*4)
	e.f("ADDQ $%d, DI", s.vl*4)
	e.f("DECQ BX")
	e.f("JNZ %svec", p)
	e.f("ADDQ R12, SI")
	e.f("ADDQ R12, R8")
	e.f("DECQ CX")
	e.f("JNZ %stile", p)
	e.label(p + "done")
	e.f("VZEROUPPER")
	e.f("RET")
}
