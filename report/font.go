package report

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"html/template"
	"sort"
	"sync"

	"codeberg.org/go-fonts/liberation/liberationsansregular"
	"github.com/arp-robustness/arp/viz"
)

// The page embeds the regular face of the plots' typeface (viz.FontFamily,
// Liberation Sans, under the SIL Open Font License, which allows embedding
// in documents), so its text looks like the plots' on every machine, with
// or without the font installed. Bold text is synthesised by the browser.
// As WOFF (zlib-compressed tables) it adds about 290 KB of base64 to the
// page, against 550 KB for the plain TrueType file.
var pageFont = sync.OnceValue(func() template.CSS {
	b, err := woff(liberationsansregular.TTF)
	if err != nil {
		panic("report: embedded Liberation Sans: " + err.Error()) // a broken module, found by the tests
	}
	return template.CSS(fmt.Sprintf("@font-face { font-family: %q; font-weight: 400; src: url(data:font/woff;base64,%s) format(\"woff\"); }",
		viz.FontFamily, base64.StdEncoding.EncodeToString(b)))
})

// woff wraps a TrueType or OpenType font (sfnt) as WOFF 1.0
// (https://www.w3.org/TR/WOFF/): the same tables, each compressed with zlib
// where that makes it smaller, behind a WOFF header and table directory.
func woff(sfnt []byte) ([]byte, error) {
	be := binary.BigEndian
	if len(sfnt) < 12 {
		return nil, errors.New("font file too short")
	}
	n := int(be.Uint16(sfnt[4:]))
	if len(sfnt) < 12+16*n {
		return nil, fmt.Errorf("font file too short for %d tables", n)
	}
	type table struct {
		tag, checksum uint32
		data, stored  []byte
	}
	tables := make([]table, n)
	for i := range tables {
		rec := sfnt[12+16*i:]
		off, length := be.Uint32(rec[8:]), be.Uint32(rec[12:])
		if uint64(off)+uint64(length) > uint64(len(sfnt)) {
			return nil, fmt.Errorf("table %d lies outside the font file", i)
		}
		t := table{tag: be.Uint32(rec), checksum: be.Uint32(rec[4:]), data: sfnt[off : off+length]}
		var z bytes.Buffer
		zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
		zw.Write(t.data)
		zw.Close()
		t.stored = t.data
		if z.Len() < len(t.data) {
			t.stored = z.Bytes()
		}
		tables[i] = t
	}
	sort.Slice(tables, func(i, j int) bool { return tables[i].tag < tables[j].tag })
	pad4 := func(x int) int { return (x + 3) &^ 3 }
	sfntSize := 12 + 16*n
	for _, t := range tables {
		sfntSize += pad4(len(t.data))
	}
	const header, entry = 44, 20
	out := make([]byte, header+entry*n)
	for i, t := range tables {
		off := len(out)
		out = append(out, t.stored...)
		out = append(out, make([]byte, pad4(len(out))-len(out))...)
		e := out[header+entry*i:]
		be.PutUint32(e, t.tag)
		be.PutUint32(e[4:], uint32(off))
		be.PutUint32(e[8:], uint32(len(t.stored)))
		be.PutUint32(e[12:], uint32(len(t.data)))
		be.PutUint32(e[16:], t.checksum)
	}
	be.PutUint32(out, 0x774F4646) // "wOFF"
	be.PutUint32(out[4:], be.Uint32(sfnt))
	be.PutUint32(out[8:], uint32(len(out)))
	be.PutUint16(out[12:], uint16(n))
	be.PutUint32(out[16:], uint32(sfntSize))
	be.PutUint16(out[20:], 1) // version 1.0 of this WOFF file
	return out, nil
}
