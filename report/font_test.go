package report

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"io"
	"strings"
	"testing"

	"codeberg.org/go-fonts/liberation/liberationsansregular"
)

// TestWOFF unpacks the embedded font's WOFF and compares every table with
// the TrueType file's.
func TestWOFF(t *testing.T) {
	ttf := liberationsansregular.TTF
	w, err := woff(ttf)
	if err != nil {
		t.Fatal(err)
	}
	be := binary.BigEndian
	if string(w[:4]) != "wOFF" || be.Uint32(w[4:]) != be.Uint32(ttf) || int(be.Uint32(w[8:])) != len(w) {
		t.Fatalf("header: signature %q, flavor %x, length %d of %d", w[:4], be.Uint32(w[4:]), be.Uint32(w[8:]), len(w))
	}
	n := int(be.Uint16(ttf[4:]))
	if int(be.Uint16(w[12:])) != n {
		t.Fatalf("%d tables, want %d", be.Uint16(w[12:]), n)
	}
	orig := map[uint32][]byte{}
	size := 12 + 16*n
	for i := 0; i < n; i++ {
		rec := ttf[12+16*i:]
		off, l := be.Uint32(rec[8:]), be.Uint32(rec[12:])
		orig[be.Uint32(rec)] = ttf[off : off+l]
		size += (int(l) + 3) &^ 3
	}
	if int(be.Uint32(w[16:])) != size {
		t.Errorf("totalSfntSize %d, want %d", be.Uint32(w[16:]), size)
	}
	prev := uint32(0)
	compressed := 0
	for i := 0; i < n; i++ {
		e := w[44+20*i:]
		tag, off, cl, ol := be.Uint32(e), be.Uint32(e[4:]), be.Uint32(e[8:]), be.Uint32(e[12:])
		if tag <= prev || off%4 != 0 {
			t.Errorf("table %d: tag %x after %x, offset %d", i, tag, prev, off)
		}
		prev = tag
		data := w[off : off+cl]
		if cl < ol {
			compressed++
			zr, err := zlib.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if data, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(data, orig[tag]) || int(ol) != len(orig[tag]) {
			t.Errorf("table %q differs from the font file's", string(e[:4]))
		}
	}
	if compressed == 0 || len(w) > len(ttf)*2/3 {
		t.Errorf("%d tables compressed, %d bytes of %d", compressed, len(w), len(ttf))
	}
	if css := string(pageFont()); !strings.HasPrefix(css, `@font-face { font-family: "Liberation Sans";`) {
		t.Errorf("font face rule %.80s", css)
	}
}
