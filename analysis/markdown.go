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
)

// WriteFiles writes summary.json and summary.md into dir (atomically).
func (s *Summary) WriteFiles(dir string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := checkpoint.AtomicWriteFile(filepath.Join(dir, rundir.AnalysisJSON), append(b, '\n'), 0o644); err != nil {
		return err
	}
	var md strings.Builder
	s.Markdown(&md)
	return checkpoint.AtomicWriteFile(filepath.Join(dir, rundir.AnalysisMD), []byte(md.String()), 0o644)
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
	fmt.Fprintf(w, "## Verdicts\n\n| # | claim | verdict | where |\n|---|---|---|---|\n")
	for _, o := range s.Overall {
		fmt.Fprintf(w, "| %s | %s | **%s** | %s |\n", o.Observation, o.Claim, o.Status, o.Text)
	}
	fmt.Fprintln(w)
	for _, a := range s.Attacks {
		fmt.Fprintf(w, "## %s\n\n", a.Key)
		fmt.Fprintf(w, "Settings: `%s`\n\n", settingsLine(a.Settings))
		fmt.Fprintf(w, "Success rate: %d of %d = %s (95%% CI %s-%s); mean adversarial probability of the true class %s.\n\n",
			a.Succeeded, a.N, pct(a.SuccessRate.Est.F()), pct(a.SuccessRate.Lo.F()), pct(a.SuccessRate.Hi.F()), f3(a.MeanConfTrue))
		for _, v := range a.Verdicts {
			fmt.Fprintf(w, "- Observation %s %s\n", v.Observation, v.Text)
		}
		fmt.Fprintf(w, "\n| metric | attacked n | attacked median | attacked mean [95%% CI] | resisted n | resisted median | resisted mean [95%% CI] | difference of means [95%% CI] | r | p |\n|---|---|---|---|---|---|---|---|---|---|\n")
		for _, c := range append([]*Comparison{a.Completeness, a.IoU, a.Components}, a.Others...) {
			fmt.Fprintf(w, "| %s | %d | %s | %s | %d | %s | %s | %s | %s | %s |\n", c.Metric,
				c.Attacked.N, f3(c.Attacked.Median.Est), ci(c.Attacked.Mean),
				c.Resisted.N, f3(c.Resisted.Median.Est), ci(c.Resisted.Mean), ci(c.DiffMean), signed(c.RankBiserial), FormatP(c.P.F()))
		}
		fmt.Fprintln(w)
		if len(a.Bins) > 0 {
			fmt.Fprintf(w, "Success rate by completeness (coverage):\n\n| coverage | images | succeeded | rate [95%% CI] |\n|---|---|---|---|\n")
			for _, b := range a.Bins {
				fmt.Fprintf(w, "| %.3g-%.3g | %d | %d | %s |\n", b.Lo, b.Hi, b.Count, b.Successes, pci(b.Rate))
			}
			fmt.Fprintln(w)
		} else if a.BinsNote != "" {
			fmt.Fprintf(w, "Success by completeness: %s.\n\n", a.BinsNote)
		}
		if l := a.Logistic; l != nil {
			if l.Note != "" {
				fmt.Fprintf(w, "Logistic fit of success on coverage: not possible (%s).\n\n", l.Note)
			} else {
				sep := ""
				if l.Separated {
					sep = " The outcomes are completely separated by coverage, so the slope's size and p-value are not meaningful (its sign is)."
				}
				adj := ""
				if l.AdjNote == "" {
					adj = fmt.Sprintf(" Adjusted for the clean confidence (log-odds of the true class), the coverage slope is %s (p = %s).", f3(l.AdjSlope), FormatP(l.AdjP.F()))
				}
				if l.ClassNote == "" {
					adj += fmt.Sprintf(" Within classes (the true class as a factor), it is %s (p = %s).", f3(l.ClassSlope), FormatP(l.ClassP.F()))
				}
				fmt.Fprintf(w, "Logistic fit of success on coverage (n = %d): slope %s (SE %s, p = %s); the odds of success change by a factor %s per +0.1 coverage.%s%s\n\n",
					l.N, f3(l.Slope), f3(l.SlopeSE), FormatP(l.P.F()), f3(l.OddsRatio10), sep, adj)
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
	fmt.Fprintf(w, "Decision rules: a comparison holds when the Mann-Whitney p < %g and the attacked group differs in the predicted direction; it does not hold when it differs significantly the other way, or when the effect is negligible (|r| < %g) with at least %d images per group; otherwise it is inconclusive (groups need at least %d images). Observation 3 compares each image's IoU at the step where the success rate levels off with its IoU at the last step (bootstrap CI of the mean drop and a sign test).\n",
		Alpha, Negligible, MinGroupNull, MinGroup)
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
