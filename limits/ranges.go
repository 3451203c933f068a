package limits

import (
	"fmt"
	"math"
)

// MaxInt is the largest int, for a range without an upper bound.
const MaxInt = int(^uint(0) >> 1)

// Int refuses a count outside [lo, hi]: "name v: want lo to hi (meaning)",
// where name is the setting as the user wrote it ("--batch", say) and
// meaning says what the number counts and what a special value such as 0
// means, e.g. "images per batch" or "a number of images (0: all)".
func Int(name string, v, lo, hi int, meaning string) error {
	if v >= lo && v <= hi {
		return nil
	}
	if hi == MaxInt {
		return fmt.Errorf("%s %d: want %d or more (%s)", name, v, lo, meaning)
	}
	return fmt.Errorf("%s %d: want %d to %d (%s)", name, v, lo, hi, meaning)
}

// Float refuses a value outside [lo, hi] (or (lo, hi] when open), NaN and
// infinities, in the same form as Int.
func Float(name string, v, lo, hi float64, open bool, meaning string) error {
	if !math.IsNaN(v) && !math.IsInf(v, 0) && v >= lo && v <= hi && !(open && v == lo) {
		return nil
	}
	left := "["
	if open {
		left = "("
	}
	if math.IsInf(hi, 1) {
		if open {
			return fmt.Errorf("%s %g: want a finite value > %g (%s)", name, v, lo, meaning)
		}
		return fmt.Errorf("%s %g: want a finite value >= %g (%s)", name, v, lo, meaning)
	}
	return fmt.Errorf("%s %g: want a value in %s%g,%g] (%s)", name, v, left, lo, hi, meaning)
}
