package attack

import "math"

// Quantize8 rounds an adversarial image adv of the clean image x to 8-bit
// pixel values (for a PNG) under a budget eps of norm ("linf" or "l2"),
// keeping every pixel on the clean pixel's side of the budget: a rounded
// value that leaves the L-inf ball steps back by 1/255 towards the clean
// value. (An L2 distance may grow by the rounding.)
func Quantize8(adv, x []float32, norm string, eps float64) []float32 {
	q := make([]float32, len(adv))
	for i, v := range adv {
		k := math.Round(float64(v) * 255)
		if norm == "linf" {
			for j := 0; j < 2 && math.Abs(k/255-float64(x[i])) > eps+1e-6; j++ {
				if k/255 > float64(x[i]) {
					k--
				} else {
					k++
				}
			}
		}
		q[i] = float32(min(max(k, 0), 255) / 255)
	}
	return q
}
