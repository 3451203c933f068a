package checkpoint

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/arp-robustness/arp/limits"
)

// MaxHeaderSize is the largest JSON header accepted, as in the reference implementation.
const MaxHeaderSize = 100_000_000

// maxDepth bounds JSON nesting in a header (a valid header nests 3 levels).
const maxDepth = 32

// Write writes the tensors and metadata to path as a safetensors file, atomically (see
// [AtomicWrite]): if it fails, any file already at path is left as it was, and no partial file
// is ever visible at path. The file gets permissions 0644.
//
// Output is deterministic: tensors are laid out by decreasing element size, then by name
// (so each tensor's data is aligned to its element size), the header lists them by name, and
// the header is padded with spaces so the data starts at a multiple of 8 bytes.
func Write(path string, tensors []Tensor, metadata map[string]string) error {
	hdr, order, err := encodeHeader(tensors, metadata)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return AtomicWrite(path, 0o644, func(w io.Writer) error {
		return writeBody(w, hdr, order)
	})
}

// Encode writes the tensors and metadata in safetensors format to w (the bytes [Write] puts in
// a file).
func Encode(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	hdr, order, err := encodeHeader(tensors, metadata)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	if err := writeBody(bw, hdr, order); err != nil {
		return err
	}
	return bw.Flush()
}

func writeBody(w io.Writer, hdr []byte, order []Tensor) error {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(hdr)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	for _, t := range order {
		if _, err := w.Write(t.Data); err != nil {
			return err
		}
	}
	return nil
}

// encodeHeader validates the tensors and returns the padded JSON header and the tensors in the
// order of their data.
func encodeHeader(tensors []Tensor, metadata map[string]string) ([]byte, []Tensor, error) {
	seen := make(map[string]bool, len(tensors))
	for _, t := range tensors {
		if err := t.Validate(); err != nil {
			return nil, nil, err
		}
		if seen[t.Name] {
			return nil, nil, fmt.Errorf("duplicate tensor name %q", t.Name)
		}
		seen[t.Name] = true
	}
	for k, v := range metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, nil, fmt.Errorf("metadata %q: %q: not valid UTF-8", k, v)
		}
	}
	order := slices.Clone(tensors)
	slices.SortFunc(order, func(a, b Tensor) int {
		if c := cmp.Compare(b.DType.Size(), a.DType.Size()); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	offsets := make(map[string][2]int, len(order))
	off := 0
	for _, t := range order {
		offsets[t.Name] = [2]int{off, off + len(t.Data)}
		off += len(t.Data)
	}

	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	if len(metadata) > 0 {
		b.WriteString(quote(MetadataKey))
		b.WriteString(":{")
		for i, k := range slices.Sorted(maps.Keys(metadata)) {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(quote(k))
			b.WriteByte(':')
			b.WriteString(quote(metadata[k]))
		}
		b.WriteByte('}')
		first = false
	}
	byName := slices.Clone(tensors)
	slices.SortFunc(byName, func(a, b Tensor) int { return cmp.Compare(a.Name, b.Name) })
	for _, t := range byName {
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.WriteString(quote(t.Name))
		b.WriteString(`:{"dtype":`)
		b.WriteString(quote(string(t.DType)))
		b.WriteString(`,"shape":[`)
		for i, d := range t.Shape {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(d))
		}
		o := offsets[t.Name]
		fmt.Fprintf(&b, `],"data_offsets":[%d,%d]}`, o[0], o[1])
	}
	b.WriteByte('}')
	for b.Len()%8 != 0 {
		b.WriteByte(' ')
	}
	if b.Len() > MaxHeaderSize {
		return nil, nil, fmt.Errorf("header of %d bytes exceeds the limit of %d", b.Len(), MaxHeaderSize)
	}
	return b.Bytes(), order, nil
}

// quote returns s as a JSON string. Strings that are not valid UTF-8 have their invalid bytes
// replaced by U+FFFD, as encoding/json does.
func quote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // cannot fail for a string
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

// Read reads and fully validates the safetensors file at path. Every error names the file and
// the problem; format problems wrap [ErrCorrupt], and a missing file wraps fs.ErrNotExist.
func Read(path string) (*File, error) {
	// a regular file that fits in memory; a device or a FIFO is refused
	// before it is read
	fh, size, err := limits.Open(path, limits.FitsMemory)
	if err != nil {
		return nil, err // *PathError names the file
	}
	defer fh.Close()
	// Check the header length against the file size before reading everything.
	var n [8]byte
	if _, err := io.ReadFull(fh, n[:]); err != nil {
		return nil, &corruptError{path, fmt.Sprintf("file is %d bytes, too short for the 8-byte header length", size)}
	}
	if msg := checkHeaderLength(binary.LittleEndian.Uint64(n[:]), size); msg != "" {
		return nil, &corruptError{path, msg} // without reading a possibly huge file
	}
	if _, err := fh.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(fh, buf); err != nil {
		return nil, fmt.Errorf("%s: reading %d bytes: %w", path, size, err)
	}
	return Decode(buf, path)
}

type corruptError struct {
	where string
	msg   string
}

func (e *corruptError) Error() string { return e.where + ": " + e.msg }
func (e *corruptError) Unwrap() error { return ErrCorrupt }

// Decode parses and fully validates a safetensors file held in b; name is used in error
// messages (for example the file's path). The returned tensors share memory with b.
func Decode(b []byte, name string) (*File, error) {
	where := name
	if where == "" {
		where = "safetensors"
	}
	bad := func(format string, args ...any) error {
		return &corruptError{where: where, msg: fmt.Sprintf(format, args...)}
	}
	if len(b) < 8 {
		return nil, bad("file is %d bytes, too short for the 8-byte header length", len(b))
	}
	h := binary.LittleEndian.Uint64(b)
	if msg := checkHeaderLength(h, int64(len(b))); msg != "" {
		return nil, bad("%s", msg)
	}
	hdr := b[8 : 8+h]
	data := b[8+h:]
	if len(hdr) == 0 || hdr[0] != '{' {
		return nil, bad("header does not start with '{' (not a safetensors file?)")
	}
	if !utf8.Valid(hdr) {
		return nil, bad("header is not valid UTF-8")
	}
	if err := checkJSON(hdr); err != nil {
		return nil, bad("invalid header JSON: %v", err)
	}
	var entries map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &entries); err != nil {
		return nil, bad("invalid header JSON: %v", err)
	}

	f := New(name)
	if raw, ok := entries[MetadataKey]; ok {
		delete(entries, MetadataKey)
		if !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			if err := json.Unmarshal(raw, &f.Metadata); err != nil || f.Metadata == nil {
				return nil, bad("%s must be an object of string values: %s", MetadataKey, clip(raw))
			}
		}
	}

	type span struct {
		t          Tensor
		begin, end uint64
	}
	spans := make([]span, 0, len(entries))
	for tname, raw := range entries {
		t, begin, end, err := parseEntry(tname, raw)
		if err != nil {
			return nil, bad("%v", err)
		}
		spans = append(spans, span{t, begin, end})
	}
	slices.SortFunc(spans, func(a, b span) int {
		if c := cmp.Compare(a.begin, b.begin); c != 0 {
			return c
		}
		if c := cmp.Compare(a.end, b.end); c != 0 {
			return c
		}
		return cmp.Compare(a.t.Name, b.t.Name)
	})
	var pos uint64
	prev := ""
	for _, s := range spans {
		switch {
		case s.begin < pos:
			return nil, bad("tensor %q: data_offsets [%d, %d] overlap tensor %q, which ends at %d", s.t.Name, s.begin, s.end, prev, pos)
		case s.begin > pos:
			return nil, bad("tensor %q: data_offsets [%d, %d] leave a gap of %d bytes after offset %d", s.t.Name, s.begin, s.end, s.begin-pos, pos)
		case s.end > uint64(len(data)):
			return nil, bad("tensor %q: data_offsets [%d, %d] run past the end of the %d-byte data section (truncated file?)", s.t.Name, s.begin, s.end, len(data))
		}
		s.t.Data = data[s.begin:s.end:s.end]
		f.tensors[s.t.Name] = s.t
		pos, prev = s.end, s.t.Name
	}
	if pos != uint64(len(data)) {
		return nil, bad("%d bytes of data after the last tensor (the tensors cover %d of %d bytes)", uint64(len(data))-pos, pos, len(data))
	}
	return f, nil
}

// checkHeaderLength returns what is wrong with header length h in a file of size bytes, or "".
func checkHeaderLength(h uint64, size int64) string {
	if h > MaxHeaderSize {
		return fmt.Sprintf("header length %d exceeds the limit of %d (not a safetensors file?)", h, MaxHeaderSize)
	}
	if h > uint64(size-8) {
		return fmt.Sprintf("header length %d exceeds the %d bytes after the length field (truncated file?)", h, size-8)
	}
	return ""
}

// parseEntry decodes one tensor entry of the header and checks its size against its offsets.
func parseEntry(name string, raw json.RawMessage) (Tensor, uint64, uint64, error) {
	fail := func(format string, args ...any) (Tensor, uint64, uint64, error) {
		return Tensor{}, 0, 0, fmt.Errorf("tensor %q: %s", name, fmt.Sprintf(format, args...))
	}
	if name == "" {
		return fail("empty tensor name")
	}
	if r := bytes.TrimSpace(raw); len(r) == 0 || r[0] != '{' {
		return fail("entry is not an object: %s", clip(raw))
	}
	// Decode field by field: encoding/json would match keys case-insensitively ("DType"),
	// which other safetensors readers reject.
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return fail("invalid entry %s: %v", clip(raw), err)
	}
	var (
		dtype   *string
		shape64 *[]int64
		offsets []uint64
	)
	for key, val := range fields {
		var dst any
		switch key {
		case "dtype":
			dst = &dtype
		case "shape":
			dst = &shape64
		case "data_offsets":
			dst = &offsets
		default:
			return fail("unknown field %q (want dtype, shape, data_offsets)", key)
		}
		if err := json.Unmarshal(val, dst); err != nil {
			return fail("invalid %s %s: %v", key, clip(val), err)
		}
	}
	switch {
	case dtype == nil:
		return fail("missing dtype")
	case shape64 == nil:
		return fail("missing shape")
	case offsets == nil:
		return fail("missing data_offsets")
	case len(offsets) != 2:
		return fail("data_offsets has %d values, want 2 [begin, end]", len(offsets))
	}
	d := DType(*dtype)
	if !d.Valid() {
		return fail("%v", errUnknownDType(d))
	}
	shape := make([]int, len(*shape64))
	for i, v := range *shape64 {
		if v < 0 || uint64(v) > uint64(maxInt) {
			return fail("invalid dimension %d in shape %v", v, *shape64)
		}
		shape[i] = int(v)
	}
	begin, end := offsets[0], offsets[1]
	if begin > end {
		return fail("data_offsets [%d, %d] end before they begin", begin, end)
	}
	// Compute the byte size with overflow checks in uint64.
	size := uint64(d.Size())
	for _, dim := range shape {
		if dim != 0 && size > (1<<63)/uint64(dim) {
			return fail("shape %v is too large", shape)
		}
		size *= uint64(dim)
	}
	if size != end-begin {
		return fail("%s %v needs %d bytes but data_offsets [%d, %d] span %d", d, shape, size, begin, end, end-begin)
	}
	return Tensor{Name: name, DType: d, Shape: shape}, begin, end, nil
}

const maxInt = int(^uint(0) >> 1)

// clip shortens a JSON fragment for an error message.
func clip(raw []byte) string {
	const n = 80
	if len(raw) <= n {
		return string(raw)
	}
	return string(raw[:n]) + "..."
}

// checkJSON verifies that hdr is a single JSON value followed only by whitespace, with no
// duplicate keys in any object and nesting of at most maxDepth levels. (encoding/json would
// silently keep the last of duplicate keys.)
func checkJSON(hdr []byte) error {
	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.UseNumber()
	if err := scanValue(dec, 0); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON object")
	}
	return nil
}

func scanValue(dec *json.Decoder, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("nested more than %d levels deep", maxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return errors.New("unexpected end of header")
		}
		return err
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch delim {
	case '{':
		keys := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			key, ok := tok.(string)
			if !ok {
				return fmt.Errorf("object key is not a string: %v", tok)
			}
			if keys[key] {
				return fmt.Errorf("duplicate key %q", key)
			}
			keys[key] = true
			if err := scanValue(dec, depth+1); err != nil {
				return err
			}
		}
	case '[':
		for dec.More() {
			if err := scanValue(dec, depth+1); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("unexpected %q", delim)
	}
	if _, err := dec.Token(); err != nil { // the closing delimiter
		return err
	}
	return nil
}
