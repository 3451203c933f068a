package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// crashDir is where crash reports go ("" : the temporary directory).
var crashDir = ""

// recoverCrash is arp's last line of defence: deferred in run, it turns a
// panic that escaped every check into the one-line error every other
// failure gives, and keeps the details (command line, panic value, stack)
// in a crash file whose path the line names. Inputs are validated before
// work starts so that this does not happen; when it does, it is a bug.
func recoverCrash(args []string, stderr io.Writer, code *int) {
	r := recover()
	if r == nil {
		return
	}
	*code = 1
	where := writeCrash(args, r, debug.Stack())
	fmt.Fprintf(stderr, "arp: internal error: %v (a bug in arp, not in your input; please report it with %s)\n", oneLine(fmt.Sprint(r)), where)
}

// writeCrash writes a crash report and returns its path, or a note saying
// why it could not be written.
func writeCrash(args []string, r any, stack []byte) string {
	dir := crashDir
	if dir == "" {
		dir = os.TempDir()
	}
	now := time.Now()
	path := filepath.Join(dir, fmt.Sprintf("arp-crash-%s-%d.txt", now.Format("20060102-150405"), os.Getpid()))
	var b strings.Builder
	fmt.Fprintf(&b, "arp %s crashed at %s\ncommand: arp %s\ngo: %s %s/%s\npanic: %v\n\n%s", arpVersion(), now.Format(time.RFC3339),
		strings.Join(args, " "), runtime.Version(), runtime.GOOS, runtime.GOARCH, r, stack)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return "the details printed by running it again with GOTRACEBACK=all (the crash file could not be written: " + err.Error() + ")"
	}
	return "the details in " + path
}

// oneLine keeps the first line of s.
func oneLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}
