package limits

import (
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestReadFileRefusesBeforeReading(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, 2000), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		max  int64
		is   error
		want string
	}{
		{"/dev/zero", 1 << 20, ErrNotRegular, "open /dev/zero: not a regular file (a character device), want a file"},
		{dir, 1 << 20, ErrNotRegular, "(a directory)"},
		{fifo, 1 << 20, ErrNotRegular, "(a named pipe)"}, // refused before it is opened (opening blocks)
		{big, 1000, ErrTooLarge, "open " + big + ": 2 KB, more than the 1 KB such a file may have"},
		{filepath.Join(dir, "nope"), 1000, fs.ErrNotExist, "no such file"},
	} {
		_, err := ReadFile(c.path, c.max)
		if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %v containing %q", c.path, err, c.is, c.want)
		}
	}
	b, err := ReadFile(big, 2000)
	if err != nil || len(b) != 2000 {
		t.Fatalf("%d bytes, %v", len(b), err)
	}
	defer SetAvailable(1000)()
	if _, err := ReadFile(big, FitsMemory); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "2 KB, more than the 1 KB of memory available") {
		t.Fatalf("memory bound: %v", err)
	}
}

func TestCheck(t *testing.T) {
	defer SetAvailable(4e9)()
	if err := Check("a batch", 3e9); err != nil {
		t.Fatal(err)
	}
	err := Check("a batch of 100 images", 74.5e9)
	if err == nil || err.Error() != "a batch of 100 images would need about 74.5 GB of memory; 4 GB is available" {
		t.Fatalf("%v", err)
	}
	if err := Check("x", Need(4, 1<<40, 1<<40)); err == nil || !strings.Contains(err.Error(), "more than 9.2 EB") {
		t.Fatalf("overflowing estimate: %v", err)
	}
	t.Setenv(MemoryEnv, "2GiB")
	defer SetAvailable(0)()
	if n, err := Available(); err != nil || n != 2<<30 {
		t.Fatalf("$%s: %d %v", MemoryEnv, n, err)
	}
	t.Setenv(MemoryEnv, "lots")
	if _, err := Available(); err == nil || !strings.Contains(err.Error(), "ARP_MEMORY") {
		t.Fatalf("bad $%s: %v", MemoryEnv, err)
	}
}

func TestFormats(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1500: "1.5 KB", 74_500_000_000: "74.5 GB", 3 << 50: "3.38 PB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
	for s, want := range map[string]int64{"4GB": 4e9, "512 MiB": 512 << 20, "1000": 1000, "1.5k": 1500} {
		if got, err := ParseBytes(s); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "GB", "-1GB", "4XB", "1e300GB"} {
		if _, err := ParseBytes(s); err == nil {
			t.Errorf("ParseBytes(%q) accepted", s)
		}
	}
	for d, want := range map[time.Duration]string{0: "1 s", 40 * time.Second: "40 s", 12 * time.Minute: "12 min", 210 * time.Minute: "3.5 h", 60 * time.Hour: "2.5 days"} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestRanges(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{Int("--batch", 0, 1, 100, "images per batch"), "--batch 0: want 1 to 100 (images per batch)"},
		{Int("--limit", -1, 0, MaxInt, "images (0: all)"), "--limit -1: want 0 or more (images (0: all))"},
		{Float("--eps", math.NaN(), 0, 1, true, "a budget"), "--eps NaN: want a value in (0,1] (a budget)"},
		{Float("--lr", math.Inf(1), 0, math.Inf(1), true, "a rate"), "--lr +Inf: want a finite value > 0 (a rate)"},
		{Float("--eps", 0, 0, 1, true, "a budget"), "--eps 0: want a value in (0,1] (a budget)"},
	} {
		if c.err == nil || c.err.Error() != c.want {
			t.Errorf("%v, want %q", c.err, c.want)
		}
	}
	if Int("--x", 5, 1, 5, "") != nil || Float("--x", 0, 0, 1, false, "") != nil || Float("--x", 1e300, 0, math.Inf(1), true, "") != nil {
		t.Error("a value in range refused")
	}
}
