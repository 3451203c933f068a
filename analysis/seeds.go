package analysis

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/arp-robustness/arp/limits"
	"github.com/arp-robustness/arp/rundir"
	"github.com/arp-robustness/arp/stats"
)

// ReadSummary reads the summary.json of an analysis directory (or the file
// itself when path names one).
func ReadSummary(path string) (*Summary, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, rundir.AnalysisJSON)
	}
	b, err := limits.ReadFile(path, limits.MaxJSONFile)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s is missing (run arp analyze first)", path)
		}
		return nil, err
	}
	s := new(Summary)
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if s.Header == nil || len(s.Attacks) == 0 {
		return nil, fmt.Errorf("%s: not an analysis summary (no header or no attacks)", path)
	}
	if !s.Complete {
		return nil, fmt.Errorf("%s: the analysis has not finished (resume it with arp analyze)", path)
	}
	return s, nil
}

// SeedGroup is one training recipe analysed once per training seed.
type SeedGroup struct {
	Name      string
	Summaries []*Summary
}

// Outcome classes of one verdict, finer than its status: a "does not
// hold" is either an equivalence shown (negligible) or a significant
// difference the other way (opposite).
const (
	OutcomeHolds        = "holds"
	OutcomeNegligible   = "negligible"
	OutcomeOpposite     = "opposite"
	OutcomeInconclusive = "inconclusive"
	OutcomeNotTested    = "not tested"
)

// Outcome classifies a verdict: holds, negligible, opposite, inconclusive
// or not tested.
func (v Verdict) Outcome() string {
	switch v.Status {
	case Holds:
		return OutcomeHolds
	case DoesNotHold:
		if v.Strength == "negligible" || v.PEquivalenceHolm.F() < Alpha {
			return OutcomeNegligible
		}
		return OutcomeOpposite
	case NotTested:
		return OutcomeNotTested
	}
	return OutcomeInconclusive
}

// SeedVerdicts lines up the verdicts of several analyses, a group of
// training seeds per recipe, observation by observation and attack by
// attack, so that a reader sees whether a verdict repeats over seeds.
type SeedVerdicts struct {
	Groups []string `json:"groups"`
	// Seeds are each group's training seeds, in the order of its cells.
	Seeds [][]uint64        `json:"seeds"`
	Rows  []SeedVerdictRow  `json:"rows"`
	Cover []SeedCoverageRow `json:"coverage"`
	// Settings names what every analysis shares (attacks, eps, method,
	// layer, data); analyses that differ in these are refused.
	Settings string `json:"settings"`
}

// SeedVerdictRow is one observation tested by one attack.
type SeedVerdictRow struct {
	Observation string `json:"observation"`
	Attack      string `json:"attack"`
	// Cells are per group the verdict on each seed; Effects the same
	// verdicts' effect sizes (rank-biserial r, or Cohen's d_z for
	// observation 3), with their mean and 95% t interval over seeds.
	Cells   [][]SeedVerdictCell `json:"cells"`
	Effects []SeedEffect        `json:"effects"`
	// Repeats says per group whether every seed gave the same outcome
	// and it is not inconclusive.
	Repeats []bool `json:"repeats"`
}

// SeedVerdictCell is one seed's verdict.
type SeedVerdictCell struct {
	Seed     uint64   `json:"seed"`
	Outcome  string   `json:"outcome"`
	Strength string   `json:"strength,omitempty"`
	Effect   Num      `json:"effect"`
	EffectCI Interval `json:"effect_ci90"`
}

// SeedEffect is the mean of a verdict's effect size over seeds with its
// 95% Student t interval over seeds (NaN bounds with fewer than two).
type SeedEffect struct {
	Name string `json:"name"`
	Mean Num    `json:"mean"`
	Lo   Num    `json:"lo"`
	Hi   Num    `json:"hi"`
}

// SeedCoverageRow is one group's clean attention: per seed the
// area-matched coverage of the object (observation 1's measure of
// completeness) and the mean-threshold mask's coverage next to its area.
type SeedCoverageRow struct {
	Group        string     `json:"group"`
	Seeds        []uint64   `json:"seeds"`
	CoverageArea []Interval `json:"coverage_area_matched"`
	CoverageMean []Interval `json:"coverage_mean_mask"`
	MeanArea     []Interval `json:"mean_mask_area"`
}

// settingsKey is what analyses compared over seeds must share.
func settingsKey(s *Summary) string {
	h := s.Header
	var att []string
	for _, a := range h.Attacks {
		att = append(att, a.Key)
	}
	return fmt.Sprintf("data %s, method %s, layer %s, eps %g, attacks %s", h.Data.Name, h.Config.Method, h.Layer, h.Config.Eps, strings.Join(att, ","))
}

// seedOfSummary is the training seed the analysed model records (else its
// position in the group, from 1).
func seedOfSummary(s *Summary, i int) uint64 {
	if s.Header.Model.Info != nil && s.Header.Model.Info.Seed != 0 {
		return s.Header.Model.Info.Seed
	}
	return uint64(i + 1)
}

// CompareSeedVerdicts lines up the verdicts of the groups' analyses. Every
// analysis must have run the same attacks at the same budget with the
// same attention method and layer on the same data.
func CompareSeedVerdicts(groups []SeedGroup) (*SeedVerdicts, error) {
	if len(groups) == 0 {
		return nil, fmt.Errorf("no groups to compare")
	}
	groups = slices.Clone(groups) // sorted by seed below; the caller's groups stay as given
	var ref *Summary
	seen := map[string]bool{}
	c := &SeedVerdicts{}
	for gi, g := range groups {
		if g.Name == "" || len(g.Summaries) == 0 {
			return nil, fmt.Errorf("group %d: a group needs a name and at least one analysis", gi+1)
		}
		if seen[g.Name] {
			return nil, fmt.Errorf("group %s is given twice", g.Name)
		}
		seen[g.Name] = true
		type seeded struct {
			seed uint64
			s    *Summary
		}
		ss := make([]seeded, len(g.Summaries))
		for i, s := range g.Summaries {
			if ref == nil {
				ref = s
			} else if a, b := settingsKey(ref), settingsKey(s); a != b {
				return nil, fmt.Errorf("%s analysis %d is not comparable: %s vs %s", g.Name, i+1, b, a)
			}
			ss[i] = seeded{seedOfSummary(s, i), s}
		}
		slices.SortStableFunc(ss, func(a, b seeded) int { return cmp.Compare(a.seed, b.seed) })
		sorted, seeds := make([]*Summary, len(ss)), make([]uint64, len(ss))
		for i, x := range ss {
			sorted[i], seeds[i] = x.s, x.seed
		}
		groups[gi] = SeedGroup{Name: g.Name, Summaries: sorted}
		c.Groups = append(c.Groups, g.Name)
		c.Seeds = append(c.Seeds, seeds)
	}
	c.Settings = settingsKey(ref)
	for _, o := range Observations {
		for _, a := range ref.Header.Attacks {
			row := SeedVerdictRow{Observation: o.ID, Attack: a.Key}
			found := false
			for gi, g := range groups {
				var cells []SeedVerdictCell
				var effects []float64
				name := ""
				for i, s := range g.Summaries {
					v, ok := findVerdict(s, o.ID, a.Key)
					if !ok {
						continue
					}
					found = true
					cells = append(cells, SeedVerdictCell{Seed: c.Seeds[gi][i], Outcome: v.Outcome(), Strength: v.Strength, Effect: v.Effect, EffectCI: v.EffectCI})
					if e := v.Effect.F(); !math.IsNaN(e) && v.Outcome() != OutcomeNotTested {
						effects = append(effects, e)
						name = v.EffectName
					}
				}
				row.Cells = append(row.Cells, cells)
				row.Effects = append(row.Effects, seedEffect(name, effects))
				rep := len(cells) > 1
				for _, cl := range cells {
					if cl.Outcome != cells[0].Outcome || cl.Outcome == OutcomeInconclusive || cl.Outcome == OutcomeNotTested {
						rep = false
					}
				}
				row.Repeats = append(row.Repeats, rep)
			}
			if found {
				c.Rows = append(c.Rows, row)
			}
		}
	}
	for gi, g := range groups {
		cr := SeedCoverageRow{Group: g.Name, Seeds: c.Seeds[gi]}
		for _, s := range g.Summaries {
			at := s.Attention
			if at == nil {
				at = &AttentionSummary{CoverageArea: Group{Mean: nanInterval()}, Coverage: Group{Mean: nanInterval()}, MeanArea: Group{Mean: nanInterval()}}
			}
			cr.CoverageArea = append(cr.CoverageArea, at.CoverageArea.Mean)
			cr.CoverageMean = append(cr.CoverageMean, at.Coverage.Mean)
			cr.MeanArea = append(cr.MeanArea, at.MeanArea.Mean)
		}
		c.Cover = append(c.Cover, cr)
	}
	return c, nil
}

func findVerdict(s *Summary, obs, attack string) (Verdict, bool) {
	for _, a := range s.Attacks {
		if a.Key != attack {
			continue
		}
		for _, v := range a.Verdicts {
			if v.Observation == obs {
				return v, true
			}
		}
	}
	return Verdict{}, false
}

func seedEffect(name string, x []float64) SeedEffect {
	nan := Num(math.NaN())
	e := SeedEffect{Name: name, Mean: nan, Lo: nan, Hi: nan}
	if len(x) == 0 {
		return e
	}
	e.Mean = Num(stats.Mean(x))
	if ci, err := stats.MeanCIT(x, 0.95); err == nil {
		e.Lo, e.Hi = Num(ci.Lo), Num(ci.Hi)
	}
	return e
}

// Markdown writes the verdicts over seeds as one table per group and a
// table of the clean attention's coverage.
func (c *SeedVerdicts) Markdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Verdicts over seeds\n\nAnalyses: %s. Each cell is one training seed's verdict (docs/analysis.md's rules: Holm over the attacks of an observation, equivalence margin |r| < %g) with its effect size (rank-biserial r for observations 1, 2a, 2b; Cohen's d_z for 3) and 90%% interval; *negligible* is an equivalence shown, *opposite* a significant difference against the claim. \"Over seeds\" is the mean effect with its 95%% t interval over seeds; **repeats** marks a row where every seed gives the same outcome and it is not inconclusive.\n\n", c.Settings, Negligible)
	for gi, g := range c.Groups {
		fmt.Fprintf(&b, "## %s\n\n| obs. | attack |", g)
		for _, s := range c.Seeds[gi] {
			fmt.Fprintf(&b, " seed %d |", s)
		}
		fmt.Fprintf(&b, " over seeds |\n|---|---|%s---|\n", strings.Repeat("---|", len(c.Seeds[gi])))
		for _, r := range c.Rows {
			fmt.Fprintf(&b, "| %s | %s |", r.Observation, r.Attack)
			cells := r.Cells[gi]
			for _, s := range c.Seeds[gi] {
				i := slices.IndexFunc(cells, func(cl SeedVerdictCell) bool { return cl.Seed == s })
				if i < 0 {
					b.WriteString(" - |")
					continue
				}
				fmt.Fprintf(&b, " %s |", cellText(cells[i]))
			}
			e := r.Effects[gi]
			over := "-"
			if !math.IsNaN(e.Mean.F()) {
				over = fmt.Sprintf("%+.2f", e.Mean.F())
				if !math.IsNaN(e.Lo.F()) {
					over += fmt.Sprintf(" [%+.2f, %+.2f]", e.Lo.F(), e.Hi.F())
				}
			}
			if r.Repeats[gi] {
				over += " **repeats**"
			}
			fmt.Fprintf(&b, " %s |\n", over)
		}
		b.WriteString("\n")
	}
	b.WriteString("## Clean attention: coverage of the object\n\nMean over the analysed images with its 95% bootstrap interval, per seed. The area-matched mask has the object's own area, so its coverage does not grow with the mask; the mean-threshold mask's coverage is shown next to that mask's area.\n\n| group | seed | coverage, area-matched | coverage, mean-threshold mask | its area |\n|---|---|---|---|---|\n")
	for _, r := range c.Cover {
		for i, s := range r.Seeds {
			fmt.Fprintf(&b, "| %s | %d | %s | %s | %s |\n", r.Group, s, intervalText(r.CoverageArea[i]), intervalText(r.CoverageMean[i]), intervalText(r.MeanArea[i]))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func cellText(cl SeedVerdictCell) string {
	t := cl.Outcome
	if cl.Outcome == OutcomeNotTested {
		return t
	}
	if cl.Strength != "" && cl.Outcome != OutcomeNegligible && cl.Outcome != OutcomeInconclusive {
		t += " (" + cl.Strength + ")"
	}
	if e := cl.Effect.F(); !math.IsNaN(e) {
		t += fmt.Sprintf(", %+.2f [%+.2f, %+.2f]", e, cl.EffectCI.Lo.F(), cl.EffectCI.Hi.F())
	}
	return t
}

func intervalText(i Interval) string {
	if math.IsNaN(i.Est.F()) {
		return "n/a"
	}
	return fmt.Sprintf("%.3f [%.3f, %.3f]", i.Est.F(), i.Lo.F(), i.Hi.F())
}
