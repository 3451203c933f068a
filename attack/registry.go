package attack

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Config holds the parameters New passes to an attack. Zero values mean
// the attack's published default; fields an attack does not use are
// ignored by New (ParseSpec rejects them).
type Config struct {
	Eps           float64 // budget on the [0,1] pixel scale (L2 norm for pgd-l2 and cw-l2)
	Steps         int     // iterations (cw-l2: Adam steps per binary-search round)
	Alpha         float64 // step size on the [0,1] scale (cw-l2: learning rate)
	Restarts      int     // random restarts (pgd, pgd-l2, attention-loss)
	NoRandomStart bool    // pgd, pgd-l2, attention-loss: start at the clean image
	FinalIterate  bool    // pgd, pgd-kl: the plain loop of adversarial training (see PGD.FinalIterate); not in specs
	Unprojected   bool    // bim, iter-ll: the ARP paper's variant without projection
	Targeting     Targeting
	Targets       []int    // for Given targeting
	Smoothing     *float64 // label smoothing of the attack's cross-entropy; nil: the attack's default
	Seed          uint64
	Seeds         []uint64 // one seed per image of the batch (see Base); not in specs
	Decay         *float64 // mifgsm momentum decay; nil: 1.0
	Kappa         float64  // cw-l2 confidence
	InitialConst  float64  // cw-l2 initial c
	BinarySteps   int      // cw-l2 binary-search rounds
	Queries       int      // square: query budget per image
	PInit         float64  // square: initial window fraction
	Threshold     float64  // gated-step-ll: IoU threshold
	Lambda        *float64 // attention-loss: weight of the attention term; nil: 1
	Layer         string   // gated-step-ll, attention-loss: attention layer
}

// entry describes one registered attack.
type entry struct {
	doc  string
	norm string
	keys []string // ParseSpec options besides the common ones
	make func(c Config) Attack
}

var commonKeys = []string{"targeting", "seed", "smoothing"}

var registry = map[string]entry{
	"fgsm": {"fast gradient sign method (Goodfellow et al. 2015), one step of eps", "linf", nil,
		func(c Config) Attack { return &FGSM{Base: c.base(Untargeted, 0)} }},
	"step-ll": {"least-likely-class single step (Kurakin et al. 2017), label smoothing 0.1", "linf", nil,
		func(c Config) Attack { return &StepLL{Base: c.base(LeastLikely, 0.1)} }},
	"r-step-ll": {"random sign step of eps/2, then Step-LL of eps/2 (Tramer et al. 2018)", "linf", []string{"alpha"},
		func(c Config) Attack { return &RStepLL{Base: c.base(LeastLikely, 0.1), Alpha: c.Alpha} }},
	"bim": {"basic iterative method (Kurakin et al. 2017): steps of 1/255, projected", "linf", []string{"steps", "alpha", "project"},
		func(c Config) Attack {
			return &Iterative{Base: c.base(Untargeted, 0), Steps: c.Steps, Alpha: c.Alpha, Unprojected: c.Unprojected, name: "bim"}
		}},
	"iter-ll": {"iterative least-likely class (ARP paper's Iter-LL: 2 Step-LL steps of eps), projected", "linf", []string{"steps", "alpha", "project"},
		func(c Config) Attack {
			return &Iterative{Base: c.base(LeastLikely, 0.1), Steps: c.Steps, Alpha: c.Alpha, Unprojected: c.Unprojected, name: "iter-ll"}
		}},
	"pgd": {"L-inf PGD (Madry et al. 2018): random start, 40 steps of 2.5*eps/40, restarts", "linf", []string{"steps", "alpha", "restarts", "random-start"},
		func(c Config) Attack {
			return &PGD{Base: c.base(Untargeted, 0), Steps: c.Steps, Alpha: c.Alpha, Restarts: c.Restarts, NoRandomStart: c.NoRandomStart, FinalIterate: c.FinalIterate}
		}},
	"pgd-l2": {"L2 PGD: random start in the L2 ball, 40 normalised steps of 2.5*eps/40, restarts", "l2", []string{"steps", "alpha", "restarts", "random-start"},
		func(c Config) Attack {
			return &PGDL2{Base: c.base(Untargeted, 0), Steps: c.Steps, Alpha: c.Alpha, Restarts: c.Restarts, NoRandomStart: c.NoRandomStart}
		}},
	"mifgsm": {"momentum iterative FGSM (Dong et al. 2018): 10 steps of eps/10, decay 1.0", "linf", []string{"steps", "alpha", "decay"},
		func(c Config) Attack {
			return &MIFGSM{Base: c.base(Untargeted, 0), Steps: c.Steps, Alpha: c.Alpha, Decay: c.Decay}
		}},
	"cw-l2": {"Carlini-Wagner L2: Adam in tanh space, binary search over c (eps 0: unbounded)", "l2", []string{"steps", "alpha", "kappa", "c", "binary-steps"},
		func(c Config) Attack {
			return &CWL2{Base: c.base(Untargeted, 0), Steps: c.Steps, LR: c.Alpha, Kappa: c.Kappa, InitialConst: c.InitialConst, BinarySteps: c.BinarySteps}
		}},
	"square": {"Square attack (Andriushchenko et al. 2020): score-based black box, 5000 queries, p_init 0.8", "linf", []string{"queries", "p"},
		func(c Config) Attack { return &Square{Base: c.base(Untargeted, 0), Queries: c.Queries, PInit: c.PInit} }},
	"gated-step-ll": {"attention-gated iterative Step-LL: steps of eps/4 while clean/adv attention IoU >= 0.6, at most 10", "linf", []string{"steps", "alpha", "threshold", "layer"},
		func(c Config) Attack {
			return &GatedStepLL{Base: c.base(LeastLikely, 0.1), Steps: c.Steps, Alpha: c.Alpha, Threshold: c.Threshold, Layer: c.Layer}
		}},
	"attention-loss": {"adaptive PGD on CE + lambda * attention distance, through the Grad-CAM map (second order)", "linf", []string{"steps", "alpha", "restarts", "random-start", "lambda", "layer"},
		func(c Config) Attack {
			return &AttentionLoss{Base: c.base(Untargeted, 0), Steps: c.Steps, Alpha: c.Alpha, Restarts: c.Restarts, NoRandomStart: c.NoRandomStart, Lambda: c.Lambda, Layer: c.Layer}
		}},
	"pgd-kl": {"TRADES's inner maximisation (Zhang et al. 2019): PGD on KL(p(x) || p(x')) from x + 0.001*N(0,1), 10 steps of eps/4", "linf", []string{"steps", "alpha", "restarts"},
		func(c Config) Attack {
			return &PGDKL{Base: c.base(Untargeted, 0), Steps: c.Steps, Alpha: c.Alpha, Restarts: c.Restarts, FinalIterate: c.FinalIterate}
		}},
}

// Bounds of the counts of an attack (Config and specs): more would run for
// days on any test set without telling more about the model.
const (
	MaxSteps       = 100000
	MaxRestarts    = 1000
	MaxQueries     = 1000000
	MaxBinarySteps = 100
)

// optionRanges are the ranges of the numeric options of specs. Zero stands
// for the attack's default in Config, so an option typed as 0 where 0 is
// not a value of its own is refused, never replaced by the default.
var optionRanges = map[string]struct {
	lo, hi float64
	open   bool   // lo itself is excluded
	why    string // what the range means
}{
	"steps":        {1, MaxSteps, false, "iterations"},
	"restarts":     {1, MaxRestarts, false, "runs from random starts"},
	"binary-steps": {1, MaxBinarySteps, false, "rounds of the search over c"},
	"queries":      {1, MaxQueries, false, "queries per image"},
	"alpha":        {0, 1e6, true, "a step size"},
	"kappa":        {0, 1e6, false, "a confidence margin"},
	"c":            {0, 1e12, true, "the initial constant"},
	"p":            {0, 1, true, "a fraction of the image"},
	"threshold":    {0, 1, true, "an IoU"},
	"lambda":       {0, 1e12, false, "a weight"},
	"decay":        {0, 1e6, false, "a momentum decay"},
	"smoothing":    {0, 1, false, "a label smoothing"},
}

// checkOption checks the value of a numeric spec option against its range.
func checkOption(key string, v float64) error {
	r, ok := optionRanges[key]
	if !ok {
		return nil
	}
	if math.IsNaN(v) || v < r.lo || (r.open && v == r.lo) || v > r.hi || (key == "smoothing" && v == 1) {
		lo := fmt.Sprintf("%g <= ", r.lo)
		if r.open {
			lo = fmt.Sprintf("%g < ", r.lo)
		}
		hi := fmt.Sprintf(" <= %g", r.hi)
		if key == "smoothing" {
			hi = " < 1"
		}
		return fmt.Errorf("want %s%s%s (%s)", lo, key, hi, r.why)
	}
	return nil
}

// order is the order Names lists the attacks in.
var order = []string{"fgsm", "step-ll", "r-step-ll", "bim", "iter-ll", "pgd", "pgd-l2", "mifgsm", "cw-l2", "square", "gated-step-ll", "attention-loss", "pgd-kl"}

// base builds the shared part of an attack from c, with the attack's
// default targeting and label smoothing.
func (c Config) base(t Targeting, smoothing float64) Base {
	b := Base{Eps: c.Eps, Targeting: t, Targets: c.Targets, Smoothing: smoothing, Seed: c.Seed, Seeds: c.Seeds}
	if c.Targeting != "" {
		b.Targeting = c.Targeting
	}
	if c.Smoothing != nil {
		b.Smoothing = *c.Smoothing
	}
	return b
}

// Register adds an attack defined outside this package to the registry:
// New, ParseSpec (its option keys besides the common ones: targeting,
// seed, smoothing) and Names know it from then on. norm is "linf" or
// "l2"; make builds the attack from a checked Config. It panics when the
// name is taken or the norm unknown (a programming error). Tests use it to
// plant broken attacks that the evaluation's sanity checks must catch.
func Register(name, doc, norm string, keys []string, make func(c Config) Attack) {
	if _, ok := registry[name]; ok || name == "" || norm != "linf" && norm != "l2" || make == nil {
		panic(fmt.Sprintf("attack.Register(%q, norm %q): name taken, empty or norm unknown", name, norm))
	}
	registry[name] = entry{doc: doc, norm: norm, keys: slices.Clone(keys), make: make}
	order = append(order, name)
}

// Names lists the attacks New knows.
func Names() []string { return append([]string(nil), order...) }

// Describe returns a one-line description of a registered attack.
func Describe(name string) string { return registry[name].doc }

// Norm returns the norm of a registered attack's budget: "linf" or "l2".
func Norm(name string) (string, error) {
	e, ok := registry[name]
	if !ok {
		return "", unknown(name)
	}
	return e.norm, nil
}

// New returns the attack called name with configuration cfg. It checks the
// configuration: an unknown name, or eps outside [0,1] on the [0,1] pixel
// scale (L-inf attacks; L2 budgets must be >= 0), or negative counts and
// step sizes give errors.
func New(name string, cfg Config) (Attack, error) {
	e, ok := registry[name]
	if !ok {
		return nil, unknown(name)
	}
	// an L2 budget is checked against the image size in Perturb
	if err := checkEps(name, e.norm, cfg.Eps, 0); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		what string
		v    float64
	}{{"steps", float64(cfg.Steps)}, {"step size", cfg.Alpha}, {"restarts", float64(cfg.Restarts)},
		{"kappa", cfg.Kappa}, {"initial constant", cfg.InitialConst}, {"binary steps", float64(cfg.BinarySteps)},
		{"queries", float64(cfg.Queries)}} {
		if f.v < 0 || math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return nil, fmt.Errorf("%s: %s %g must be >= 0", name, f.what, f.v)
		}
	}
	for _, f := range []struct {
		what   string
		v, max int
	}{{"steps", cfg.Steps, MaxSteps}, {"restarts", cfg.Restarts, MaxRestarts}, {"queries", cfg.Queries, MaxQueries}, {"binary steps", cfg.BinarySteps, MaxBinarySteps}} {
		if f.v > f.max {
			return nil, fmt.Errorf("%s: %s %d: at most %d", name, f.what, f.v, f.max)
		}
	}
	if cfg.PInit < 0 || cfg.PInit > 1 || math.IsNaN(cfg.PInit) {
		return nil, fmt.Errorf("%s: p %g must be in (0,1]", name, cfg.PInit)
	}
	if cfg.Threshold < 0 || cfg.Threshold > 1 || math.IsNaN(cfg.Threshold) {
		return nil, fmt.Errorf("%s: IoU threshold %g must be in [0,1]", name, cfg.Threshold)
	}
	if cfg.Lambda != nil && (*cfg.Lambda < 0 || math.IsNaN(*cfg.Lambda) || math.IsInf(*cfg.Lambda, 0)) {
		return nil, fmt.Errorf("%s: lambda %g must be a finite number >= 0", name, *cfg.Lambda)
	}
	if cfg.Smoothing != nil && (*cfg.Smoothing < 0 || *cfg.Smoothing >= 1) {
		return nil, fmt.Errorf("%s: label smoothing %g must be in [0,1)", name, *cfg.Smoothing)
	}
	if cfg.Decay != nil && (*cfg.Decay < 0 || math.IsNaN(*cfg.Decay)) {
		return nil, fmt.Errorf("%s: decay %g must be >= 0", name, *cfg.Decay)
	}
	switch cfg.Targeting {
	case "", Untargeted, LeastLikely, Random, Given:
	default:
		return nil, fmt.Errorf("%s: unknown targeting %q; known: untargeted, least-likely, random, given", name, cfg.Targeting)
	}
	return e.make(cfg), nil
}

// Spec chooses an attack: its registered name and its configuration, as
// ParseSpec reads them from "pgd:steps=100:restarts=5". Evaluations,
// analyses and training objectives take their attacks as Specs.
type Spec struct {
	Name   string
	Config Config
	// Text is the specification as written (the key reports use); ""
	// for a Spec built in code.
	Text string
}

// New builds the attack (see New).
func (s Spec) New() (Attack, error) { return New(s.Name, s.Config) }

// String returns Text, or the name when there is none.
func (s Spec) String() string {
	if s.Text != "" {
		return s.Text
	}
	return s.Name
}

// ParseSpec parses an attack specification "name" or
// "name:key=value:key=value" (e.g. "pgd:steps=100:restarts=5"); Eps is
// left for the caller. Unknown names, keys the attack does not take and
// malformed values give errors that list the valid choices.
func ParseSpec(spec string) (Spec, error) {
	name, cfg, err := parseSpec(spec)
	if err != nil {
		return Spec{}, err
	}
	return Spec{Name: name, Config: cfg, Text: spec}, nil
}

func parseSpec(spec string) (string, Config, error) {
	var cfg Config
	parts := strings.Split(strings.TrimSpace(spec), ":")
	name := strings.ToLower(strings.TrimSpace(parts[0]))
	e, ok := registry[name]
	if !ok {
		return "", cfg, unknown(name)
	}
	valid := append(append([]string(nil), e.keys...), commonKeys...)
	sort.Strings(valid)
	for _, kv := range parts[1:] {
		k, v, ok := strings.Cut(kv, "=")
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return "", cfg, fmt.Errorf("attack %q: option %q is not key=value (valid keys: %s)", spec, kv, strings.Join(valid, ", "))
		}
		known := false
		for _, vk := range valid {
			known = known || vk == k
		}
		if !known {
			return "", cfg, fmt.Errorf("attack %s has no option %q; valid keys: %s", name, k, strings.Join(valid, ", "))
		}
		bad := func(err error) error {
			return fmt.Errorf("attack %s: option %s=%s: %v", name, k, v, err)
		}
		num := func() (float64, error) {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return 0, fmt.Errorf("not a number")
			}
			return f, checkOption(k, f)
		}
		integer := func() (int, error) {
			f, err := strconv.ParseFloat(v, 64) // 1e3 is an integer too
			if err != nil || f != math.Trunc(f) {
				return 0, fmt.Errorf("not a whole number")
			}
			if err := checkOption(k, f); err != nil {
				return 0, err
			}
			return int(f), nil
		}
		var err error
		switch k {
		case "steps":
			cfg.Steps, err = integer()
		case "restarts":
			cfg.Restarts, err = integer()
		case "binary-steps":
			cfg.BinarySteps, err = integer()
		case "queries":
			cfg.Queries, err = integer()
		case "alpha":
			cfg.Alpha, err = num()
		case "kappa":
			cfg.Kappa, err = num()
		case "c":
			cfg.InitialConst, err = num()
		case "p":
			cfg.PInit, err = num()
		case "threshold":
			cfg.Threshold, err = num()
		case "lambda":
			var l float64
			l, err = num()
			cfg.Lambda = &l
		case "decay":
			var d float64
			d, err = num()
			cfg.Decay = &d
		case "smoothing":
			var s float64
			s, err = num()
			cfg.Smoothing = &s
		case "seed":
			cfg.Seed, err = strconv.ParseUint(v, 10, 64)
			if err == nil && cfg.Seed == 0 {
				err = fmt.Errorf("want a seed >= 1 (without a seed option the attack takes the command's --seed)")
			} else if err != nil {
				err = fmt.Errorf("not a seed (a whole number from 1 to %d)", uint64(math.MaxUint64))
			}
		case "layer":
			cfg.Layer = v
		case "targeting":
			cfg.Targeting = Targeting(v)
		case "random-start", "project":
			var b bool
			if b, err = strconv.ParseBool(v); err != nil {
				err = fmt.Errorf("want true or false")
			}
			if k == "random-start" {
				cfg.NoRandomStart = !b
			} else {
				cfg.Unprojected = !b
			}
		}
		if err != nil {
			return "", cfg, bad(err)
		}
	}
	return name, cfg, nil
}
