package rundir

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestLock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	l, err := LockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	// a second lock, even in this process, is refused and says who holds it
	_, err = LockDir(dir)
	host, _ := os.Hostname()
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), dir+" is in use by another process") ||
		!strings.Contains(err.Error(), "on "+host) || !strings.Contains(err.Error(), os.Args[0]) {
		t.Fatalf("second lock: %v", err)
	}
	if err := DirBusy(dir); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "pid") {
		t.Fatalf("DirBusy while locked: %v", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := DirBusy(dir); err != nil {
		t.Fatalf("DirBusy after Unlock: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, LockName)); !os.IsNotExist(err) {
		t.Fatalf("lock file left after Unlock: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("the directory LockDir created, empty, is left after Unlock: %v", err)
	}
	l2, err := LockDir(dir)
	if err != nil {
		t.Fatalf("after Unlock: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "kept"), nil, 0o644)
	l2.Unlock()
	if _, err := os.Stat(filepath.Join(dir, "kept")); err != nil {
		t.Fatalf("Unlock removed a file it did not write: %v", err)
	}

	state := filepath.Join(t.TempDir(), "state.jsonl")
	s, err := LockFile(state)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LockFile(state); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), state+" is in use") {
		t.Fatalf("state file: %v", err)
	}
	if err := FileBusy(state); !errors.Is(err, ErrLocked) {
		t.Fatalf("FileBusy while locked: %v", err)
	}
	s.Unlock()
	if err := FileBusy(state); err != nil {
		t.Fatalf("FileBusy after Unlock: %v", err)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Fatalf("LockFile created the state file: %v", err)
	}
}

// TestLockDiesWithProcess: a process killed with SIGKILL while holding
// the lock (no cleanup runs) leaves its lock file; the lock is free at once
// and the next process takes it.
func TestLockDiesWithProcess(t *testing.T) {
	if dir := os.Getenv("ARP_LOCK_HELPER"); dir != "" {
		if _, err := LockDir(dir); err != nil {
			os.Exit(3)
		}
		os.Stdout.WriteString("locked\n")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=TestLockDiesWithProcess")
	cmd.Env = append(os.Environ(), "ARP_LOCK_HELPER="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line := make([]byte, 7)
	if _, err := io.ReadFull(out, line); err != nil || string(line) != "locked\n" {
		t.Fatalf("helper: %q %v", line, err)
	}
	if _, err := LockDir(dir); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", cmd.Process.Pid)) {
		t.Fatalf("held by the helper: %v", err)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if _, err := os.Stat(filepath.Join(dir, LockName)); err != nil {
		t.Fatalf("the killed holder's lock file: %v", err)
	}
	l, err := LockDir(dir)
	if err != nil {
		t.Fatalf("after the holder died: %v", err)
	}
	l.Unlock()
}

func TestHold(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	release, err := Hold(nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := DirBusy(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("Hold(nil) did not lock: %v", err)
	}
	release()
	l, err := LockDir(dir)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	defer l.Unlock()
	if release, err := Hold(l, dir+"/"); err != nil {
		t.Fatalf("the caller's own lock: %v", err)
	} else {
		release()
	}
	if err := DirBusy(dir); !errors.Is(err, ErrLocked) {
		t.Fatal("releasing a Hold on the caller's lock unlocked it")
	}
	if _, err := Hold(l, other); err == nil {
		t.Fatal("a lock of another directory accepted")
	}
}
