package eval

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/arp-robustness/arp/stats"
)

// SeedGroup is one training recipe (a dataset, an architecture, a
// defense) trained once per seed, with one evaluation report per trained
// model.
type SeedGroup struct {
	Name    string
	Reports []*Report
}

// SeedCell is one number every report has: the clean accuracy, an
// attack's accuracy at a budget, or the worst case at a budget.
type SeedCell struct {
	Norm string  `json:"norm,omitempty"` // "" for the clean accuracy
	Eps  float64 `json:"eps,omitempty"`
	// Attack is "clean", "worst case", or the attack's spec: the one all
	// reports share, else the options they share with the differing ones
	// named, e.g. "attention-loss:steps=40 (lambda per model)".
	Attack string `json:"attack"`
	// Index is the attack's position in its threat model (-1: clean or
	// worst case). Attacks pair by position and name; their settings may
	// differ between models (a weight tuned per model), which Notes say.
	Index int `json:"index"`
}

func (c SeedCell) String() string {
	if c.Norm == "" {
		return c.Attack
	}
	return fmt.Sprintf("%s %s eps %g", c.Attack, c.Norm, c.Eps)
}

// SeedStat summarises a cell over seeds: the value of each seed (an
// accuracy, or a paired difference of accuracies), their mean and the 95%
// Student t interval of the mean (nil with fewer than two seeds).
type SeedStat struct {
	Seeds  []uint64  `json:"seeds"`
	Values []float64 `json:"values"`
	Mean   float64   `json:"mean"`
	Lo     *float64  `json:"lo,omitempty"`
	Hi     *float64  `json:"hi,omitempty"`
}

// SeedRow is one cell: each group's accuracy over its seeds and each
// requested paired difference.
type SeedRow struct {
	Cell   SeedCell   `json:"cell"`
	Groups []SeedStat `json:"groups"`
	Diffs  []SeedStat `json:"diffs"`
}

// SeedComparison compares training recipes over their seeds on the same
// images, cell by cell (see CompareSeeds).
type SeedComparison struct {
	Groups []string `json:"groups"`
	// Diffs are the paired differences, each Diffs[i][0] - Diffs[i][1].
	Diffs [][2]string `json:"diffs"`
	// Pairing says how seeds were paired: by the training seed recorded
	// in every report, or by the reports' order within each group.
	Pairing string   `json:"pairing"`
	Images  string   `json:"images"`
	Mode    string   `json:"mode"`
	Attacks []string `json:"attacks"`
	// Notes name the attacks whose settings differ between reports.
	Notes []string  `json:"notes,omitempty"`
	Rows  []SeedRow `json:"rows"`
	// ByImage are the differences seed by seed paired image by image
	// (PairImages), for the pairs whose reports carry per-image outcomes.
	ByImage []SeedImagePairs `json:"by_image,omitempty"`
}

// SeedImagePairs is one difference of one seed pair, image by image.
type SeedImagePairs struct {
	Diff  [2]string   `json:"diff"`
	Seed  uint64      `json:"seed"`
	Cells []ImagePair `json:"cells"`
}

// CompareSeeds puts several training recipes side by side over their
// seeds: for every cell (clean accuracy; each attack's accuracy and the
// worst case at each budget) each group's mean accuracy over its seeds
// with a 95% t interval, and for each pair in diffs the paired difference
// (first minus second), seed by seed, with its mean and 95% t interval.
// Seeds pair by the training seed the reports record, else by their
// order. Every report must have evaluated the same images (the same
// dataset and subset) with the same attacks, budgets and mode, so that the
// comparison is paired image by image as well.
func CompareSeeds(groups []SeedGroup, diffs [][2]string) (*SeedComparison, error) {
	groups = slices.Clone(groups)
	if len(groups) == 0 {
		return nil, fmt.Errorf("no groups to compare")
	}
	index := map[string]int{}
	var ref *Report
	refName := ""
	for gi, g := range groups {
		if g.Name == "" || len(g.Reports) == 0 {
			return nil, fmt.Errorf("group %d: a group needs a name and at least one report", gi+1)
		}
		if _, dup := index[g.Name]; dup {
			return nil, fmt.Errorf("group %s is given twice", g.Name)
		}
		index[g.Name] = gi
		for ri, r := range g.Reports {
			name := fmt.Sprintf("%s report %d (%s)", g.Name, ri+1, r.Model)
			if ref == nil {
				ref, refName = r, name
				continue
			}
			if err := sameEvaluation(ref, r); err != nil {
				return nil, fmt.Errorf("%s and %s are not comparable: %v", refName, name, err)
			}
		}
	}
	c := &SeedComparison{Diffs: diffs, Images: ref.ImagesLine(), Mode: ref.Mode, Pairing: "training seed"}
	for _, g := range groups {
		c.Groups = append(c.Groups, g.Name)
	}
	c.Attacks = attackSpecs(ref)
	c.Notes = specNotes(groups)
	// pairings
	pairs := make([][][2]int, len(diffs)) // per diff: report indices (a, b) per seed
	bySeed := true
	for _, g := range groups {
		seen := map[uint64]bool{}
		for _, r := range g.Reports {
			if r.TrainingSeed == nil || seen[*r.TrainingSeed] {
				bySeed = false
				break
			}
			seen[*r.TrainingSeed] = true
		}
	}
	if !bySeed {
		c.Pairing = "order of the reports within each group (not every report records a distinct training seed)"
	} else {
		// present every group in the order of its seeds
		for i := range groups {
			rs := slices.Clone(groups[i].Reports)
			slices.SortFunc(rs, func(a, b *Report) int { return cmp.Compare(*a.TrainingSeed, *b.TrainingSeed) })
			groups[i].Reports = rs
		}
	}
	for di, d := range diffs {
		ia, okA := index[d[0]]
		ib, okB := index[d[1]]
		if !okA || !okB || ia == ib {
			return nil, fmt.Errorf("difference %s - %s: want two different groups of %s", d[0], d[1], strings.Join(c.Groups, ", "))
		}
		a, b := groups[ia].Reports, groups[ib].Reports
		if bySeed {
			for i, ra := range a {
				j := slices.IndexFunc(b, func(rb *Report) bool { return *rb.TrainingSeed == *ra.TrainingSeed })
				if j < 0 {
					return nil, fmt.Errorf("difference %s - %s: %s has training seed %d, %s has not", d[0], d[1], d[0], *ra.TrainingSeed, d[1])
				}
				pairs[di] = append(pairs[di], [2]int{i, j})
			}
			if len(a) != len(b) {
				return nil, fmt.Errorf("difference %s - %s: %d and %d seeds", d[0], d[1], len(a), len(b))
			}
		} else {
			if len(a) != len(b) {
				return nil, fmt.Errorf("difference %s - %s: %d and %d reports to pair in order", d[0], d[1], len(a), len(b))
			}
			for i := range a {
				pairs[di] = append(pairs[di], [2]int{i, i})
			}
		}
	}
	for di, d := range diffs {
		ga, gb := groups[index[d[0]]], groups[index[d[1]]]
		for _, p := range pairs[di] {
			ra, rb := ga.Reports[p[0]], gb.Reports[p[1]]
			if ra.Correct == nil || rb.Correct == nil {
				continue
			}
			cs, err := PairImages(ra, rb)
			if err != nil {
				return nil, fmt.Errorf("difference %s - %s: %v", d[0], d[1], err)
			}
			c.ByImage = append(c.ByImage, SeedImagePairs{Diff: d, Seed: seedOf(ra, p[0]), Cells: cs})
		}
	}
	for _, cell := range cells(ref) {
		if cell.Index >= 0 {
			cell.Attack = sharedSpec(specsOf(groups, cell))
		}
		row := SeedRow{Cell: cell}
		for _, g := range groups {
			var st SeedStat
			for i, r := range g.Reports {
				st.Seeds = append(st.Seeds, seedOf(r, i))
				st.Values = append(st.Values, accuracy(r, cell))
			}
			row.Groups = append(row.Groups, st.summarise())
		}
		for di, d := range diffs {
			ga, gb := groups[index[d[0]]], groups[index[d[1]]]
			var st SeedStat
			for _, p := range pairs[di] {
				ra, rb := ga.Reports[p[0]], gb.Reports[p[1]]
				st.Seeds = append(st.Seeds, seedOf(ra, p[0]))
				st.Values = append(st.Values, accuracy(ra, cell)-accuracy(rb, cell))
			}
			row.Diffs = append(row.Diffs, st.summarise())
		}
		c.Rows = append(c.Rows, row)
	}
	return c, nil
}

// seedOf is the report's training seed, else its position (from 1).
func seedOf(r *Report, i int) uint64 {
	if r.TrainingSeed != nil {
		return *r.TrainingSeed
	}
	return uint64(i + 1)
}

func (s SeedStat) summarise() SeedStat {
	s.Mean, s.Lo, s.Hi = stats.Mean(s.Values), nil, nil
	if ci, err := stats.MeanCIT(s.Values, 0.95); err == nil {
		s.Lo, s.Hi = &ci.Lo, &ci.Hi
	}
	return s
}

// sameEvaluation explains how two reports differ in what they evaluated
// ("" nil: they evaluated the same images the same way).
func sameEvaluation(a, b *Report) error {
	if err := sameImages(a, b); err != nil {
		return err
	}
	switch {
	case a.Mode != b.Mode:
		return fmt.Errorf("mode %s vs %s", a.Mode, b.Mode)
	case !slices.Equal(attackNames(a), attackNames(b)):
		return fmt.Errorf("attacks %s vs %s", strings.Join(attackSpecs(a), ","), strings.Join(attackSpecs(b), ","))
	case !slices.EqualFunc(a.Threats, b.Threats, func(x, y Threat) bool { return x.Norm == y.Norm && x.Eps == y.Eps }):
		return fmt.Errorf("budgets %s vs %s", budgets(a), budgets(b))
	}
	return nil
}

func attackSpecs(r *Report) []string {
	var out []string
	seen := map[string]bool{}
	for _, t := range r.Threats {
		for _, a := range t.Attacks {
			if !seen[a.Spec] {
				seen[a.Spec] = true
				out = append(out, a.Spec)
			}
		}
	}
	return out
}

// attackNames lists the attacks of every threat model by name, in order.
func attackNames(r *Report) []string {
	var out []string
	for _, t := range r.Threats {
		for _, a := range t.Attacks {
			out = append(out, t.Norm+"/"+a.Name)
		}
	}
	return out
}

// specNotes says which attacks' settings differ between the reports.
func specNotes(groups []SeedGroup) []string {
	var notes []string
	ref := groups[0].Reports[0]
	for t, th := range ref.Threats {
		for k, a := range th.Attacks {
			var diff []string
			for _, g := range groups {
				for i, r := range g.Reports {
					if s := r.Threats[t].Attacks[k].Spec; s != a.Spec {
						diff = append(diff, fmt.Sprintf("%s (%s seed %d)", s, g.Name, seedOf(r, i)))
					}
				}
			}
			if len(diff) > 0 {
				notes = append(notes, fmt.Sprintf("%s eps %g, attack %d: %s, or %s", th.Norm, th.Eps, k+1, a.Spec, strings.Join(diff, ", ")))
			}
		}
	}
	return notes
}

func budgets(r *Report) string {
	var parts []string
	for _, t := range r.Threats {
		parts = append(parts, fmt.Sprintf("%s %g", t.Norm, t.Eps))
	}
	return strings.Join(parts, ", ")
}

// cells lists the cells of a report: the clean accuracy, then per threat
// every attack and the worst case.
func cells(r *Report) []SeedCell {
	out := []SeedCell{{Attack: "clean", Index: -1}}
	for _, t := range r.Threats {
		for k, a := range t.Attacks {
			out = append(out, SeedCell{Norm: t.Norm, Eps: t.Eps, Attack: a.Spec, Index: k})
		}
		out = append(out, SeedCell{Norm: t.Norm, Eps: t.Eps, Attack: "worst case", Index: -1})
	}
	return out
}

// specsOf lists every report's spec of a cell's attack.
func specsOf(groups []SeedGroup, c SeedCell) []string {
	var out []string
	for _, g := range groups {
		for _, r := range g.Reports {
			for _, t := range r.Threats {
				if t.Norm == c.Norm && t.Eps == c.Eps && c.Index < len(t.Attacks) {
					out = append(out, t.Attacks[c.Index].Spec)
				}
			}
		}
	}
	return out
}

// sharedSpec labels attacks paired across reports: their spec when all are
// the same, else the attack's name with the options all share and the
// names of those that differ ("attention-loss:steps=40:restarts=5 (lambda
// per model)"), so that a row is not labelled by one model's tuned value.
func sharedSpec(specs []string) string {
	if len(specs) == 0 {
		return ""
	}
	if !slices.ContainsFunc(specs, func(s string) bool { return s != specs[0] }) {
		return specs[0]
	}
	name, _, _ := strings.Cut(specs[0], ":")
	opts := func(s string) map[string]string {
		m := map[string]string{}
		_, rest, _ := strings.Cut(s, ":")
		for _, kv := range strings.Split(rest, ":") {
			if kv == "" {
				continue
			}
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
		return m
	}
	first := opts(specs[0])
	var keys []string // option names in the first spec's order, then the others'
	seen := map[string]bool{}
	for _, s := range specs {
		_, rest, _ := strings.Cut(s, ":")
		for _, kv := range strings.Split(rest, ":") {
			if k, _, _ := strings.Cut(kv, "="); kv != "" && !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	label, differ := name, []string{}
	for _, k := range keys {
		v, ok := first[k]
		same := ok
		for _, s := range specs[1:] {
			if w, has := opts(s)[k]; !has || w != v {
				same = false
			}
		}
		if same {
			label += ":" + k + "=" + v
		} else {
			differ = append(differ, k)
		}
	}
	if len(differ) == 0 { // the same options in another order or a differing name
		return strings.Join(slices.Compact(slices.Sorted(slices.Values(specs))), " or ")
	}
	return label + " (" + strings.Join(differ, ", ") + " per model)"
}

// accuracy is a report's accuracy in a cell.
func accuracy(r *Report, c SeedCell) float64 {
	if c.Norm == "" {
		return r.Clean.Accuracy
	}
	for _, t := range r.Threats {
		if t.Norm != c.Norm || t.Eps != c.Eps {
			continue
		}
		if c.Index < 0 {
			return t.Worst.Accuracy
		}
		if c.Index < len(t.Attacks) {
			return t.Attacks[c.Index].Accuracy.Accuracy
		}
	}
	return math.NaN()
}

// Markdown writes the comparison as tables: accuracies in percent, each
// group's mean over seeds with its 95% t interval, each paired difference
// with its interval and per-seed values.
func (c *SeedComparison) Markdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Seeds compared\n\nImages: %s. Mode: %s. Accuracy in %%: mean over seeds [95%% t interval]; differences are paired by %s, first minus second, per seed in brackets after the mean.\n\n",
		c.Images, c.Mode, c.Pairing)
	for _, n := range c.Notes {
		fmt.Fprintf(&b, "Settings differ between models: %s.\n\n", n)
	}
	head := []string{"cell"}
	for i, g := range c.Groups {
		n := 0
		if len(c.Rows) > 0 {
			n = len(c.Rows[0].Groups[i].Values)
		}
		unit := "seeds"
		if n == 1 {
			unit = "seed"
		}
		head = append(head, fmt.Sprintf("%s (%d %s)", g, n, unit))
	}
	for _, d := range c.Diffs {
		head = append(head, d[0]+" − "+d[1])
	}
	fmt.Fprintf(&b, "| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat("---|", len(head)))
	for _, r := range c.Rows {
		cols := []string{r.Cell.String()}
		if r.Cell.Attack == "worst case" {
			cols[0] = "**" + cols[0] + "**"
		}
		for _, s := range r.Groups {
			cols = append(cols, pctCI(s, false))
		}
		for _, s := range r.Diffs {
			cols = append(cols, pctCI(s, true))
		}
		fmt.Fprintf(&b, "| %s |\n", strings.Join(cols, " | "))
	}
	if len(c.ByImage) > 0 {
		b.WriteString("\n## Paired by image\n\nEach difference on each seed, image by image on the same images: the difference in points with Newcombe's 95% interval for paired proportions, the images counted only in the first model / only in the second, and the exact McNemar p-value (not corrected for the several rows).\n\n| difference | seed | cell | difference | 95% interval | only first / only second | McNemar p |\n|---|---|---|---|---|---|---|\n")
		for _, bi := range c.ByImage {
			for _, cl := range bi.Cells {
				p := cl.Paired
				fmt.Fprintf(&b, "| %s − %s | %d | %s | %+.2f | [%+.2f, %+.2f] | %d / %d | %s |\n", bi.Diff[0], bi.Diff[1], bi.Seed, cl.Cell,
					100*p.Diff.Estimate, 100*p.Diff.Lo, 100*p.Diff.Hi, p.OnlyA, p.OnlyB, stats.FormatP(p.P))
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// pctCI formats a seed statistic in percent.
func pctCI(s SeedStat, signed bool) string {
	f := "%.2f"
	if signed {
		f = "%+.2f"
	}
	out := fmt.Sprintf(f, 100*s.Mean)
	if s.Lo != nil {
		out += fmt.Sprintf(" ["+f+", "+f+"]", 100**s.Lo, 100**s.Hi)
	}
	if signed {
		var v []string
		for _, x := range s.Values {
			v = append(v, fmt.Sprintf(f, 100*x))
		}
		out += " (" + strings.Join(v, ", ") + ")"
	}
	return out
}
