package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// arp runs the command line in-process and returns exit code, stdout and
// stderr.
func arp(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestVersion(t *testing.T) {
	versionExtras = append(versionExtras, func() (string, string) { return "blas", "test-blas" })
	defer func() { versionExtras = versionExtras[:len(versionExtras)-1] }()
	code, out, _ := arp(t, "version")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"arp", runtime.Version(), runtime.GOOS + "/" + runtime.GOARCH, "blas     test-blas"} {
		if !strings.Contains(out, want) {
			t.Errorf("version output %q lacks %q", out, want)
		}
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `arp: unknown command "frobnicate" for "arp"`},
		{[]string{"version", "--nope"}, "arp: unknown flag: --nope"},
		{[]string{"data", "info"}, "arp: accepts 1 arg(s), received 0"},
		{[]string{"data", "info", "no-such-dataset"}, "arp: no-such-dataset: no such dataset or file"},
		{[]string{"data", "info", "mnist-mini", "--size", "big"}, `arp: --size "big": want HxW`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errs := arp(t, tc.args...)
			if code != 1 {
				t.Fatalf("exit %d, want 1", code)
			}
			if !strings.HasPrefix(errs, tc.want) || strings.Count(errs, "\n") != 1 {
				t.Fatalf("stderr %q, want one line starting %q", errs, tc.want)
			}
			if strings.Contains(out+errs, "Usage:") || strings.Contains(out+errs, "goroutine") {
				t.Fatalf("usage or stack trace printed: %q %q", out, errs)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	code, out, _ := arp(t, "--help")
	if code != 0 || !strings.Contains(out, "data") || !strings.Contains(out, "version") || !strings.Contains(out, "--data-dir") {
		t.Fatalf("exit %d, help %q", code, out)
	}
	code, out, _ = arp(t, "data", "info", "--help")
	if code != 0 || !strings.Contains(out, "info NAME|PATH") {
		t.Fatalf("exit %d, help %q", code, out)
	}
}

// TestCrashIsOneLine: a panic that escapes every check ends as one `arp:`
// line naming a crash file that holds the command and the stack.
func TestCrashIsOneLine(t *testing.T) {
	crashDir = t.TempDir()
	defer func() { crashDir = "" }()
	register(func(*globalOptions) *cobra.Command {
		return &cobra.Command{Use: "boom", RunE: func(*cobra.Command, []string) error { panic("illegal range\nsecond line") }}
	})
	defer func() { subcommands = subcommands[:len(subcommands)-1] }()
	code, out, errs := arp(t, "boom", "--help=false")
	if code != 1 || out != "" || strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "arp: internal error: illegal range (a bug in arp") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	files, _ := filepath.Glob(filepath.Join(crashDir, "arp-crash-*.txt"))
	if len(files) != 1 || !strings.Contains(errs, files[0]) {
		t.Fatalf("crash files %v, stderr %q", files, errs)
	}
	b, err := os.ReadFile(files[0])
	if err != nil || !strings.Contains(string(b), "command: arp boom --help=false") || !strings.Contains(string(b), "goroutine") {
		t.Fatalf("crash file: %v\n%s", err, b)
	}
}
