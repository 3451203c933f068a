package stats_test

import (
	"fmt"
	"log"

	"github.com/arp-robustness/arp/stats"
)

// The study's question: are images with incomplete attention attacked more successfully?
func Example() {
	// Attention completeness (coverage of the object) of ten images, and whether an attack
	// on each succeeded.
	completeness := []float64{0.15, 0.22, 0.31, 0.35, 0.48, 0.52, 0.66, 0.71, 0.83, 0.94}
	success := []bool{true, true, true, false, true, false, true, false, false, false}

	var attacked, survived []float64
	for i, c := range completeness {
		if success[i] {
			attacked = append(attacked, c)
		} else {
			survived = append(survived, c)
		}
	}
	mw, err := stats.MannWhitneyU(attacked, survived)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("Mann-Whitney: U=%v p=%.3f (exact %v), rank-biserial %.2f\n", mw.U, mw.P, mw.Exact, mw.RankBiserial)

	med, err := stats.Bootstrap{Resamples: 1000, Seed: 1}.Median(attacked)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("median completeness of attacked images: %.2f, 95%% CI [%.2f, %.2f]\n", med.Estimate, med.Lo, med.Hi)

	fit, err := stats.Logistic(success, [][]float64{completeness}, stats.LogisticOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("logistic slope %.2f (p=%.2f); P(success | completeness 0.2) = %.2f\n", fit.Coef[1], fit.P[1], fit.Prob(0.2))

	bins, err := stats.BinRates(completeness, success, 2, stats.EqualCount, 0.95)
	if err != nil {
		log.Fatal(err)
	}
	for _, b := range bins {
		fmt.Printf("completeness [%.2f, %.2f]: %d/%d attacked, 95%% CI [%.2f, %.2f]\n", b.Lo, b.Hi, b.Successes, b.Count, b.RateLo, b.RateHi)
	}
	// Output:
	// Mann-Whitney: U=3 p=0.056 (exact true), rank-biserial -0.76
	// median completeness of attacked images: 0.31, 95% CI [0.15, 0.66]
	// logistic slope -6.61 (p=0.10); P(success | completeness 0.2) = 0.89
	// completeness [0.15, 0.50]: 4/5 attacked, 95% CI [0.38, 0.96]
	// completeness [0.50, 0.94]: 1/5 attacked, 95% CI [0.04, 0.62]
}
