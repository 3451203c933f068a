package limits

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MemoryEnv names the environment variable that sets the memory arp may
// use, e.g. ARP_MEMORY=4GB (units B, KB, MB, GB, TB, powers of 1000, or
// KiB, MiB, GiB, TiB); by default it is what the machine has available.
const MemoryEnv = "ARP_MEMORY"

var override struct {
	sync.Mutex
	bytes int64 // > 0: set by SetAvailable
}

// SetAvailable makes Available return n (n <= 0: measure again) and
// returns a function that restores the previous setting; for tests.
func SetAvailable(n int64) (restore func()) {
	override.Lock()
	old := override.bytes
	override.bytes = n
	override.Unlock()
	return func() {
		override.Lock()
		override.bytes = old
		override.Unlock()
	}
}

// Available returns the bytes of memory the process may still allocate:
// $ARP_MEMORY if set, else the smaller of the kernel's MemAvailable and the
// room left under the cgroup's memory limit. Where neither can be read it
// returns math.MaxInt64 (no bound).
func Available() (int64, error) {
	override.Lock()
	n := override.bytes
	override.Unlock()
	if n > 0 {
		return n, nil
	}
	if s := os.Getenv(MemoryEnv); s != "" {
		v, err := ParseBytes(s)
		if err != nil || v <= 0 {
			return 0, fmt.Errorf("$%s=%q: want a size such as 4GB", MemoryEnv, s)
		}
		return v, nil
	}
	avail := int64(math.MaxInt64)
	if v, ok := meminfo("MemAvailable"); ok {
		avail = v
	}
	if limit, ok := cgroupValue("/sys/fs/cgroup/memory.max"); ok {
		cur, _ := cgroupValue("/sys/fs/cgroup/memory.current")
		avail = min(avail, max(0, limit-cur))
	}
	return avail, nil
}

// Budgeted reports whether Available returns a budget ($ARP_MEMORY, or
// SetAvailable) rather than a measurement of the machine. A measurement
// already leaves out what the process holds (a loaded model, say); a budget
// covers everything the process will hold, so estimates checked against it
// must count that too.
func Budgeted() bool {
	override.Lock()
	n := override.bytes
	override.Unlock()
	return n > 0 || os.Getenv(MemoryEnv) != ""
}

// meminfo reads a field of /proc/meminfo in bytes.
func meminfo(field string) (int64, bool) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		fs := strings.Fields(rest)
		if len(fs) == 0 {
			return 0, false
		}
		v, err := strconv.ParseInt(fs[0], 10, 64)
		if err != nil {
			return 0, false
		}
		if len(fs) > 1 && fs[1] == "kB" {
			v *= 1024
		}
		return v, true
	}
	return 0, false
}

// cgroupValue reads a cgroup v2 memory file ("max" is no limit).
func cgroupValue(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return v, err == nil
}

// Check refuses work that needs more memory than is available: need is an
// estimate in bytes of what the work described by what ("a batch of 100
// images", say) would allocate. The error says how much it would need and
// how much there is. A negative or non-finite estimate (an overflow) is
// refused too.
func Check(what string, need int64) error {
	avail, err := Available()
	if err != nil {
		return err
	}
	if need < 0 {
		return fmt.Errorf("%s would need more memory than can be counted", what)
	}
	if need > avail {
		return fmt.Errorf("%s would need about %s of memory; %s is available", what, Bytes(need), Bytes(avail))
	}
	return nil
}

// Need returns the bytes of n elements of size bytes each, saturating at
// math.MaxInt64 (so that products of user-given counts do not overflow into
// small or negative estimates).
func Need(size int64, counts ...int) int64 {
	v := float64(size)
	for _, c := range counts {
		v *= float64(c)
	}
	if v < 0 || v >= math.MaxInt64 || math.IsNaN(v) {
		return math.MaxInt64
	}
	return int64(v)
}

// Bytes formats a size for messages: "512 B", "3.4 MB", "74.5 GB" (powers
// of 1000).
func Bytes(n int64) string {
	if n == math.MaxInt64 {
		return "more than 9.2 EB"
	}
	v := float64(n)
	for _, u := range []string{"B", "KB", "MB", "GB", "TB", "PB"} {
		if math.Abs(v) < 1000 || u == "PB" {
			if u == "B" {
				return fmt.Sprintf("%d B", n)
			}
			return fmt.Sprintf("%.3g %s", v, u)
		}
		v /= 1000
	}
	return ""
}

// ParseBytes reads a size such as "4GB", "512MiB" or "1000000".
func ParseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := len(s)
	for i > 0 && (s[i-1] < '0' || s[i-1] > '9') && s[i-1] != '.' {
		i--
	}
	num, unit := strings.TrimSpace(s[:i]), strings.ToUpper(strings.TrimSpace(s[i:]))
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) {
		return 0, fmt.Errorf("size %q: want a number with an optional unit (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)", s)
	}
	mult := map[string]float64{"": 1, "B": 1, "K": 1e3, "KB": 1e3, "M": 1e6, "MB": 1e6, "G": 1e9, "GB": 1e9, "T": 1e12, "TB": 1e12,
		"KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30, "TIB": 1 << 40}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("size %q: unknown unit %q (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)", s, unit)
	}
	if v*mult >= math.MaxInt64 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return int64(v * mult), nil
}

// Duration formats an estimated running time: "40 s", "12 min", "3.5 h",
// "2.1 days".
func Duration(d time.Duration) string {
	s := d.Seconds()
	switch {
	case s < 90:
		return fmt.Sprintf("%.0f s", math.Max(1, s))
	case s < 90*60:
		return fmt.Sprintf("%.0f min", s/60)
	case s < 48*3600:
		return fmt.Sprintf("%.1f h", s/3600)
	}
	return fmt.Sprintf("%.1f days", s/86400)
}
