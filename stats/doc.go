// Package stats provides the statistics of the attention-under-attack study: descriptive
// statistics, percentile bootstrap confidence intervals, the Mann-Whitney U rank test with
// effect sizes, Spearman rank correlation, logistic regression, Wilson intervals for
// proportions, and binning of binary outcomes by a predictor.
//
// All computations are in float64 and deterministic: the bootstrap takes a seed.
// Descriptive functions ([Mean], [Median], [Quantile], [StdDev]) return NaN for empty input,
// as is conventional; the tests and intervals return errors for input they cannot handle
// (empty samples, NaN or infinite values, constant predictors, ...), naming what is wrong.
//
// The p-values follow the conventions of SciPy (mannwhitneyu, spearmanr) and statsmodels
// (Logit, proportion_confint with method "wilson"); the tests compare against numbers those
// libraries computed (see testdata/reference.py).
//
// A typical use, with completeness scores of images whose attack succeeded or failed:
//
//	ci, _ := stats.Bootstrap{Seed: 1}.Median(attacked)         // median with 95% CI
//	mw, _ := stats.MannWhitneyU(attacked, notAttacked)          // do the groups differ?
//	fit, _ := stats.Logistic(success, [][]float64{completeness}, stats.LogisticOptions{})
//	bins, _ := stats.BinRates(completeness, success, 5, stats.EqualCount, 0.95)
package stats
