package limits

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Size bounds of the files arp reads whole.
const (
	// MaxImageFile bounds an image file (PNG, JPEG).
	MaxImageFile = 256 << 20
	// MaxJSONFile bounds a settings or metadata file (model.json,
	// analysis.json, FILE.onnx.json).
	MaxJSONFile = 64 << 20
	// FitsMemory as a bound means: whatever the available memory holds
	// (weights, checkpoints, record files).
	FitsMemory = -1
)

// ErrNotRegular is wrapped by ReadFile and Open for anything but a regular
// file (directories, devices, FIFOs, sockets).
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is wrapped by ReadFile and Open for a file over the bound.
var ErrTooLarge = errors.New("file too large")

// kind names a file mode for messages.
func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "not a regular file"
}

type fileError struct {
	msg string
	err error
}

func (e *fileError) Error() string { return e.msg }
func (e *fileError) Unwrap() error { return e.err }

// Stat checks that path is a regular file of at most max bytes (max <= 0:
// FitsMemory) and returns its size. Errors are *fs.PathError values naming
// the file, like those of os.Open; they wrap fs.ErrNotExist, ErrNotRegular
// or ErrTooLarge.
func Stat(path string, max int64) (int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return check(path, st, max)
}

func check(path string, st fs.FileInfo, max int64) (int64, error) {
	if !st.Mode().IsRegular() {
		return 0, &fs.PathError{Op: "open", Path: path, Err: &fileError{fmt.Sprintf("%s (%s), want a file", ErrNotRegular, kind(st.Mode())), ErrNotRegular}}
	}
	n := st.Size()
	if max > 0 && n > max {
		return 0, &fs.PathError{Op: "open", Path: path, Err: &fileError{fmt.Sprintf("%s, more than the %s such a file may have", Bytes(n), Bytes(max)), ErrTooLarge}}
	}
	if max <= 0 {
		avail, err := Available()
		if err != nil {
			return 0, err
		}
		if n > avail {
			return 0, &fs.PathError{Op: "open", Path: path, Err: &fileError{fmt.Sprintf("%s, more than the %s of memory available", Bytes(n), Bytes(avail)), ErrTooLarge}}
		}
	}
	return n, nil
}

// Open opens the regular file path of at most max bytes for reading (see
// Stat) and returns it with its size. The caller should read no more than
// that size (io.LimitReader).
func Open(path string, max int64) (*os.File, int64, error) {
	// Stat first: opening a FIFO blocks until someone writes to it.
	if _, err := Stat(path, max); err != nil {
		return nil, 0, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	n, err := check(path, st, max)
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, n, nil
}

// ReadFile reads the regular file path whole, refusing anything else and
// files over max bytes (max <= 0: FitsMemory) before reading. A file that
// grows while it is read is cut at its size when opened.
func ReadFile(path string, max int64) ([]byte, error) {
	f, n, err := Open(path, max)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, 0, n)
	b, err = readAll(io.LimitReader(f, n), b)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: path, Err: err}
	}
	return b, nil
}

func readAll(r io.Reader, b []byte) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		k, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+k]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}
