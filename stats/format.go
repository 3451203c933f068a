package stats

import (
	"fmt"
	"math"
)

// FormatP formats a p-value as arp's summaries and reports print it: three
// significant digits, scientific below 1e-4, "<1e-300" at the floor of
// float64, "n/a" for NaN.
func FormatP(p float64) string {
	switch {
	case math.IsNaN(p):
		return "n/a"
	case p < 1e-300:
		return "<1e-300"
	case p < 1e-4:
		return fmt.Sprintf("%.1e", p)
	default:
		return fmt.Sprintf("%.3g", p)
	}
}
