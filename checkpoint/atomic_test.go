package checkpoint

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// dirEntries returns the names in dir.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestAtomicWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.json")
	for _, content := range []string{"first", "second, longer content", ""} {
		if err := AtomicWriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Errorf("content = %q, %v; want %q", got, err, content)
		}
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, %v; want 0600", fi.Mode(), err)
	}
	if names := dirEntries(t, dir); len(names) != 1 {
		t.Errorf("directory holds %v, want only model.json", names)
	}
	// A relative path in the current directory works too.
	t.Chdir(dir)
	if err := AtomicWriteFile("rel.txt", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "rel.txt")); string(got) != "x" {
		t.Errorf("rel.txt = %q", got)
	}
}

// TestAtomicFailure simulates failures in the middle of a write: the old file must be untouched
// and no temporary file may be left behind.
func TestAtomicFailure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	if err := Write(path, sampleTensors(t), map[string]string{"v": "1"}); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(path)
	boom := errors.New("disk on fire")

	check := func(what string) {
		t.Helper()
		now, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(now, old) {
			t.Errorf("%s: existing file changed (%d bytes, %v)", what, len(now), err)
		}
		if _, err := Read(path); err != nil {
			t.Errorf("%s: existing file no longer reads: %v", what, err)
		}
		if names := dirEntries(t, dir); len(names) != 1 {
			t.Errorf("%s: directory holds %v, want only the original file", what, names)
		}
	}

	// The writer fails after writing more than the buffer holds.
	err := AtomicWrite(path, 0o644, func(w io.Writer) error {
		if _, err := w.Write(make([]byte, 3<<20)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), path) {
		t.Errorf("error = %v, want one wrapping %v and naming the file", err, boom)
	}
	check("failing writer")

	// The writer panics.
	func() {
		defer func() {
			if recover() == nil {
				t.Error("panic was swallowed")
			}
		}()
		_ = AtomicWrite(path, 0o644, func(w io.Writer) error {
			w.Write([]byte("partial"))
			panic("boom")
		})
	}()
	check("panicking writer")

	// Invalid tensors are rejected before anything is written.
	bad := Tensor{Name: "bad", DType: F32, Shape: []int{3}, Data: []byte{1}}
	if err := Write(path, []Tensor{bad}, nil); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("invalid tensor: %v", err)
	}
	check("invalid tensor")

	// The target is a directory: the rename fails.
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := AtomicWriteFile(sub, []byte("x"), 0o644); err == nil {
		t.Error("writing over a directory succeeded")
	}
	os.Remove(sub)
	check("target is a directory")

	// A directory that does not exist.
	missing := filepath.Join(dir, "nope", "model.safetensors")
	if err := Write(missing, sampleTensors(t), nil); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing directory: %v", err)
	}
}

// TestAtomicCrash kills a process in the middle of a write (after several megabytes reached the
// temporary file) and checks that the file at the target path is the old one, intact.
func TestAtomicCrash(t *testing.T) {
	if p := os.Getenv("ARP_CHECKPOINT_CRASH_PATH"); p != "" {
		big, _ := NewFloat32("big", []int{1 << 20}, make([]float32, 1<<20))
		_ = AtomicWrite(p, 0o644, func(w io.Writer) error {
			w.Write(bytes.Repeat([]byte{0xAB}, 3<<20)) // spills past the buffer to disk
			w.Write(big.Data[:1000])
			os.Exit(3) // the crash: no cleanup runs
			return nil
		})
		os.Exit(0)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	if err := Write(path, sampleTensors(t), nil); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(path)

	cmd := exec.Command(os.Args[0], "-test.run=^TestAtomicCrash$")
	cmd.Env = append(os.Environ(), "ARP_CHECKPOINT_CRASH_PATH="+path)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("helper process: %v\n%s", err, out)
	}
	now, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(now, old) {
		t.Fatalf("file changed by the crashed write (%d bytes, %v)", len(now), err)
	}
	if _, err := Read(path); err != nil {
		t.Fatalf("file unreadable after crash: %v", err)
	}
	// The crash left a hidden temporary file with the partial data; the target never saw it.
	var tmp []string
	for _, n := range dirEntries(t, dir) {
		if strings.HasPrefix(n, ".model.safetensors.tmp-") {
			tmp = append(tmp, n)
			fi, _ := os.Stat(filepath.Join(dir, n))
			if fi.Size() < 3<<20 {
				t.Errorf("temporary file has %d bytes; the crash came too early to test anything", fi.Size())
			}
		}
	}
	if len(tmp) != 1 {
		t.Errorf("temporary files after crash: %v, want one", tmp)
	}
	// A later write still succeeds.
	if err := Write(path, sampleTensors(t)[:1], nil); err != nil {
		t.Fatal(err)
	}
	if f, err := Read(path); err != nil || f.Len() != 1 {
		t.Errorf("after rewrite: %v", err)
	}
}
