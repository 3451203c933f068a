package eval

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/arp-robustness/arp/stats"
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
	// run alone (cascade mode: its run on the subset; standalone mode: its
	// main run on the subset's images).
	standalone [][]Counts
	// checks[t][k]: attack k of ThreatPlan.Checks of threat t on the
	// subset (Accuracy over the subset).
	checks    [][]AttackResult
	unbounded *AttackResult
	// blackBox[t]: every black-box attack of threat t against the
	// white-box ones.
	blackBox [][]blackBoxGain
}

// blackBoxGain is what a black-box attack found that the white-box
// attacks did not: of the left images that every white-box attack of the
// threat model failed on, it broke broken (where says which images).
type blackBoxGain struct {
	spec         string
	left, broken int
	where        string
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

// checkInput is what the sanity checks look at.
type checkInput struct {
	rep *Report
	// attacks are the names of the evaluated attacks; attentionTrained
	// says whether the model was trained with attention losses.
	attacks          []string
	attentionTrained bool
	sub              *subsetResults
	g                *gradStats
}

// sanityChecks are the checks of evaluation.md, in the order they are
// reported: each looks at the evaluation and returns its status (Pass,
// Warn or Skip) and what it found.
var sanityChecks = []struct {
	name  string
	check func(in *checkInput) (status, detail string)
}{
	{CheckSuite, checkSuite},
	{CheckMonotone, checkMonotone},
	{CheckUnbounded, checkUnbounded},
	{CheckIterative, checkIterative},
	{CheckBlackBox, checkBlackBox},
	{CheckGradients, checkGradients},
	{CheckBudget, checkBudget},
	{CheckAdaptive, checkAdaptive},
}

// checks runs the sanity checks of evaluation.md on the report of the
// attacks (their names) on a model (attentionTrained: trained with
// attention losses).
func checks(rep *Report, attacks []string, attentionTrained bool, sub *subsetResults, g *gradStats) []Check {
	in := &checkInput{rep: rep, attacks: attacks, attentionTrained: attentionTrained, sub: sub, g: g}
	var out []Check
	for _, c := range sanityChecks {
		status, detail := c.check(in)
		out = append(out, Check{Name: c.name, Status: status, Detail: detail})
	}
	return out
}

// checkSuite: single-step attacks never alone, but with PGD with restarts
// and a black box.
func checkSuite(in *checkInput) (string, string) {
	rep := in.rep
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
		return Skip, "no L-inf threat model"
	case len(missing) == 0:
		return Pass, "PGD with restarts and a black-box attack ran"
	case single:
		return Warn, fmt.Sprintf("single-step attacks reported without %s: their numbers overstate robustness", strings.Join(missing, " and "))
	}
	return Warn, fmt.Sprintf("missing %s", strings.Join(missing, " and "))
}

// checkMonotone: accuracy never rises with eps.
func checkMonotone(in *checkInput) (string, string) {
	rep := in.rep
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
		return Skip, "only one budget per norm"
	case len(bad) == 0:
		return Pass, fmt.Sprintf("worst-case and per-attack accuracy never rise with eps (slack %d images)", slack(rep.Images))
	}
	return Warn, fmt.Sprintf("accuracy rises with eps, so some attack is too weak (poorly tuned or masked gradients): %s", strings.Join(bad, "; "))
}

// checkUnbounded: an attack with eps 1 breaks (nearly) every image.
func checkUnbounded(in *checkInput) (string, string) {
	u := in.sub.unbounded
	switch {
	case u == nil:
		return Skip, "no correctly classified images in the check subset"
	case u.Accuracy.Accuracy <= MaxUnboundedAccuracy:
		return Pass, fmt.Sprintf("%s with eps 1 (any image reachable) on %d images: accuracy %s", u.Spec, u.Accuracy.Total, pct(u.Accuracy))
	}
	return Warn, fmt.Sprintf("%s with eps 1, which can reach any image, leaves accuracy %s on %d images: the attacks cannot follow the model's gradient (gradient masking or a broken attack)", u.Spec, pct(u.Accuracy), u.Accuracy.Total)
}

// standalone returns the accuracy of attack k of threat t run alone: the
// result itself in standalone mode, else its run on the check subset.
func (in *checkInput) standalone(t, k int) Counts {
	if in.rep.Mode == "standalone" {
		return in.rep.Threats[t].Attacks[k].Accuracy
	}
	if t < len(in.sub.standalone) {
		return in.sub.standalone[t][k]
	}
	return Counts{}
}

// haveStandalone reports whether standalone accuracies exist to compare.
func (in *checkInput) haveStandalone() bool {
	return in.rep.Mode == "standalone" || len(in.sub.standalone) > 0
}

// where says which results the comparisons compare.
func (in *checkInput) where() string {
	if in.rep.Mode == "standalone" {
		return "standalone results"
	}
	return fmt.Sprintf("standalone runs on the %d-image check subset", in.sub.images)
}

// checkIterative: iterative attacks at least as strong as single-step
// ones with the same targeting. An iterative attack whose first step is a
// single-step attack (no random start, a first step of eps, the same
// targeting and label smoothing: Iter-LL's 2 steps of eps and Step-LL)
// cannot be weaker than it, since it keeps an image's first successful
// iterate; such pairs are not compared. When the list has untargeted
// iterative attacks but no untargeted single-step one, FGSM runs on the
// check subset for the comparison (ThreatPlan.Checks).
func checkIterative(in *checkInput) (string, string) {
	var bad, ok, skipped []string
	for t, th := range in.rep.Threats {
		if th.Norm != "linf" || !in.haveStandalone() {
			continue
		}
		type single struct {
			a     AttackResult
			acc   Counts
			main  bool
			where string
		}
		var singles []single
		for j, a := range th.Attacks {
			if setting(a, "kind") == "single-step" {
				singles = append(singles, single{a, in.standalone(t, j), true, in.where()})
			}
		}
		if t < len(in.sub.checks) {
			for _, a := range in.sub.checks[t] {
				singles = append(singles, single{a, a.Accuracy, false, fmt.Sprintf("run on the %d-image check subset for this check", in.sub.images)})
			}
		}
		for i, it := range th.Attacks {
			if setting(it, "kind") != "iterative" {
				continue
			}
			for _, ss := range singles {
				if setting(ss.a, "targeting") != setting(it, "targeting") {
					continue
				}
				if firstStepIs(it, ss.a, th.Eps) {
					skipped = append(skipped, fmt.Sprintf("%s against %s (its first step is %s)", it.Spec, ss.a.Spec, ss.a.Spec))
					continue
				}
				ai := in.standalone(t, i)
				if !ss.main && in.rep.Mode == "standalone" {
					ai = in.sub.standalone[t][i] // on the subset too
				}
				s := fmt.Sprintf("%s %s vs %s %s at eps %g", it.Spec, pct(ai), ss.a.Spec, pct(ss.acc), th.Eps)
				if !ss.main {
					s += " (" + ss.where + ")"
				}
				if ai.Correct > ss.acc.Correct+slack(ai.Total) {
					bad = append(bad, s)
				} else {
					ok = append(ok, s)
				}
			}
		}
	}
	note := ""
	if len(skipped) > 0 {
		note = "; not compared, stronger by construction: " + strings.Join(skipped, ", ")
	}
	switch {
	case len(bad) > 0:
		return Warn, fmt.Sprintf("iterative attacks weaker than single-step ones with the same targeting (%s): %s%s", in.where(), strings.Join(bad, "; "), note)
	case len(ok) == 0:
		return Skip, "no iterative and single-step attacks with the same targeting to compare" + note
	}
	return Pass, fmt.Sprintf("%s: %s%s", in.where(), strings.Join(ok, "; "), note)
}

// firstStepIs reports whether the first iterate of iterative attack it is
// single-step attack ss's output: no random start, a first step of at
// least eps from the clean image, and the same targeting and label
// smoothing.
func firstStepIs(it, ss AttackResult, eps float64) bool {
	if setting(it, "random_start") != "false" || setting(it, "targeting") != setting(ss, "targeting") ||
		setting(it, "label_smoothing") != setting(ss, "label_smoothing") {
		return false
	}
	step, ok := it.Settings["step_size"].(float64)
	return ok && step >= eps-1e-12
}

// checkBlackBox: the white-box attacks find (nearly) everything the
// black-box ones find. Of the images every white-box attack of a threat
// model left unbroken, a black-box attack may break at most
// MaxBlackBoxGain: it warns when the exact one-sided binomial test rejects
// a rate <= MaxBlackBoxGain at 5%. Where the black-box attack runs after
// every white-box attack of the cascade, the test uses all images.
func checkBlackBox(in *checkInput) (string, string) {
	var bad, ok []string
	for t, th := range in.rep.Threats {
		if th.Norm != "linf" || t >= len(in.sub.blackBox) {
			continue
		}
		for _, g := range in.sub.blackBox[t] {
			if g.left == 0 {
				ok = append(ok, fmt.Sprintf("%s at eps %g: the white-box attacks left no image (%s)", g.spec, th.Eps, g.where))
				continue
			}
			p, _ := stats.BinomialUpperP(g.broken, g.left, MaxBlackBoxGain)
			ci, _ := stats.Wilson(g.broken, g.left, 0.95)
			s := fmt.Sprintf("%s at eps %g broke %d of the %d images every white-box attack left (%.2f%%, 95%% CI %.2f-%.2f%%; p = %.2g against at most %g%%; %s)",
				g.spec, th.Eps, g.broken, g.left, 100*ci.Estimate, 100*ci.Lo, 100*ci.Hi, p, 100*MaxBlackBoxGain, g.where)
			if p < 0.05 {
				bad = append(bad, s)
			} else {
				ok = append(ok, s)
			}
		}
	}
	switch {
	case len(bad) > 0:
		return Warn, fmt.Sprintf("a black-box attack breaks images every white-box attack missed, a sign of gradient masking or too weak white-box attacks: the white-box numbers overstate robustness: %s", strings.Join(bad, "; "))
	case len(ok) == 0:
		return Skip, "no white-box and black-box attacks to compare"
	}
	return Pass, strings.Join(ok, "; ")
}

// checkGradients: input gradients non-zero and finite.
func checkGradients(in *checkInput) (string, string) {
	g := in.g
	bad := g.zero + g.nonFinite
	frac := float64(bad) / float64(max(g.images, 1))
	noGrad := 0
	for _, t := range in.rep.Threats {
		for _, a := range t.Attacks {
			noGrad += a.NoGradient
		}
	}
	detail := fmt.Sprintf("%d of %d images have a zero input gradient of the loss, %d a NaN/Inf one", g.zero, g.images, g.nonFinite)
	if noGrad > 0 {
		detail += fmt.Sprintf("; attacks found no usable gradient on %d attacked images", noGrad)
	}
	if frac <= MaxZeroGradFraction && noGrad == 0 {
		return Pass, detail
	}
	return Warn, detail + ": gradient-based attacks are blind there (masked or saturated gradients)"
}

// checkBudget: every adversarial image within its budget and in [0,1].
func checkBudget(in *checkInput) (string, string) {
	oob, rng := 0, 0
	var who []string
	for _, t := range in.rep.Threats {
		for _, a := range t.Attacks {
			if a.OutOfBudget > 0 || a.OutOfRange > 0 {
				oob += a.OutOfBudget
				rng += a.OutOfRange
				who = append(who, fmt.Sprintf("%s at %s eps %g: %d outside the budget, %d outside [0,1]", a.Spec, t.Norm, t.Eps, a.OutOfBudget, a.OutOfRange))
			}
		}
	}
	if oob+rng == 0 {
		return Pass, fmt.Sprintf("every adversarial image lies within its budget of the clean image and has every pixel in [0,1] (both measured by the runner, tolerance %g)", budgetTol)
	}
	return Warn, fmt.Sprintf("adversarial images outside their budget (%d) or with pixels outside [0,1] (%d) were counted as not broken; the attack skips its projection or clipping: %s", oob, rng, strings.Join(who, "; "))
}

// checkAdaptive: a model trained with attention losses is attacked through
// its attention objective.
func checkAdaptive(in *checkInput) (string, string) {
	switch {
	case slices.Contains(in.attacks, "attention-loss"):
		return Pass, "attention-loss (through the Grad-CAM map, second order) ran"
	case in.attentionTrained:
		return Warn, "the model was trained with attention losses but the adaptive attention-loss attack did not run"
	}
	return Skip, "the model is not known to be trained with attention losses"
}
