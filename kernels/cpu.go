package kernels

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/cpu"
)

// Path is a set of kernels for one instruction-set level.
type Path uint8

const (
	// Go is the portable pure-Go path (any CPU).
	Go Path = iota + 1
	// AVX2 uses 256-bit AVX2 and FMA3 instructions.
	AVX2
	// AVX512 uses 512-bit AVX-512 F instructions.
	AVX512
)

func (p Path) String() string {
	switch p {
	case Go:
		return "go"
	case AVX2:
		return "avx2"
	case AVX512:
		return "avx512"
	}
	return fmt.Sprintf("Path(%d)", uint8(p))
}

// ParsePath reads a path name as ARP_CPU takes it: avx512, avx2, go
// (or auto, meaning [Best]).
func ParsePath(s string) (Path, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return Best(), nil
	case "avx512", "avx-512":
		return AVX512, nil
	case "avx2":
		return AVX2, nil
	case "go", "purego", "pure-go", "generic":
		return Go, nil
	}
	return 0, fmt.Errorf("unknown CPU path %q (want auto, avx512, avx2 or go)", s)
}

// Supported reports whether this CPU and operating system can run path p.
func Supported(p Path) bool {
	switch p {
	case Go:
		return true
	case AVX2:
		return hasAsm && cpu.X86.HasAVX2 && cpu.X86.HasFMA
	case AVX512:
		return hasAsm && cpu.X86.HasAVX512F && cpu.X86.HasAVX2 && cpu.X86.HasFMA
	}
	return false
}

// Best returns the fastest path this CPU supports.
func Best() Path {
	for _, p := range []Path{AVX512, AVX2} {
		if Supported(p) {
			return p
		}
	}
	return Go
}

var (
	current atomic.Uint32
	// envErr is the reason ARP_CPU could not be honoured, if any.
	envErr error
)

func init() {
	p, err := fromEnv(os.Getenv("ARP_CPU"))
	envErr = err
	current.Store(uint32(p))
}

// fromEnv turns ARP_CPU into a path: the one asked for if it parses and the
// CPU supports it, else Best() and an error saying why.
func fromEnv(v string) (Path, error) {
	p, err := ParsePath(v)
	if err != nil {
		return Best(), fmt.Errorf("ARP_CPU=%q: %w", v, err)
	}
	if !Supported(p) {
		return Best(), fmt.Errorf("ARP_CPU=%s: this CPU (or build) does not support the %s kernels", v, p)
	}
	return p, nil
}

// Current returns the path in use.
func Current() Path { return Path(current.Load()) }

// Use switches to path p; it fails, changing nothing, if the CPU does not
// support p. It is not safe to call while kernels run.
func Use(p Path) error {
	if !Supported(p) {
		return fmt.Errorf("kernels.Use(%s): this CPU does not support it", p)
	}
	current.Store(uint32(p))
	return nil
}

// EnvError returns why the ARP_CPU or ARP_CONV setting was not honoured
// (nil if they were or are unset).
func EnvError() error {
	if envErr != nil {
		return envErr
	}
	return convEnvErr
}

// Info describes the path in use and the CPU's best one in one line, e.g.
// "avx512 (best on this CPU: avx512)".
func Info() string {
	s := fmt.Sprintf("%s (best on this CPU: %s); conv %s", Current(), Best(), CurrentConvAlgo())
	if err := EnvError(); err != nil {
		s += "; " + err.Error()
	}
	return s
}
