package eval

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// Names of the sanity checks, in the order they are reported.
const (
	CheckSuite     = "attack suite"
	CheckMonotone  = "accuracy falls as eps grows"
	CheckUnbounded = "unbounded attack reaches ~0% accuracy"
	CheckIterative = "iterative attacks at least as strong as single-step ones"
	CheckBlackBox  = "white-box attacks at least as strong as black-box ones"
	CheckGradients = "input gradients non-zero and finite"
	CheckBudget    = "adversarial images within their budget"
	CheckAdaptive  = "adaptive attack through the attention objective"
)

// gradStats counts images whose clean input gradient is zero or not
// finite.
type gradStats struct {
	images, zero, nonFinite int
}

// subsetResults are the sanity-check runs on the check subset.
type subsetResults struct {
	images int
	// standalone[t][k]: accuracy over the subset of attack k of threat t
	// run alone (cascade mode only).
	standalone [][]Counts
	unbounded  *AttackResult
}

// slack is the number of images by which a comparison may miss before it
// warns: one image, or 0.5% of the images compared.
func slack(total int) int { return max(1, int(math.Round(0.005*float64(total)))) }

func setting(a AttackResult, key string) string {
	if v, ok := a.Settings[key]; ok {
		return fmt.Sprint(v)
	}
	return ""
}

func pct(c Counts) string { return fmt.Sprintf("%.2f%%", 100*c.Accuracy) }

// checks computes the sanity checks of evaluation.md.
// attacks are the names of the evaluated attacks; attentionTrained says
// whether the model was trained with attention losses.
func checks(rep *Report, attacks []string, attentionTrained bool, sub *subsetResults, g *gradStats) []Check {
	var out []Check
	add := func(name, status, format string, args ...any) {
		out = append(out, Check{Name: name, Status: status, Detail: fmt.Sprintf(format, args...)})
	}

	// 1. single-step attacks never alone: PGD with restarts and a black box
	{
		var single, pgdRestarts, black bool
		for _, t := range rep.Threats {
			if t.Norm != "linf" {
				continue
			}
			for _, a := range t.Attacks {
				single = single || setting(a, "kind") == "single-step"
				black = black || setting(a, "box") == "black-box"
				if a.Name == "pgd" && setting(a, "restarts") != "1" {
					pgdRestarts = true
				}
			}
		}
		var missing []string
		if !pgdRestarts {
			missing = append(missing, "PGD with restarts (e.g. pgd:restarts=5)")
		}
		if !black {
			missing = append(missing, "a black-box attack (square)")
		}
		switch {
		case len(rep.Threats) == 0 || rep.Threats[0].Norm != "linf":
			add(CheckSuite, Skip, "no L-inf threat model")
		case len(missing) == 0:
			add(CheckSuite, Pass, "PGD with restarts and a black-box attack ran")
		case single:
			add(CheckSuite, Warn, "single-step attacks reported without %s: their numbers overstate robustness", strings.Join(missing, " and "))
		default:
			add(CheckSuite, Warn, "missing %s", strings.Join(missing, " and "))
		}
	}

	// 2. monotone in eps
	{
		var bad []string
		compared := false
		for _, norm := range []string{"linf", "l2"} {
			var ts []Threat
			for _, t := range rep.Threats {
				if t.Norm == norm {
					ts = append(ts, t)
				}
			}
			sort.Slice(ts, func(i, j int) bool { return ts[i].Eps < ts[j].Eps })
			for i := 1; i < len(ts); i++ {
				compared = true
				a, b := ts[i-1], ts[i]
				tol := slack(rep.Images)
				if b.Worst.Correct > a.Worst.Correct+tol {
					bad = append(bad, fmt.Sprintf("worst case %s at %s eps %g > %s at eps %g", pct(b.Worst), norm, b.Eps, pct(a.Worst), a.Eps))
				}
				for k := range b.Attacks {
					if b.Attacks[k].Accuracy.Correct > a.Attacks[k].Accuracy.Correct+tol {
						bad = append(bad, fmt.Sprintf("%s %s at eps %g > %s at eps %g", b.Attacks[k].Spec, pct(b.Attacks[k].Accuracy), b.Eps, pct(a.Attacks[k].Accuracy), a.Eps))
					}
				}
			}
		}
		switch {
		case !compared:
			add(CheckMonotone, Skip, "only one budget per norm")
		case len(bad) == 0:
			add(CheckMonotone, Pass, "worst-case and per-attack accuracy never rise with eps (slack %d images)", slack(rep.Images))
		default:
			add(CheckMonotone, Warn, "accuracy rises with eps, so some attack is too weak (poorly tuned or masked gradients): %s", strings.Join(bad, "; "))
		}
	}

	// 3. unbounded attack
	if u := sub.unbounded; u == nil {
		add(CheckUnbounded, Skip, "no correctly classified images in the check subset")
	} else if u.Accuracy.Accuracy <= MaxUnboundedAccuracy {
		add(CheckUnbounded, Pass, "%s with eps 1 (any image reachable) on %d images: accuracy %s", u.Spec, u.Accuracy.Total, pct(u.Accuracy))
	} else {
		add(CheckUnbounded, Warn, "%s with eps 1, which can reach any image, leaves accuracy %s on %d images: the attacks cannot follow the model's gradient (gradient masking or a broken attack)", u.Spec, pct(u.Accuracy), u.Accuracy.Total)
	}

	// standalone accuracies for the comparisons
	standalone := func(t, k int) Counts {
		if rep.Mode == "standalone" {
			return rep.Threats[t].Attacks[k].Accuracy
		}
		if t < len(sub.standalone) {
			return sub.standalone[t][k]
		}
		return Counts{}
	}
	where := fmt.Sprintf("standalone runs on the %d-image check subset", sub.images)
	if rep.Mode == "standalone" {
		where = "standalone results"
	}
	haveStandalone := rep.Mode == "standalone" || len(sub.standalone) > 0

	// 4. iterative vs single-step, within the same objective
	{
		var bad, ok []string
		for t, th := range rep.Threats {
			if th.Norm != "linf" || !haveStandalone {
				continue
			}
			for i, it := range th.Attacks {
				if setting(it, "kind") != "iterative" {
					continue
				}
				for j, ss := range th.Attacks {
					if setting(ss, "kind") != "single-step" || setting(ss, "targeting") != setting(it, "targeting") {
						continue
					}
					ai, as := standalone(t, i), standalone(t, j)
					s := fmt.Sprintf("%s %s vs %s %s at eps %g", it.Spec, pct(ai), ss.Spec, pct(as), th.Eps)
					if ai.Correct > as.Correct+slack(ai.Total) {
						bad = append(bad, s)
					} else {
						ok = append(ok, s)
					}
				}
			}
		}
		switch {
		case len(bad) > 0:
			add(CheckIterative, Warn, "iterative attacks weaker than single-step ones with the same objective (%s): %s", where, strings.Join(bad, "; "))
		case len(ok) == 0:
			add(CheckIterative, Skip, "no iterative and single-step attacks with the same targeting to compare")
		default:
			add(CheckIterative, Pass, "%s: %s", where, strings.Join(ok, "; "))
		}
	}

	// 5. white-box vs black-box
	{
		var bad, ok []string
		for t, th := range rep.Threats {
			if th.Norm != "linf" || !haveStandalone {
				continue
			}
			best, bestName := Counts{Correct: math.MaxInt}, ""
			for k, a := range th.Attacks {
				if setting(a, "box") == "white-box" && standalone(t, k).Correct < best.Correct {
					best, bestName = standalone(t, k), a.Spec
				}
			}
			for k, a := range th.Attacks {
				if setting(a, "box") != "black-box" || bestName == "" {
					continue
				}
				bb := standalone(t, k)
				s := fmt.Sprintf("best white-box %s %s vs %s %s at eps %g", bestName, pct(best), a.Spec, pct(bb), th.Eps)
				if best.Correct > bb.Correct+slack(bb.Total) {
					bad = append(bad, s)
				} else {
					ok = append(ok, s)
				}
			}
		}
		switch {
		case len(bad) > 0:
			add(CheckBlackBox, Warn, "the black-box attack beats every white-box attack, a sign of gradient masking: the white-box numbers are not trustworthy (%s): %s", where, strings.Join(bad, "; "))
		case len(ok) == 0:
			add(CheckBlackBox, Skip, "no white-box and black-box attacks to compare")
		default:
			add(CheckBlackBox, Pass, "%s: %s", where, strings.Join(ok, "; "))
		}
	}

	// 6. input gradients
	{
		bad := g.zero + g.nonFinite
		frac := float64(bad) / float64(max(g.images, 1))
		noGrad := 0
		for _, t := range rep.Threats {
			for _, a := range t.Attacks {
				noGrad += a.NoGradient
			}
		}
		detail := fmt.Sprintf("%d of %d images have a zero input gradient of the loss, %d a NaN/Inf one", g.zero, g.images, g.nonFinite)
		if noGrad > 0 {
			detail += fmt.Sprintf("; attacks found no usable gradient on %d attacked images", noGrad)
		}
		if frac <= MaxZeroGradFraction && noGrad == 0 {
			add(CheckGradients, Pass, "%s", detail)
		} else {
			add(CheckGradients, Warn, "%s: gradient-based attacks are blind there (masked or saturated gradients)", detail)
		}
	}

	// 7. budgets
	{
		oob := 0
		var who []string
		for _, t := range rep.Threats {
			for _, a := range t.Attacks {
				if a.OutOfBudget > 0 {
					oob += a.OutOfBudget
					who = append(who, fmt.Sprintf("%s at %s eps %g: %d", a.Spec, t.Norm, t.Eps, a.OutOfBudget))
				}
			}
		}
		if oob == 0 {
			add(CheckBudget, Pass, "every adversarial image lies within its budget and in [0,1] (checked by the runner, tolerance %g)", budgetTol)
		} else {
			add(CheckBudget, Warn, "%d adversarial images left their budget and were counted as not broken: %s", oob, strings.Join(who, "; "))
		}
	}

	// 8. adaptive attack
	{
		switch {
		case slices.Contains(attacks, "attention-loss"):
			add(CheckAdaptive, Pass, "attention-loss (through the Grad-CAM map, second order) ran")
		case attentionTrained:
			add(CheckAdaptive, Warn, "the model was trained with attention losses but the adaptive attention-loss attack did not run")
		default:
			add(CheckAdaptive, Skip, "the model is not known to be trained with attention losses")
		}
	}
	return out
}
