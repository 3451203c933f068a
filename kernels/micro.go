package kernels

import "unsafe"

//go:generate go run gen.go

// kargs is the argument block of a microkernel call. All offsets and
// strides are in bytes. For steps t = 0..k-1, with (oa, ob) = tab[2t],
// tab[2t+1]:
//
//	kernA: acc[i][j] += A(a + oa + i*size) * B(b + ob + disp[j])
//	kernB: acc[i][j] += A(a + oa + disp[i]) * B(b + ob + j*vl*size)
//
// where A(p) is the scalar at p broadcast to all lanes and B(p) the vector
// of vl lanes at p; disp[0] must be 0. The epilogue then writes, for rows i < rows and
// vectors j with mask[j] != 0, the first lanes of
//
//	C(c + i*ldc + coff[j]) = [C if flags&flagAcc] + acc[i][j] + [bias[i] if bias != nil]
//
// followed, if flags&flagRelu, by tensor.Relu's ReLU (see relu). mask[j] is a lane bit mask on
// the AVX-512 path and a lane count elsewhere. Rows beyond rows and vectors
// with mask 0 are computed (from whatever memory their addresses reach,
// which must be readable) and dropped. The layout is fixed: gen.go's
// offsets must match.
type kargs struct {
	a, b, c unsafe.Pointer
	tab     *int32
	k       int
	ldc     int
	rows    int
	flags   int
	bias    unsafe.Pointer
	disp    [8]int
	coff    [8]int
	mask    [8]int
}

const (
	flagAcc  = 1
	flagRelu = 2
	// flagPrefetch asks the assembly kernels to prefetch the tile's lines
	// of C (at c + i*ldc, coff[j] = j*vl*size) before the products, for
	// C too large for the caches. It changes no result.
	flagPrefetch = 4
)

// shape is a microkernel's register tile: mr rows by nv vectors of vl
// lanes.
type shape struct{ mr, nv, vl int }

func (s shape) nr() int { return s.nv * s.vl }

// micro is one microkernel pair of a path and element type.
type micro struct {
	shape
	kernA, kernB func(*kargs)
	// laneMask says how kargs.mask encodes a lane count.
	bitMask bool
	// narrow, when not nil, has a kernA with fewer rows and more vectors,
	// for convolutions with few output channels.
	narrow *micro
	// tall, when not nil, has a kernA with more rows and fewer vectors,
	// for forward convolutions whose channels and rows of vectors it
	// tiles with fewer dropped lanes (see tallTiles).
	tall *micro
	// short, in ascending rows, has kernels with the same vectors and
	// fewer rows (both variants), reading A in this kernel's layout: a
	// tile of rows < mr rows runs the shortest that holds them (forRows)
	// instead of computing mr rows and dropping the rest. Every output is
	// summed in the same order either way: the same bits.
	short []*micro
}

// forRows returns the kernels for a tile of rows rows: the shortest of
// m.short that holds them, or m.
func (m *micro) forRows(rows int) *micro {
	for _, s := range m.short {
		if rows <= s.mr {
			return s
		}
	}
	return m
}

// setMask sets p.mask[j] for a vector with lanes valid lanes (0: skip).
func (m *micro) setMask(p *kargs, j, lanes int) {
	if m.bitMask && lanes > 0 {
		p.mask[j] = 1<<lanes - 1
		return
	}
	p.mask[j] = lanes
}
