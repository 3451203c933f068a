package report

import (
	"fmt"
	"html/template"
	"image"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/arp-robustness/arp/analysis"
	"github.com/arp-robustness/arp/eval"
	"github.com/arp-robustness/arp/rundir"
	"github.com/arp-robustness/arp/stats"
	"github.com/arp-robustness/arp/train"
	"github.com/arp-robustness/arp/viz"
)

// Options configure the report.
type Options struct {
	// Title of the page (default "arp report").
	Title string
	// Examples is the number of gallery examples per attack and outcome
	// (default 4; negative: no galleries).
	Examples int
	// Now stamps the page (default time.Now).
	Now func() time.Time
	// Command is shown as the command that made the report.
	Command string
}

// page is the template's data.
type page struct {
	FontFace                  template.CSS // the @font-face rule of the page's typeface
	FontFamily                string       // its name
	Title, Generated, Command string
	Runs                      []string
	Notes                     []string
	Sections                  []*section
}

// section is one <section> of the page.
type section struct {
	ID, Title string
	Intro     []string
	Blocks    []*block
}

// block is a sub-heading with text, tables, images and figures.
type block struct {
	Title   string
	Text    []string
	Tables  []*table
	Images  []*picture
	Figures []*figure
	// FigureHead labels the images of every figure (shown once).
	FigureHead []string
	Details    []detail // long text shown collapsed
}

// detail is a collapsed <details> element.
type detail struct{ Summary, Text string }

type table struct {
	Caption string
	Head    []string
	Rows    [][]cell
}

type cell struct {
	Text  string
	Class string
	Title string
}

type picture struct {
	Src     template.URL
	Alt     string
	Caption string
	W, H    int
}

// figure is one gallery example: a row of small images with a caption.
type figure struct {
	Images  []*picture
	Caption string
	Class   string
}

// column is one analysis shown as a column of the comparison tables.
type column struct {
	Label string
	Run   *Run
	A     *Analysis
}

func (o Options) withDefaults() Options {
	if o.Title == "" {
		o.Title = "arp report"
	}
	if o.Examples == 0 {
		o.Examples = 4
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// build assembles the page.
func build(runs []*Run, opt Options) *page {
	opt = opt.withDefaults()
	p := &page{FontFace: pageFont(), FontFamily: viz.FontFamily, Title: opt.Title, Generated: opt.Now().UTC().Format("2006-01-02 15:04 UTC"), Command: opt.Command}
	for _, r := range runs {
		p.Runs = append(p.Runs, r.Name)
		p.Notes = append(p.Notes, r.Notes...)
	}
	var cols []column
	for _, r := range runs {
		for _, a := range r.Analyses {
			label := r.Name
			method := a.Summary.Header.Config.Method
			if len(r.Analyses) > 1 || method != "gradcam-arp" {
				// analysis/ is labelled by its method, analysis-X/ by X.
				suffix := method
				if base := filepath.Base(a.Dir); strings.HasPrefix(base, "analysis-") {
					suffix = strings.TrimPrefix(base, "analysis-")
				} else if base != "analysis" {
					suffix = base
				}
				label += " · " + suffix
			}
			cols = append(cols, column{Label: label, Run: r, A: a})
		}
	}
	p.Sections = append(p.Sections, overview(runs, cols))
	if len(cols) > 0 {
		p.Sections = append(p.Sections, verdicts(cols))
	}
	if s := evaluation(runs); s != nil {
		p.Sections = append(p.Sections, s)
	}
	if s := training(runs); s != nil {
		p.Sections = append(p.Sections, s)
	}
	if len(cols) > 0 {
		p.Sections = append(p.Sections, attention(cols))
		if opt.Examples > 0 {
			p.Sections = append(p.Sections, galleries(cols, opt.Examples))
		}
	}
	p.Sections = append(p.Sections, guide())
	return p
}

// trainingSettings extracts what the overview shows from model.json.
func trainingSettings(r *Run) (defense, steps, objective string) {
	t, err := train.TrainingOf(r.Info)
	if t == nil || err != nil {
		return "", "", ""
	}
	s := t.Settings
	if s.Steps > 0 {
		steps = fmt.Sprintf("%d steps of %d images", s.Steps, s.BatchSize)
		if t.StepsDone > 0 && t.StepsDone < s.Steps {
			steps += fmt.Sprintf(" (%d done)", t.StepsDone)
		}
	}
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(s.ObjectiveSettings)) {
		if k != "defense" {
			kv = append(kv, fmt.Sprintf("%s=%v", k, s.ObjectiveSettings[k]))
		}
	}
	return s.Objective, steps, strings.Join(kv, " ")
}

func overview(runs []*Run, cols []column) *section {
	t := &table{Head: []string{""}}
	for _, r := range runs {
		t.Head = append(t.Head, r.Name)
	}
	row := func(name string, f func(r *Run) string) {
		cells := []cell{{Text: name, Class: "rowhead"}}
		any := false
		for _, r := range runs {
			v := f(r)
			any = any || v != ""
			if v == "" {
				v = "–"
			}
			cells = append(cells, cell{Text: v})
		}
		if any {
			t.Rows = append(t.Rows, cells)
		}
	}
	row("directory", func(r *Run) string { return r.Dir })
	row("architecture", func(r *Run) string {
		if r.Info == nil {
			return ""
		}
		return r.Info.Spec.Arch
	})
	row("defense", func(r *Run) string { d, _, _ := trainingSettings(r); return d })
	row("objective", func(r *Run) string { _, _, o := trainingSettings(r); return o })
	row("training", func(r *Run) string { _, s, _ := trainingSettings(r); return s })
	row("training data", func(r *Run) string {
		if r.Info == nil {
			return ""
		}
		return r.Info.Dataset
	})
	row("test data", func(r *Run) string { return strings.Join(r.Datasets(), ", ") })
	row("clean accuracy (eval)", func(r *Run) string {
		var parts []string
		for _, e := range r.Evals {
			parts = append(parts, fmt.Sprintf("%s (%d/%d)", pct(e.Report.Clean.Accuracy), e.Report.Clean.Correct, e.Report.Clean.Total))
		}
		return strings.Join(parts, "; ")
	})
	row("worst-case robust accuracy", func(r *Run) string {
		var parts []string
		for _, e := range r.Evals {
			for _, th := range e.Report.Threats {
				parts = append(parts, fmt.Sprintf("%s %s eps %g", pct(th.Worst.Accuracy), th.Norm, th.Eps))
			}
		}
		return strings.Join(parts, "; ")
	})
	row("analysed images", func(r *Run) string {
		var parts []string
		for _, a := range r.Analyses {
			s := a.Summary
			parts = append(parts, fmt.Sprintf("%d of %d (%s, %s)", s.Analysed, s.Images, s.Header.Config.Method, s.Header.Data.Spec))
		}
		return strings.Join(parts, "; ")
	})
	row("attention on the object (medians)", func(r *Run) string {
		var parts []string
		for _, a := range r.Analyses {
			if at := a.Summary.Attention; at != nil {
				parts = append(parts, fmt.Sprintf("coverage %s by the area-matched mask (area %s, the object's); %s by the mean-threshold mask (area %s)",
					num(at.CoverageArea.Median.Est.F(), 2), num(at.ObjectArea.Median.Est.F(), 2), num(at.Coverage.Median.Est.F(), 2), num(at.MeanArea.Median.Est.F(), 2)))
			}
		}
		return strings.Join(parts, "; ")
	})
	sec := &section{ID: "overview", Title: "Runs", Blocks: []*block{{Tables: []*table{t}}}}
	if len(cols) == 0 {
		sec.Intro = append(sec.Intro, "No analysis was found, so the attention sections are skipped (run arp analyze).")
	}
	return sec
}

func statusClass(s string) string {
	switch s {
	case analysis.Holds:
		return "holds"
	case analysis.DoesNotHold:
		return "nothold"
	case "mixed":
		return "mixed"
	}
	return "inconclusive"
}

func verdicts(cols []column) *section {
	t := &table{Caption: "Does each observation of the ARP paper hold? One column per analysed model; hover a cell for the details.", Head: []string{"observation"}}
	for _, c := range cols {
		t.Head = append(t.Head, c.Label)
	}
	for i, o := range analysis.Observations {
		cells := []cell{{Text: o.ID + ": " + o.Claim, Class: "rowhead"}}
		for _, c := range cols {
			ov := c.A.Summary.Overall[i]
			cells = append(cells, cell{Text: ov.Status, Class: statusClass(ov.Status), Title: ov.Text})
		}
		t.Rows = append(t.Rows, cells)
	}
	b := &block{Tables: []*table{t}}
	// Per attack verdicts.
	keys := attackKeys(cols)
	t2 := &table{Caption: "Per attack (effect size: rank-biserial r for 1-2b, Cohen's d_z for 3).", Head: []string{"attack", "observation"}}
	for _, c := range cols {
		t2.Head = append(t2.Head, c.Label)
	}
	for _, k := range keys {
		for _, o := range analysis.Observations {
			cells := []cell{{Text: k, Class: "rowhead"}, {Text: o.ID}}
			found := false
			for _, c := range cols {
				v, ok := verdictOf(c.A.Summary, k, o.ID)
				if !ok {
					cells = append(cells, cell{Text: "–"})
					continue
				}
				found = true
				txt := v.Status
				if v.Status != analysis.Inconclusive && v.Strength != "" {
					txt += fmt.Sprintf(" (%s, %s = %s [%s, %s], Holm p = %s)", v.Strength, shortEffect(v.EffectName), num(v.Effect.F(), 2),
						num(v.EffectCI.Lo.F(), 2), num(v.EffectCI.Hi.F(), 2), stats.FormatP(v.PHolm.F()))
				}
				cells = append(cells, cell{Text: txt, Class: statusClass(v.Status), Title: v.Text})
			}
			if found {
				t2.Rows = append(t2.Rows, cells)
			}
		}
	}
	b.Tables = append(b.Tables, t2)
	for _, c := range cols {
		var lines []string
		for _, a := range c.A.Summary.Attacks {
			for _, v := range a.Verdicts {
				lines = append(lines, fmt.Sprintf("%s · %s · observation %s %s", c.Label, a.Key, v.Observation, v.Text))
			}
		}
		b.Details = append(b.Details, detail{"all verdicts of " + c.Label, strings.Join(lines, "\n")})
	}
	return &section{ID: "verdicts", Title: "Verdicts", Blocks: []*block{b},
		Intro: []string{"1: images whose attention covers less of the object are attacked more often. 2a: a successful attack moves the attention (lower clean/adversarial IoU). 2b: it scatters the attention (more connected pieces). 3: further iterative steps keep shrinking the IoU after the success rate levels off. p-values are corrected over the attacks of an observation (Holm). \"does not hold (negligible)\" needs an equivalence test: the effect's 90% interval inside ±0.1 (r) or ±0.2 (d_z); \"holds\" needs p < 0.05 and an effect of at least that size in the predicted direction; the same the other way is \"does not hold (opposite)\"; otherwise \"inconclusive\". Observation 2 is measured at the last step of the per-step trace for iterative attacks and needs equally perturbed groups; the attention-gated attack does not test it (see the guide at the end)."}}
}

func shortEffect(name string) string {
	switch name {
	case "rank-biserial r":
		return "r"
	case "Cohen's d_z":
		return "d_z"
	}
	return name
}

func verdictOf(s *analysis.Summary, key, obs string) (analysis.Verdict, bool) {
	for _, a := range s.Attacks {
		if a.Key != key {
			continue
		}
		for _, v := range a.Verdicts {
			if v.Observation == obs {
				return v, true
			}
		}
	}
	return analysis.Verdict{}, false
}

// attackKeys lists the attack keys of all analyses in order of appearance.
func attackKeys(cols []column) []string {
	var keys []string
	seen := map[string]bool{}
	for _, c := range cols {
		for _, a := range c.A.Summary.Attacks {
			if !seen[a.Key] {
				seen[a.Key] = true
				keys = append(keys, a.Key)
			}
		}
	}
	return keys
}

func attackOf(s *analysis.Summary, key string) *analysis.AttackSummary {
	for _, a := range s.Attacks {
		if a.Key == key {
			return a
		}
	}
	return nil
}

// evaluation builds the robustness tables and plots.
func evaluation(runs []*Run) *section {
	type ecol struct {
		label string
		e     *Eval
	}
	var ecols []ecol
	for _, r := range runs {
		for _, e := range r.Evals {
			label := r.Name
			if len(r.Evals) > 1 {
				label += " · " + filepath.Base(e.Path)
			}
			ecols = append(ecols, ecol{label, e})
		}
	}
	if len(ecols) == 0 {
		return nil
	}
	sec := &section{ID: "evaluation", Title: "Robustness evaluation"}
	t := &table{Caption: "Accuracy under attack (eps on the [0,1] pixel scale). In cascade mode each row is the accuracy after that attack and all earlier ones; the worst case counts an image as robust only if every attack failed.", Head: []string{"threat", "attack"}}
	for _, c := range ecols {
		t.Head = append(t.Head, c.label)
	}
	type rowKey struct {
		norm   string
		eps    float64
		attack string
	}
	var order []rowKey
	seen := map[rowKey]bool{}
	add := func(k rowKey) {
		if !seen[k] {
			seen[k] = true
			order = append(order, k)
		}
	}
	cleanRow := []cell{{Text: "none", Class: "rowhead"}, {Text: "clean"}}
	for _, c := range ecols {
		cleanRow = append(cleanRow, cell{Text: pct(c.e.Report.Clean.Accuracy), Class: "num",
			Title: fmt.Sprintf("%d of %d", c.e.Report.Clean.Correct, c.e.Report.Clean.Total)})
		for _, th := range c.e.Report.Threats {
			for _, a := range th.Attacks {
				add(rowKey{th.Norm, th.Eps, a.Spec})
			}
			add(rowKey{th.Norm, th.Eps, "worst case"})
		}
	}
	sort.SliceStable(order, func(i, j int) bool {
		if order[i].norm != order[j].norm {
			return order[i].norm > order[j].norm // linf before l2
		}
		return order[i].eps < order[j].eps
	})
	t.Rows = append(t.Rows, cleanRow)
	for _, k := range order {
		cls := ""
		if k.attack == "worst case" {
			cls = "strong"
		}
		cells := []cell{{Text: fmt.Sprintf("%s %g", k.norm, k.eps), Class: "rowhead"}, {Text: k.attack, Class: cls}}
		for _, c := range ecols {
			v := cell{Text: "–"}
			for _, th := range c.e.Report.Threats {
				if th.Norm != k.norm || th.Eps != k.eps {
					continue
				}
				if k.attack == "worst case" {
					v = cell{Text: pct(th.Worst.Accuracy), Class: "num strong", Title: fmt.Sprintf("%d of %d", th.Worst.Correct, th.Worst.Total)}
				}
				for _, a := range th.Attacks {
					if a.Spec == k.attack {
						v = cell{Text: pct(a.Accuracy.Accuracy), Class: "num",
							Title: fmt.Sprintf("%d of %d; broke %d of %d attacked; mean L-inf %.3g; %.1fs", a.Accuracy.Correct, a.Accuracy.Total, a.Broken, a.Attacked, a.MeanLinf, a.Seconds)}
					}
				}
			}
			cells = append(cells, v)
		}
		t.Rows = append(t.Rows, cells)
	}
	b := &block{Tables: []*table{t}}
	// Sanity checks.
	ct := &table{Caption: "Sanity checks of docs/evaluation.md (hover for details).", Head: []string{"check"}}
	for _, c := range ecols {
		ct.Head = append(ct.Head, c.label)
	}
	var checkNames []string
	seenC := map[string]bool{}
	for _, c := range ecols {
		for _, ch := range c.e.Report.Checks {
			if !seenC[ch.Name] {
				seenC[ch.Name] = true
				checkNames = append(checkNames, ch.Name)
			}
		}
	}
	for _, n := range checkNames {
		cells := []cell{{Text: n, Class: "rowhead"}}
		for _, c := range ecols {
			v := cell{Text: "–"}
			for _, ch := range c.e.Report.Checks {
				if ch.Name == n {
					v = cell{Text: ch.Status, Class: map[string]string{eval.Pass: "holds", eval.Warn: "nothold"}[ch.Status], Title: ch.Detail}
				}
			}
			cells = append(cells, v)
		}
		ct.Rows = append(ct.Rows, cells)
	}
	if len(ct.Rows) > 0 {
		b.Tables = append(b.Tables, ct)
	}
	for _, c := range ecols {
		r := c.e.Report
		b.Details = append(b.Details, detail{"threat model of " + c.label, r.ImagesLine() + "\n" + r.ModeLine() + "\n" + strings.Join(r.ThreatLines(), "\n")})
	}
	sec.Blocks = append(sec.Blocks, b)
	// Plots: worst case of every run against eps, and each run's own curves.
	pb := &block{Title: "Accuracy against eps"}
	for _, norm := range []string{"linf", "l2"} {
		lp := viz.LinePlot{Title: "worst-case accuracy, " + normName(norm), XLabel: normName(norm) + " eps on the [0,1] pixel scale", YLabel: "accuracy", YMin: 0, YMax: 1}
		for _, c := range ecols {
			s := viz.Series{Name: c.label, X: []float64{0}, Y: []float64{c.e.Report.Clean.Accuracy}}
			for _, th := range c.e.Report.Threats {
				if th.Norm == norm {
					s.X = append(s.X, th.Eps)
					s.Y = append(s.Y, th.Worst.Accuracy)
				}
			}
			if len(s.X) > 1 {
				lp.Series = append(lp.Series, s)
			}
		}
		if len(lp.Series) > 0 {
			pb.addPlot(lp.Image, "worst-case accuracy against "+normName(norm)+" eps")
		}
		for _, c := range ecols {
			if p, ok := c.e.Report.Plot(norm); ok {
				p.Title = c.label + ": " + normName(norm)
				pb.addPlot(p.Image, c.label+": accuracy per attack against "+normName(norm)+" eps")
			}
		}
	}
	if len(pb.Images) > 0 || len(pb.Text) > 0 {
		sec.Blocks = append(sec.Blocks, pb)
	}
	return sec
}

func normName(n string) string {
	if n == "linf" {
		return "L-inf"
	}
	return "L2"
}

// addPlot renders a plot into the block, or a note when it cannot be drawn.
func (b *block) addPlot(draw func() (image.Image, error), alt string) {
	img, err := draw()
	if err != nil {
		b.Text = append(b.Text, fmt.Sprintf("(%s: not drawn: %v)", alt, err))
		return
	}
	b.addImage(img, alt, "")
}

func (b *block) addImage(img image.Image, alt, caption string) {
	uri, err := viz.PNGDataURI(img)
	if err != nil {
		b.Text = append(b.Text, fmt.Sprintf("(%s: %v)", alt, err))
		return
	}
	bd := img.Bounds()
	b.Images = append(b.Images, &picture{Src: template.URL(uri), Alt: alt, Caption: caption, W: bd.Dx(), H: bd.Dy()})
}

// training plots metrics.jsonl of every run.
func training(runs []*Run) *section {
	sec := &section{ID: "training", Title: "Training"}
	b := &block{}
	series := func(key string) []viz.Series {
		var out []viz.Series
		for _, r := range runs {
			s := viz.Series{Name: r.Name}
			for _, m := range r.Training {
				st, ok1 := m["step"]
				v, ok2 := m[key]
				if ok1 && ok2 {
					s.X = append(s.X, st)
					s.Y = append(s.Y, v)
				}
			}
			if len(s.X) > 0 {
				out = append(out, s)
			}
		}
		return out
	}
	if s := series("loss"); len(s) > 0 {
		b.addPlot(viz.LinePlot{Title: "training loss", XLabel: "step", YLabel: "loss", Series: s, NoPoints: true}.Image, "training loss")
	}
	var acc []viz.Series
	for _, k := range []struct{ key, name string }{{"train_acc", "train"}, {"eval_clean_acc", "held-out clean"}, {"eval_step_ll_acc", "held-out Step-LL"}} {
		for _, s := range series(k.key) {
			s.Name += " " + k.name
			acc = append(acc, s)
		}
	}
	if len(acc) > 0 {
		b.addPlot(viz.LinePlot{Title: "accuracy during training", XLabel: "step", YLabel: "accuracy", Series: acc, YMin: 0, YMax: 1, NoPoints: true}.Image, "accuracy during training")
	}
	for _, r := range runs {
		if r.Training == nil && r.Curves != nil {
			if img, _, err := image.Decode(strings.NewReader(string(r.Curves))); err == nil {
				b.addImage(img, r.Name+" training curves", r.Name+" ("+rundir.Curves+")")
			} else {
				b.Text = append(b.Text, fmt.Sprintf("%s: %s cannot be read: %v", r.Name, rundir.Curves, err))
			}
		}
	}
	if len(b.Images) == 0 && len(b.Text) == 0 {
		return nil
	}
	sec.Blocks = append(sec.Blocks, b)
	return sec
}

// attention builds the statistics and plots per attack.
func attention(cols []column) *section {
	sec := &section{ID: "attention", Title: "Attention under attack"}
	var desc []string
	for _, c := range cols {
		desc = append(desc, c.Label+": "+c.A.Summary.Describe()+".")
	}
	sec.Intro = desc
	for _, key := range attackKeys(cols) {
		b := &block{Title: key}
		t := &table{Head: []string{"measure"}}
		var present []column
		for _, c := range cols {
			if attackOf(c.A.Summary, key) != nil {
				present = append(present, c)
				t.Head = append(t.Head, c.Label)
			}
		}
		row := func(name string, f func(a *analysis.AttackSummary) cell) {
			cells := []cell{{Text: name, Class: "rowhead"}}
			for _, c := range present {
				cells = append(cells, f(attackOf(c.A.Summary, key)))
			}
			t.Rows = append(t.Rows, cells)
		}
		row("settings", func(a *analysis.AttackSummary) cell { return cell{Text: settingsLine(a.Settings), Class: "small"} })
		row("success rate", func(a *analysis.AttackSummary) cell {
			return cell{Text: fmt.Sprintf("%s [%s, %s] (%d/%d)", pct(a.SuccessRate.Est.F()), pct(a.SuccessRate.Lo.F()), pct(a.SuccessRate.Hi.F()), a.Succeeded, a.N), Class: "num"}
		})
		for _, cmp := range []struct {
			name string
			get  func(a *analysis.AttackSummary) *analysis.Comparison
		}{
			{"area-matched coverage (obs. 1)", func(a *analysis.AttackSummary) *analysis.Comparison { return a.Completeness }},
			{"clean/adv IoU (obs. 2a)", func(a *analysis.AttackSummary) *analysis.Comparison { return a.IoU }},
			{"Δ pieces (obs. 2b)", func(a *analysis.AttackSummary) *analysis.Comparison { return a.Components }},
		} {
			row(cmp.name+": attacked vs resisted", func(a *analysis.AttackSummary) cell {
				c := cmp.get(a)
				return cell{Text: fmt.Sprintf("median %s vs %s; mean %s vs %s", num(c.Attacked.Median.Est.F(), 3), num(c.Resisted.Median.Est.F(), 3),
					num(c.Attacked.Mean.Est.F(), 3), num(c.Resisted.Mean.Est.F(), 3)), Class: "num",
					Title: fmt.Sprintf("difference of means %s [%s, %s]; n = %d attacked, %d resisted%s", num(c.DiffMean.Est.F(), 3), num(c.DiffMean.Lo.F(), 3), num(c.DiffMean.Hi.F(), 3), c.Attacked.N, c.Resisted.N, stepNote(c))}
			})
			row(cmp.name+": r, p", func(a *analysis.AttackSummary) cell {
				c := cmp.get(a)
				if c.Note != "" && math.IsNaN(c.P.F()) {
					return cell{Text: c.Note, Class: "small"}
				}
				return cell{Text: fmt.Sprintf("r = %s [%s, %s], p = %s", num(c.RankBiserial.F(), 2), num(c.RankBiserialCI.Lo.F(), 2), num(c.RankBiserialCI.Hi.F(), 2), stats.FormatP(c.P.F())), Class: "num"}
			})
		}
		row("logistic: success on area-matched coverage", func(a *analysis.AttackSummary) cell {
			l := a.Logistic
			if l == nil {
				return cell{Text: "–"}
			}
			if l.Note != "" {
				return cell{Text: l.Note, Class: "small"}
			}
			sep := ""
			if l.Separated {
				sep = " (separated)"
			}
			return cell{Text: fmt.Sprintf("slope %s, p = %s; odds ×%s per +0.1%s", num(l.Slope.F(), 3), stats.FormatP(l.P.F()), num(l.OddsRatio10.F(), 3), sep), Class: "num",
				Title: fmt.Sprintf("adjusted for clean confidence: slope %s, p = %s; within classes: slope %s, p = %s",
					num(l.AdjSlope.F(), 3), stats.FormatP(l.AdjP.F()), num(l.ClassSlope.F(), 3), stats.FormatP(l.ClassP.F()))}
		})
		anySteps := false
		for _, c := range present {
			anySteps = anySteps || attackOf(c.A.Summary, key).Steps != nil
		}
		if anySteps {
			row("per step (obs. 3)", func(a *analysis.AttackSummary) cell {
				sc := a.Steps
				if sc == nil {
					return cell{Text: "–"}
				}
				last := len(sc.Step) - 1
				return cell{Text: fmt.Sprintf("success levels off at step %d; IoU %s → %s by step %d (drop %s)", sc.Plateau,
					num(sc.IoU[min(sc.Plateau, last)].Est.F(), 3), num(sc.IoU[last].Est.F(), 3), last, num(sc.IoUDrop.Est.F(), 3)), Class: "num"}
			})
		}
		b.Tables = append(b.Tables, t)
		attentionPlots(b, key, present)
		sec.Blocks = append(sec.Blocks, b)
	}
	return sec
}

// stepNote says where a comparison's groups come from.
func stepNote(c *analysis.Comparison) string {
	s := ""
	if c.Step > 0 {
		s = fmt.Sprintf("; after step %d of the per-step trace", c.Step)
	}
	if l := c.Linf; l != nil {
		s += fmt.Sprintf("; mean L-inf %s vs %s (%s)", num(l.Attacked.Mean.Est.F(), 3), num(l.Resisted.Mean.Est.F(), 3),
			map[bool]string{true: "equal", false: "not equal: no verdict"}[l.Equal])
	}
	return s
}

// attentionPlots draws the histograms, bars and per-step curves of one
// attack.
func attentionPlots(b *block, key string, cols []column) {
	edges := []float64{0, 0.2, 0.4, 0.6, 0.8, 1}
	bc := viz.BarChart{Title: key + ": success rate by coverage", XLabel: "coverage of the object by the clean attention (area-matched mask)", YLabel: "attack success rate (95% Wilson CI)", YMin: 0, YMax: 1}
	for i := 0; i+1 < len(edges); i++ {
		bc.Categories = append(bc.Categories, fmt.Sprintf("%.1f-%.1f", edges[i], edges[i+1]))
	}
	for _, c := range cols {
		var x []float64
		var y []bool
		var covA, covR, iouA, iouR []float64
		for _, r := range c.A.Records {
			a := r.Attacks[key]
			if !r.Analysed() || a == nil {
				continue
			}
			cov := r.Clean.CoverageArea.F()
			if !math.IsNaN(cov) {
				x = append(x, cov)
				y = append(y, a.Success)
				if a.Success {
					covA = append(covA, cov)
				} else {
					covR = append(covR, cov)
				}
			}
			// the IoU as observation 2 compares it: for traced attacks
			// after the last step of the trace
			iou, broken := a.IoU.F(), a.Success
			if k := attackOf(c.A.Summary, key).IoU.Step; k > 0 && len(a.StepIoU) >= k {
				iou, broken = a.StepIoU[k-1].F(), a.StepSuccess[k-1]
			}
			if broken {
				iouA = append(iouA, iou)
			} else {
				iouR = append(iouR, iou)
			}
		}
		if len(x) > 0 {
			if bins, err := stats.BinEdges(x, y, edges, 0.95); err == nil {
				bars := viz.Bars{Name: c.Label}
				for _, bn := range bins {
					v, lo, hi := bn.Rate, bn.RateLo, bn.RateHi
					if bn.Count == 0 {
						v, lo, hi = math.NaN(), math.NaN(), math.NaN()
					}
					bars.Values = append(bars.Values, v)
					bars.Lo = append(bars.Lo, lo)
					bars.Hi = append(bars.Hi, hi)
				}
				bc.Groups = append(bc.Groups, bars)
			}
			b.addPlot(viz.Histogram{Title: c.Label + " · " + key + ": coverage", XLabel: "coverage of the object by the clean attention (area-matched mask)",
				Groups: []viz.Group{{Name: "attacked", Values: covA}, {Name: "resisted", Values: covR}},
				Min:    0, Max: 1, Bins: 20, Width: 560, Height: 380}.Image, c.Label+" "+key+" coverage histogram")
		}
		if len(iouA)+len(iouR) > 0 {
			b.addPlot(viz.Histogram{Title: c.Label + " · " + key + ": clean/adv IoU", XLabel: "IoU of clean and adversarial attention masks",
				Groups: []viz.Group{{Name: "attacked", Values: iouA}, {Name: "resisted", Values: iouR}},
				Min:    0, Max: 1, Bins: 20, Width: 560, Height: 380}.Image, c.Label+" "+key+" IoU histogram")
		}
	}
	if len(bc.Groups) > 0 {
		b.addPlot(bc.Image, key+" success rate by coverage")
	}
	iou := viz.LinePlot{Title: key + ": clean/adv IoU per step", XLabel: "attack step", YLabel: "mean IoU (mean threshold)", YMin: 0, YMax: 1}
	succ := viz.LinePlot{Title: key + ": success rate per step", XLabel: "attack step", YLabel: "success rate"}
	for _, c := range cols {
		sc := attackOf(c.A.Summary, key).Steps
		if sc == nil {
			continue
		}
		si := viz.Series{Name: c.Label}
		ss := viz.Series{Name: c.Label}
		for k, st := range sc.Step {
			si.X = append(si.X, float64(st))
			si.Y = append(si.Y, sc.IoU[k].Est.F())
			ss.X = append(ss.X, float64(st))
			ss.Y = append(ss.Y, sc.Success[k].Est.F())
		}
		iou.Series = append(iou.Series, si)
		succ.Series = append(succ.Series, ss)
	}
	if len(iou.Series) > 0 {
		b.addPlot(iou.Image, key+" IoU per step")
		b.addPlot(succ.Image, key+" success per step")
	}
}

func guide() *section {
	return &section{ID: "guide", Title: "How to read this report", Intro: []string{
		"Attention maps are Grad-CAM maps (the ARP paper's variant by default: normalised gradients, no ReLU, softmax over positions) of the true class at the model's attention layer, or LIME explanations. The attention region is the mean-threshold mask (M > mean M) at input resolution; the paper's top-k mask is reported too.",
		"Completeness (observation 1) is the coverage |A ∩ G| / |G| of the ground-truth object G (a digit's pixels above 0.5, a garment's above 0.1, or the union of VOC boxes) by the clean area-matched attention region A (the |G| highest pixels of the map): a mask's coverage grows with its area alone, so completeness is compared on masks of the object's own area (the Runs table gives the mean-threshold mask's coverage next to its area). Images whose attack succeeded are \"attacked\", the others \"resisted\"; only correctly classified images are analysed. For iterative attacks observation 2 compares the images at the last step of the per-step trace, where all are equally perturbed (the attack itself stops an image at its first success, leaving broken images less perturbed).",
		"Group comparisons give medians, means with 95% bootstrap intervals, the Mann-Whitney U test and the rank-biserial correlation r with its 90% interval (DeLong; positive: attacked images score higher; |r| < 0.1 negligible, < 0.3 small, < 0.5 medium, otherwise large; \"negligible\" as a verdict needs the whole interval inside ±0.1). Success rates carry 95% Wilson intervals. The logistic fit gives how the odds of a successful attack change per +0.1 coverage; its tooltip gives the same fit adjusted for the clean confidence (often the stronger predictor) and within classes (the true class as a factor).",
		"Observation 3 uses the per-step traces of the iterative attacks: the step where the success rate levels off (within max(0.5 points, 10%) of its best) and the paired IoU drop from there to the last step (bootstrap interval, sign test, Cohen's d_z; |d_z| < 0.2 is negligible).",
		"Gallery columns: clean image; adversarial image; clean map over the clean image with its mask outlined in white and its colour scale under it (the map's smallest and largest values); adversarial map likewise; masks: clean only blue, adversarial only red, both white, ground truth outlined in green.",
	}}
}

func pct(x float64) string {
	if math.IsNaN(x) {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%%", 100*x)
}

func num(x float64, digits int) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "n/a"
	}
	return fmt.Sprintf("%.*g", digits, x)
}

func settingsLine(m map[string]any) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%v", k, m[k]))
	}
	return strings.Join(parts, " ")
}
