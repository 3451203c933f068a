package analysis

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"github.com/arp-robustness/arp/checkpoint"
	"github.com/arp-robustness/arp/rundir"
	"github.com/arp-robustness/arp/stats"
)

// WriteFiles writes summary.json and summary.md into dir (atomically).
func (s *Summary) WriteFiles(dir string) error {
	files, err := s.Files()
	if err != nil {
		return err
	}
	for _, name := range []string{rundir.AnalysisJSON, rundir.AnalysisMD} {
		if err := checkpoint.AtomicWriteFile(filepath.Join(dir, name), files[name], 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Files returns the contents of summary.json and summary.md, by name.
func (s *Summary) Files() (map[string][]byte, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	var md strings.Builder
	s.Markdown(&md)
	return map[string][]byte{rundir.AnalysisJSON: append(b, '\n'), rundir.AnalysisMD: []byte(md.String())}, nil
}

// Verdicts prints what was analysed, each attack's success rate and the
// verdict on each observation, a line each.
func (s *Summary) Verdicts(w io.Writer) {
	fmt.Fprintf(w, "%s\n", s.Describe())
	for _, a := range s.Attacks {
		fmt.Fprintf(w, "  %-16s success %d/%d (%.1f%%)\n", a.Key, a.Succeeded, a.N, 100*a.SuccessRate.Est.F())
	}
	for _, o := range s.Overall {
		fmt.Fprintf(w, "observation %-2s %s: %s\n", o.Observation, o.Status, o.Text)
	}
}

// Describe returns one line about what was analysed.
func (s *Summary) Describe() string {
	h := s.Header
	model := h.Model.Dir
	if model == "" {
		model = "model"
	}
	if h.Model.Info != nil {
		model += " (" + h.Model.Info.Spec.Arch + ")"
	}
	return fmt.Sprintf("%s on %s: %d of %d images analysed (correctly classified, clean accuracy %s); attention %s%s; eps %.4g on the [0,1] scale",
		model, h.Data.Spec, s.Analysed, s.Images, pct(s.CleanAcc.Est.F()), h.Config.Method, layerNote(h), h.Config.Eps)
}

func layerNote(h *Header) string {
	if h.Layer == "" {
		return ""
	}
	return fmt.Sprintf(" at %s (%dx%d)", h.Layer, h.MapH, h.MapW)
}

// Markdown writes the summary as Markdown.
func (s *Summary) Markdown(w io.Writer) {
	h := s.Header
	fmt.Fprintf(w, "# Attention under attack\n\n%s.\n\n", s.Describe())
	if !s.Complete {
		fmt.Fprintf(w, "**Incomplete:** %d of %d images recorded; run `arp analyze` again with the same settings to finish.\n\n", s.Images, h.Data.Images)
	}
	fmt.Fprintf(w, "Masks: mean threshold (M > mean M) at input resolution; top-k: %d %s. Completeness is measured against %s.\n\n",
		h.TopK, map[bool]string{true: "superpixels with the largest positive LIME weights", false: "highest cells of the coarse map"}[h.Lime()],
		map[bool]string{true: "the ground-truth mask of each image", false: "nothing (the dataset has no ground truth)"}[h.Data.Truth])
	if at := s.Attention; at != nil {
		fmt.Fprintf(w, "## Attention on the object\n\nClean attention of the %d analysed images with ground truth: each coverage next to the area of the mask it comes from (coverage grows with a mask's area alone, so completeness is compared on the area-matched mask, whose area is the object's). Medians [95%% CI]; areas are shares of the image.\n\n", at.N)
		fmt.Fprintf(w, "| mask | area | coverage of the object |\n|---|---|---|\n")
		fmt.Fprintf(w, "| object (ground truth) | %s | 1 |\n", ci(at.ObjectArea.Median))
		fmt.Fprintf(w, "| mean threshold | %s | %s |\n", ci(at.MeanArea.Median), ci(at.Coverage.Median))
		fmt.Fprintf(w, "| area-matched (the object's area) | %s | **%s** |\n", ci(at.ObjectArea.Median), ci(at.CoverageArea.Median))
		fmt.Fprintf(w, "| top-k | %s | %s |\n\n", f3(at.TopKArea), ci(at.CoverageTopK.Median))
	}
	fmt.Fprintf(w, "## Verdicts\n\n| # | claim | verdict | where |\n|---|---|---|---|\n")
	for _, o := range s.Overall {
		fmt.Fprintf(w, "| %s | %s | **%s** | %s |\n", o.Observation, o.Claim, o.Status, o.Text)
	}
	fmt.Fprintln(w)
	for _, a := range s.Attacks {
		fmt.Fprintf(w, "## %s\n\n", a.Key)
		fmt.Fprintf(w, "Settings: `%s`\n\n", settingsLine(a.Settings))
		if sch := Schedule(a.Settings); sch != "" {
			fmt.Fprintf(w, "Schedule: %s.\n\n", sch)
		}
		fmt.Fprintf(w, "Success rate: %d of %d = %s (95%% CI %s-%s); mean adversarial probability of the true class %s.\n\n",
			a.Succeeded, a.N, pct(a.SuccessRate.Est.F()), pct(a.SuccessRate.Lo.F()), pct(a.SuccessRate.Hi.F()), f3(a.MeanConfTrue))
		for _, v := range a.Verdicts {
			fmt.Fprintf(w, "- Observation %s %s\n", v.Observation, v.Text)
		}
		if c := a.IoU; c.Step > 0 {
			fmt.Fprintf(w, "\nObservation 2 is measured after step %d of the per-step trace, which does not stop at the first misclassified step: every image has then taken the same steps, so broken and resisted images carry perturbations of the same size; the attack itself keeps each image's first successful iterate.\n", c.Step)
		}
		if l := a.IoU.Linf; l != nil {
			fmt.Fprintf(w, "\nPerturbation sizes of observation 2's groups: mean L-inf %s (attacked) vs %s (resisted), difference %s: %s (within ±%.2g).\n",
				ci(l.Attacked.Mean), ci(l.Resisted.Mean), ci(l.Diff), map[bool]string{true: "equal", false: "**not equal**"}[l.Equal], l.Margin)
		}
		fmt.Fprintf(w, "\n| metric | step | attacked n | attacked median | attacked mean [95%% CI] | resisted n | resisted median | resisted mean [95%% CI] | difference of means [95%% CI] | r [90%% CI] | p | equivalence p |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, c := range append([]*Comparison{a.Completeness, a.IoU, a.Components}, a.Others...) {
			step := "returned"
			if c.Step > 0 {
				step = fmt.Sprint(c.Step)
			}
			fmt.Fprintf(w, "| %s | %s | %d | %s | %s | %d | %s | %s | %s | %s | %s | %s |\n", c.Metric, step,
				c.Attacked.N, f3(c.Attacked.Median.Est), ci(c.Attacked.Mean),
				c.Resisted.N, f3(c.Resisted.Median.Est), ci(c.Resisted.Mean), ci(c.DiffMean), rci(c.RankBiserial, c.RankBiserialCI), stats.FormatP(c.P.F()), stats.FormatP(c.PEquivalence.F()))
		}
		fmt.Fprintln(w)
		if len(a.Bins) > 0 {
			fmt.Fprintf(w, "Success rate by completeness (area-matched coverage):\n\n| coverage | images | succeeded | rate [95%% CI] |\n|---|---|---|---|\n")
			for _, b := range a.Bins {
				fmt.Fprintf(w, "| %.3g-%.3g | %d | %d | %s |\n", b.Lo, b.Hi, b.Count, b.Successes, pci(b.Rate))
			}
			fmt.Fprintln(w)
		} else if a.BinsNote != "" {
			fmt.Fprintf(w, "Success by completeness: %s.\n\n", a.BinsNote)
		}
		if l := a.Logistic; l != nil {
			if l.Note != "" {
				fmt.Fprintf(w, "Logistic fit of success on area-matched coverage: not possible (%s).\n\n", l.Note)
			} else {
				sep := ""
				if l.Separated {
					sep = " The outcomes are completely separated by coverage, so the slope's size and p-value are not meaningful (its sign is)."
				}
				adj := ""
				if l.AdjNote == "" {
					adj = fmt.Sprintf(" Adjusted for the clean confidence (log-odds of the true class), the coverage slope is %s (p = %s).", f3(l.AdjSlope), stats.FormatP(l.AdjP.F()))
				}
				if l.ClassNote == "" {
					adj += fmt.Sprintf(" Within classes (the true class as a factor), it is %s (p = %s).", f3(l.ClassSlope), stats.FormatP(l.ClassP.F()))
				}
				fmt.Fprintf(w, "Logistic fit of success on area-matched coverage (n = %d): slope %s (SE %s, p = %s); the odds of success change by a factor %s per +0.1 coverage.%s%s\n\n",
					l.N, f3(l.Slope), f3(l.SlopeSE), stats.FormatP(l.P.F()), f3(l.OddsRatio10), sep, adj)
			}
		}
		if sc := a.Steps; sc != nil {
			fmt.Fprintf(w, "Per-step trace (n = %d; step 0 is the clean image):\n\n| step | mean IoU [95%% CI] | mean top-k IoU | success rate [95%% CI] | true-class probability |\n|---|---|---|---|---|\n", sc.N)
			for k := range sc.Step {
				fmt.Fprintf(w, "| %d | %s | %s | %s | %s |\n", sc.Step[k], ci(sc.IoU[k]), f3(sc.IoUTopK[k].Est), pci(sc.Success[k]), f3(sc.Conf[k]))
			}
			fmt.Fprintln(w)
		}
	}
	fmt.Fprintf(w, "Decision rules (docs/analysis.md): p-values are corrected with Holm's method over the attacks that test an observation. A comparison is negligible (does not hold) when the equivalence test shows |r| < %g (the 90%% interval of r inside the margin, corrected p < %g); otherwise it holds when the Mann-Whitney p < %g and r is at least %g in the predicted direction, does not hold when the same is seen the other way, and is inconclusive else. Groups need at least %d images; observation 2 needs both groups equally perturbed (mean L-inf within ±%g eps) and is measured at the last step of the per-step trace for iterative attacks; the attention-gated attack does not test it (its gate links success and IoU). Observation 3 compares each image's IoU at the step where the success rate levels off with its IoU at the last step (bootstrap CI of the mean drop, sign test, Cohen's d_z with equivalence margin %g).\n",
		Negligible, Alpha, Alpha, Negligible, MinGroup, LinfTolerance, NegligibleDZ)
}

func ci(i Interval) string {
	if math.IsNaN(i.Est.F()) {
		return "n/a"
	}
	if math.IsNaN(i.Lo.F()) {
		return f3(i.Est)
	}
	return fmt.Sprintf("%s [%s, %s]", f3(i.Est), f3(i.Lo), f3(i.Hi))
}

func pci(i Interval) string {
	if math.IsNaN(i.Est.F()) {
		return "n/a"
	}
	return fmt.Sprintf("%s [%s, %s]", pct(i.Est.F()), pct(i.Lo.F()), pct(i.Hi.F()))
}

// Schedule describes an iterative attack's steps from its settings, e.g.
// "10 projected steps of 0.0075" ("" for a single-step attack).
func Schedule(settings map[string]any) string {
	kind, _ := settings["kind"].(string)
	if kind != "iterative" && kind != "attention-gated" {
		return ""
	}
	steps, size := settings["steps"], settings["step_size"]
	proj := "projected "
	if p, ok := settings["projected"].(bool); ok && !p {
		proj = "unprojected "
	}
	s := fmt.Sprintf("%v %ssteps of %v", steps, proj, size)
	if r, ok := settings["restarts"]; ok && fmt.Sprint(r) != "1" {
		s += fmt.Sprintf(", %v restarts", r)
	}
	return s
}

// rci formats an estimate with its interval.
func rci(n Num, i Interval) string {
	if math.IsNaN(n.F()) {
		return "n/a"
	}
	if math.IsNaN(i.Lo.F()) {
		return signed(n)
	}
	return fmt.Sprintf("%+.2f [%+.2f, %+.2f]", n.F(), i.Lo.F(), i.Hi.F())
}

func signed(n Num) string {
	if math.IsNaN(n.F()) {
		return "n/a"
	}
	return fmt.Sprintf("%+.2f", n.F())
}

// settingsLine formats attack settings as key=value pairs.
func settingsLine(m map[string]any) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%v", k, m[k]))
	}
	return strings.Join(parts, " ")
}
