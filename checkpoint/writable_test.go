package checkpoint

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCanWrite(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.txt")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	ro := filepath.Join(dir, "ro")
	if err := os.Mkdir(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path, want string
	}{
		{dir, "is a directory; want a file name"},
		{filepath.Join(dir, "nope", "x.json"), "directory " + filepath.Join(dir, "nope") + " does not exist"},
		{filepath.Join(file, "x.json"), "is not a directory"},
		{"", "no file name given"},
	} {
		if err := CanWrite(c.path); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("CanWrite(%q) = %v, want %q", c.path, err, c.want)
		}
	}
	if os.Geteuid() != 0 { // root writes anywhere
		if err := CanWrite(filepath.Join(ro, "x")); err == nil || !strings.Contains(err.Error(), "cannot write in") {
			t.Errorf("read-only directory: %v", err)
		}
	}
	for _, ok := range []string{file, filepath.Join(dir, "new.json")} {
		if err := CanWrite(ok); err != nil {
			t.Errorf("CanWrite(%q): %v", ok, err)
		}
	}
	if err := CanWriteDir(file); err == nil || !strings.Contains(err.Error(), "is a file; want a directory") {
		t.Errorf("CanWriteDir(file): %v", err)
	}
	if err := CanWriteDir(filepath.Join(file, "sub")); err == nil || !strings.Contains(err.Error(), "is a file, not a directory") {
		t.Errorf("CanWriteDir(file/sub): %v", err)
	}
	for _, ok := range []string{dir, filepath.Join(dir, "a", "b")} {
		if err := CanWriteDir(ok); err != nil {
			t.Errorf("CanWriteDir(%q): %v", ok, err)
		}
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".arp-write-check-*"))
	if len(left) != 0 {
		t.Errorf("probe files left: %v", left)
	}
}
