package analysis_test

import (
	"fmt"

	"github.com/arp-robustness/arp/analysis"
)

// Compute turns per-image records into statistics and verdicts. Here the
// attack broke the 40 images whose attention covered least of the object.
func Example() {
	h := &analysis.Header{Format: analysis.Format, Config: analysis.Config{Method: "gradcam-arp"}.WithDefaults(),
		Data: analysis.DataRef{Spec: "toy", C: 1, H: 1, W: 1, Images: 200, Truth: true}, MapH: 1, MapW: 1, TopK: 1,
		Attacks: []analysis.AttackInfo{{Key: "fgsm", Name: "fgsm"}}}
	var recs []*analysis.Record
	for i := 0; i < 200; i++ {
		cov := float64(i) / 200
		recs = append(recs, &analysis.Record{Index: i, Conf: 0.9,
			Clean: &analysis.MapStats{Map: analysis.Map{1}, Coverage: analysis.Num(cov), CoverageArea: analysis.Num(cov), Components: 1},
			Attacks: map[string]*analysis.AttackRecord{"fgsm": {
				Success: i < 40, IoU: analysis.Num(0.5 + cov/2), Adv: &analysis.MapStats{Components: 1}}}})
	}
	s, err := analysis.Compute(h, recs)
	if err != nil {
		fmt.Println(err)
		return
	}
	a := s.Attacks[0]
	fmt.Printf("success %d/%d\n", a.Succeeded, a.N)
	for _, v := range a.Verdicts {
		fmt.Printf("observation %s: %s (%s)\n", v.Observation, v.Status, v.Strength)
	}
	// Output:
	// success 40/200
	// observation 1: holds (large)
	// observation 2a: holds (large)
	// observation 2b: does not hold (negligible)
}
