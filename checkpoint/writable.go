package checkpoint

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// CanWrite checks, before any work is done, that AtomicWrite can create or
// replace the file path: path is not a directory and its directory exists
// and accepts new files (a temporary file is created there and removed).
// Errors name the path.
func CanWrite(path string) error {
	if path == "" {
		return errors.New("no file name given")
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("%s is a directory; want a file name", path)
	}
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: directory %s does not exist", path, dir)
	case err != nil:
		return fmt.Errorf("%s: %v", path, err)
	case !st.IsDir():
		return fmt.Errorf("%s: %s is not a directory", path, dir)
	}
	return probe(path, dir)
}

// CanWriteDir checks that dir is, or can be made, a directory that accepts
// new files: an existing directory is probed, otherwise its nearest
// existing ancestor must be a writable directory.
func CanWriteDir(dir string) error {
	if dir == "" {
		return errors.New("no directory given")
	}
	d := filepath.Clean(dir)
	for {
		st, err := os.Stat(d)
		if err == nil {
			if !st.IsDir() {
				if d == filepath.Clean(dir) {
					return fmt.Errorf("%s is a file; want a directory", dir)
				}
				return fmt.Errorf("%s: %s is a file, not a directory", dir, d)
			}
			return probe(dir, d)
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return fmt.Errorf("%s: %v", dir, err)
		}
		parent := filepath.Dir(d)
		if parent == d {
			return fmt.Errorf("%s: no existing directory above it", dir)
		}
		d = parent
	}
}

// probe creates and removes a temporary file in dir.
func probe(path, dir string) error {
	f, err := os.CreateTemp(dir, ".arp-write-check-*")
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("%s: cannot write in %s: %v", path, dir, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}
