package eval

import (
	"context"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/stats"
	"github.com/arp-robustness/arp/tensor"
)

// Tune's defaults, which arp tune's flags show: the strengthened
// ensemble's PGD-40 with 5 restarts, and weights from none to ten times
// the cross-entropy's.
const (
	DefaultTuneSteps    = 40
	DefaultTuneRestarts = 5
)

// DefaultTuneLambdas returns the weights arp tune tries unless told otherwise.
func DefaultTuneLambdas() []float64 { return []float64{0, 0.1, 0.3, 1, 3, 10} }

// TuneOptions configure Tune: the adaptive attention-loss attack's weight
// Lambda is chosen from Lambdas by running the attack stand-alone, with
// Steps steps and Restarts random restarts at budget Eps, on held-out
// images, next to PGD with the same steps and restarts.
type TuneOptions struct {
	Lambdas  []float64
	Eps      float64
	Steps    int // default DefaultTuneSteps
	Restarts int // default DefaultTuneRestarts
	// Options of the evaluation that runs them (standalone mode; Attacks,
	// Eps and Standalone are set by Tune). State makes it resumable.
	Options
}

// TuneResult is one attack's stand-alone run: a weight's (Lambda), or
// the reference PGD's (Lambda nil).
type TuneResult struct {
	Lambda   *float64   `json:"lambda,omitempty"`
	Spec     string     `json:"spec"`
	Accuracy Counts     `json:"accuracy"`
	CI       [2]float64 `json:"accuracy_ci95"` // Wilson
}

// TuneReport is the outcome of Tune.
type TuneReport struct {
	Images  string       `json:"images"`
	Eps     float64      `json:"eps"`
	Results []TuneResult `json:"results"`
	// PGD is the reference: PGD with the same steps and restarts.
	PGD TuneResult `json:"pgd"`
	// Selected is the chosen weight and Spec the attack to use with it.
	Selected float64 `json:"selected_lambda"`
	Spec     string  `json:"selected_spec"`
	Rule     string  `json:"rule"`
	// Eval is the evaluation the choice was read from.
	Eval *Report `json:"eval"`
}

// TuneRule is how Tune chooses: the weight whose stand-alone attack leaves
// the lowest accuracy, the smallest such weight on a tie.
const TuneRule = "the weight whose stand-alone attack leaves the lowest accuracy on the held-out images; on a tie the smallest weight"

// Tune chooses the attention-loss attack's weight for model m on held-out
// images x, y (never the test images the weight is then used on): one
// stand-alone evaluation of PGD and of the attack with every weight of
// opt.Lambdas, all with the same steps, restarts and budget, each on every
// correctly classified image, then TuneRule.
func Tune(ctx context.Context, m nn.Classifier, x *tensor.Tensor, y []int, opt TuneOptions) (*TuneReport, error) {
	eo, err := opt.evalOptions()
	if err != nil {
		return nil, err
	}
	rep, err := Run(ctx, m, x, y, eo)
	if err != nil {
		return nil, err
	}
	t := &TuneReport{Images: rep.ImagesLine(), Eps: opt.Eps, Eval: rep, Rule: TuneRule}
	res := func(a AttackResult, l *float64) TuneResult {
		r := TuneResult{Lambda: l, Spec: a.Spec, Accuracy: a.Accuracy}
		if ci, err := stats.Wilson(a.Accuracy.Correct, a.Accuracy.Total, 0.95); err == nil {
			r.CI = [2]float64{ci.Lo, ci.Hi}
		}
		return r
	}
	th := rep.Threats[0]
	t.PGD = res(th.Attacks[0], nil)
	for i := range opt.Lambdas {
		t.Results = append(t.Results, res(th.Attacks[i+1], &opt.Lambdas[i]))
	}
	best := selectLambda(t.Results)
	t.Selected, t.Spec = *t.Results[best].Lambda, t.Results[best].Spec
	return t, nil
}

// EstimateTune estimates Tune's running time before it starts, as
// [Estimate] does for an evaluation: the stand-alone PGD and attention-loss
// attacks' passes at a rate measured on a few of the images.
func EstimateTune(ctx context.Context, m nn.Classifier, x *tensor.Tensor, y []int, opt TuneOptions) (*TimeEstimate, error) {
	eo, err := opt.evalOptions()
	if err != nil {
		return nil, err
	}
	return Estimate(ctx, m, x, y, eo)
}

// evalOptions checks opt and returns the stand-alone evaluation Tune runs:
// PGD, then the attention-loss attack with every weight.
func (opt TuneOptions) evalOptions() (Options, error) {
	if len(opt.Lambdas) == 0 {
		return Options{}, fmt.Errorf("tune: no weights to try")
	}
	for i, l := range opt.Lambdas {
		if !(l >= 0) || math.IsInf(l, 0) {
			return Options{}, fmt.Errorf("tune: weight %g must be a finite number >= 0", l)
		}
		for _, k := range opt.Lambdas[:i] {
			if k == l {
				return Options{}, fmt.Errorf("tune: weight %g is listed twice", l)
			}
		}
	}
	if !(opt.Eps > 0 && opt.Eps <= 1) {
		return Options{}, fmt.Errorf("tune: eps %g must be in (0,1] (the [0,1] pixel scale)", opt.Eps)
	}
	if opt.Steps <= 0 {
		opt.Steps = DefaultTuneSteps
	}
	if opt.Restarts <= 0 {
		opt.Restarts = DefaultTuneRestarts
	}
	specs := []string{fmt.Sprintf("pgd:steps=%d:restarts=%d", opt.Steps, opt.Restarts)}
	for _, l := range opt.Lambdas {
		specs = append(specs, fmt.Sprintf("attention-loss:steps=%d:restarts=%d:lambda=%s", opt.Steps, opt.Restarts, strconv.FormatFloat(l, 'g', -1, 64)))
	}
	attacks, err := ParseAttacks(specs)
	if err != nil {
		return Options{}, err
	}
	eo := opt.Options
	eo.Attacks, eo.Eps, eo.EpsL2, eo.Standalone = attacks, []float64{opt.Eps}, nil, true
	eo.CheckImages = -1 // the sanity checks' extra runs are not what tuning is for
	return eo, nil
}

// selectLambda applies TuneRule.
func selectLambda(rs []TuneResult) int {
	best := 0
	for i, r := range rs {
		b := rs[best]
		if r.Accuracy.Correct < b.Accuracy.Correct || r.Accuracy.Correct == b.Accuracy.Correct && *r.Lambda < *b.Lambda {
			best = i
		}
	}
	return best
}

// Markdown writes the choice as a table.
func (t *TuneReport) Markdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# The attention-loss attack's weight\n\nImages: %s. L-inf eps %g. Each attack stand-alone on every correctly classified image; robust accuracy with its 95%% Wilson interval.\n\n", t.Images, t.Eps)
	fmt.Fprintf(&b, "| attack | lambda | robust accuracy |\n|---|---|---|\n")
	fmt.Fprintf(&b, "| %s (reference) | – | %s |\n", t.PGD.Spec, tuneAcc(t.PGD))
	for _, r := range t.Results {
		mark := ""
		if r.Spec == t.Spec {
			mark = " **(selected)**"
		}
		fmt.Fprintf(&b, "| %s | %g | %s%s |\n", r.Spec, *r.Lambda, tuneAcc(r), mark)
	}
	fmt.Fprintf(&b, "\nRule: %s. Selected: lambda %g, `%s`.\n", t.Rule, t.Selected, t.Spec)
	_, err := io.WriteString(w, b.String())
	return err
}

func tuneAcc(r TuneResult) string {
	return fmt.Sprintf("%.2f%% [%.2f, %.2f] (%d/%d)", 100*r.Accuracy.Accuracy, 100*r.CI[0], 100*r.CI[1], r.Accuracy.Correct, r.Accuracy.Total)
}
