package rundir

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// LockName is the lock file of a run or analysis directory (see LockDir).
const LockName = ".lock"

// ErrLocked is wrapped by LockDir and LockFile when another process holds the
// lock.
var ErrLocked = errors.New("in use by another process")

// Holder describes the process holding a lock; it is written into the lock
// file so that a refused process can say who holds it.
type Holder struct {
	PID     int    `json:"pid"`
	Host    string `json:"host"`
	Command string `json:"command"`
	Start   string `json:"start"` // RFC 3339
}

func (h Holder) String() string {
	cmd := h.Command
	if len(cmd) > 200 {
		cmd = cmd[:200] + "..."
	}
	return fmt.Sprintf("%s (pid %d on %s, since %s)", cmd, h.PID, h.Host, h.Start)
}

// A Lock is an exclusive lock on a run directory or a state file, held
// until Unlock or the end of the process (the kernel releases it when the
// process dies, even by kill -9, so a lock is never left stale).
type Lock struct {
	path    string // the lock file
	what    string // the directory or file it protects
	created bool   // LockDir created the directory what
	f       *os.File
}

// Guards reports whether l is the lock of path (a directory given to
// LockDir or a file given to LockFile), comparing absolute paths.
func (l *Lock) Guards(path string) bool {
	if l == nil || l.f == nil {
		return false
	}
	a, err1 := filepath.Abs(l.what)
	b, err2 := filepath.Abs(path)
	return err1 == nil && err2 == nil && a == b
}

// LockDir takes the exclusive lock of directory dir (creating dir), for a
// process that writes it: training, an analysis. It fails at once, with an
// error wrapping ErrLocked that says which process holds it, when another
// process (or another LockDir in this one) has it.
//
// A directory LockDir created is removed by Unlock if it is then empty, so
// that a command refused after taking the lock leaves nothing behind.
func LockDir(dir string) (*Lock, error) {
	_, err := os.Stat(dir)
	created := errors.Is(err, os.ErrNotExist)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	l, err := lockPath(filepath.Join(dir, LockName), dir)
	if err != nil {
		if created {
			os.Remove(dir)
		}
		return nil, err
	}
	l.created = created
	return l, nil
}

// Hold makes sure that directory dir is locked while a function writes it:
// when the caller's lock l (nil: none) is dir's, nothing is done; when l
// is nil, dir is locked (LockDir) until release is called. A lock on
// something else is a programming error.
func Hold(l *Lock, dir string) (release func(), err error) {
	switch {
	case l == nil:
		l, err := LockDir(dir)
		if err != nil {
			return nil, err
		}
		return func() { l.Unlock() }, nil
	case !l.Guards(dir):
		return nil, fmt.Errorf("internal error: the lock given for %s is that of %s", dir, l.what)
	}
	return func() {}, nil
}

// LockFile takes the exclusive lock of a file a process rewrites in place
// (an evaluation's state file): its lock file is path + ".lock".
func LockFile(path string) (*Lock, error) {
	return lockPath(path+".lock", path)
}

// DirBusy returns an error wrapping ErrLocked, saying who holds it, when
// another process holds the lock of directory dir (one being written, such
// as an analysis shard still running); it creates nothing.
func DirBusy(dir string) error { return busy(filepath.Join(dir, LockName), dir) }

// FileBusy is DirBusy for a state file locked by LockFile.
func FileBusy(path string) error { return busy(path+".lock", path) }

func busy(path, what string) error {
	f, err := os.Open(path)
	if err != nil {
		return nil // no lock file: no holder
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("%s is %w: %s; wait for it to finish or stop it", what, ErrLocked, readHolder(f))
		}
		return nil
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return nil
}

// lockPath locks the lock file path on behalf of what (the directory or
// file named in errors).
func lockPath(path, what string) (*Lock, error) {
	for attempt := 0; attempt < 10; attempt++ {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("locking %s: %v", what, err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			holder := readHolder(f)
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, fmt.Errorf("%s is %w: %s; wait for it to finish or stop it", what, ErrLocked, holder)
			}
			return nil, fmt.Errorf("locking %s: %v", what, err)
		}
		// The holder before us may have removed the file between our open
		// and our flock: then we hold a lock on a file no one else sees.
		if same(f, path) {
			l := &Lock{path: path, what: what, f: f}
			if err := l.writeHolder(); err != nil {
				l.Unlock()
				return nil, fmt.Errorf("locking %s: %v", what, err)
			}
			return l, nil
		}
		f.Close()
	}
	return nil, fmt.Errorf("locking %s: the lock file %s keeps changing", what, path)
}

// same reports whether the open file f is still the file at path.
func same(f *os.File, path string) bool {
	a, err1 := f.Stat()
	b, err2 := os.Stat(path)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

func (l *Lock) writeHolder() error {
	host, _ := os.Hostname()
	h := Holder{PID: os.Getpid(), Host: host, Command: strings.Join(os.Args, " "), Start: time.Now().Format(time.RFC3339)}
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if err := l.f.Truncate(0); err != nil {
		return err
	}
	_, err = l.f.WriteAt(append(b, '\n'), 0)
	return err
}

// readHolder describes the holder recorded in a lock file.
func readHolder(f *os.File) string {
	b := make([]byte, 4096)
	n, _ := f.ReadAt(b, 0)
	var h Holder
	if json.Unmarshal(b[:n], &h) != nil || h.PID == 0 {
		return "a process that has not said who it is yet"
	}
	return h.String()
}

// Unlock releases the lock and removes its file (while still holding it,
// so that no process can lock the removed file; see lockPath).
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	os.Remove(l.path)
	if l.created {
		os.Remove(l.what) // only if empty
	}
	err := l.f.Close() // releases the flock
	l.f = nil
	return err
}
