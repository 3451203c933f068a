package analysis

import (
	"fmt"
	"strings"

	"github.com/arp-robustness/arp/attack"
	"github.com/arp-robustness/arp/attention"
)

// Methods lists the attention methods the study can use.
func Methods() []string { return []string{"gradcam-arp", "gradcam", "gradcam++", "lime"} }

// DefaultAttacks are the attacks of the paper's analysis: the single-step
// attacks for observations 1 and 2 and Iter-LL for observation 3.
var DefaultAttacks = []string{"fgsm", "step-ll", "r-step-ll", "iter-ll"}

// Iter-LL schedules (Config.IterSchedule).
const (
	IterFine  = "fine"
	IterPaper = "paper"
)

// DefaultEps is the paper's Step-LL budget, 0.15 on its [-1,1] scale, on the
// [0,1] pixel scale.
const DefaultEps = 0.075

// traced lists the iterative attacks whose per-step trace is recorded.
var traced = map[string]bool{"iter-ll": true, "bim": true, "gated-step-ll": true}

// Config selects what the study measures. The zero value with Attacks set
// is usable; WithDefaults fills in the rest.
type Config struct {
	// Attacks are attack specifications as attack.ParseSpec reads them
	// ("fgsm", "pgd:steps=20", ...); default DefaultAttacks.
	Attacks []string `json:"attacks"`
	// Eps is the L-inf budget on the [0,1] pixel scale (default DefaultEps).
	Eps float64 `json:"eps"`
	// Method is the attention method, one of Methods (default gradcam-arp).
	Method string `json:"method"`
	// CAMScale scales the gradcam and gradcam++ maps: "max" (divide by
	// the maximum; default) or "min-max" (pytorch-grad-cam's: subtract
	// the minimum first); see attention.WithScaling.
	CAMScale string `json:"cam_scale,omitempty"`
	// Layer is the tapped layer (default: the model's attention layer).
	Layer string `json:"layer,omitempty"`
	// TopK is the number of coarse cells of the top-k mask; default: 7/64
	// of the cells, rounded (the paper's 7 of an 8x8 map). With LIME it is
	// the number of superpixels (default 10, as in the paper).
	TopK int `json:"topk,omitempty"`
	// Limit analyses only the first Limit images (0: all).
	Limit int `json:"limit,omitempty"`
	// Seed drives the attacks' and LIME's random choices.
	Seed uint64 `json:"seed"`
	// BatchSize is the number of images per batch (default 100); a batch
	// is also the unit of resumption.
	BatchSize int `json:"batch_size"`
	// Steps and StepSize are the defaults of the iterative attacks
	// (iter-ll, bim, gated-step-ll) when their spec does not set steps or
	// alpha: 10 steps of eps/4. Their per-step trace has one entry per step.
	Steps    int     `json:"steps"`
	StepSize float64 `json:"step_size"`
	// IterSchedule is Iter-LL's schedule: IterFine (Steps steps of
	// StepSize, projected to the eps-ball; default) or IterPaper (the ARP
	// paper's 2 unprojected Step-LL steps of eps, so up to 2*eps from the
	// clean image). A spec's own steps, alpha or project win.
	IterSchedule string `json:"iter_schedule,omitempty"`
	// Gallery is the number of example images kept per attack and outcome
	// (succeeded, failed) for the report's galleries (default 8; -1: none).
	Gallery int `json:"gallery"`
	// LIME settings: perturbed samples per explanation (default 500) and
	// SLIC superpixels (default 36).
	LIMESamples  int `json:"lime_samples,omitempty"`
	LIMESegments int `json:"lime_segments,omitempty"`
	// LIMEMeanHide hides switched-off superpixels with their mean colour
	// (Python LIME's default); otherwise they become black (0), which
	// removes a digit's stroke instead of leaving it in place.
	LIMEMeanHide bool `json:"lime_mean_hide,omitempty"`
}

// WithDefaults returns c with defaults filled in.
func (c Config) WithDefaults() Config {
	if len(c.Attacks) == 0 {
		c.Attacks = append([]string(nil), DefaultAttacks...)
	}
	if c.Eps == 0 {
		c.Eps = DefaultEps
	}
	if c.Method == "" {
		c.Method = "gradcam-arp"
	}
	if c.BatchSize == 0 {
		c.BatchSize = 100
	}
	if c.Steps == 0 {
		c.Steps = 10
	}
	if c.StepSize == 0 {
		c.StepSize = c.Eps / 4
	}
	if c.Gallery == 0 {
		c.Gallery = 8
	}
	if c.IterSchedule == IterFine {
		c.IterSchedule = "" // the default, so settings compare equal
	}
	if c.Method == "lime" {
		if c.LIMESamples == 0 {
			c.LIMESamples = 500
		}
		if c.LIMESegments == 0 {
			c.LIMESegments = 36
		}
	} else {
		c.LIMESamples, c.LIMESegments, c.LIMEMeanHide = 0, 0, false
	}
	return c
}

// Validate checks a configuration after WithDefaults.
func (c Config) Validate() error {
	if !(c.Eps > 0 && c.Eps <= 1) {
		return fmt.Errorf("eps %g must be in (0,1] (the [0,1] pixel scale)", c.Eps)
	}
	known := false
	for _, m := range Methods() {
		known = known || m == c.Method
	}
	if !known {
		return fmt.Errorf("unknown attention method %q; known: %s", c.Method, strings.Join(Methods(), ", "))
	}
	switch {
	case c.Limit < 0:
		return fmt.Errorf("limit %d: want 0 (all) or more images", c.Limit)
	case c.BatchSize < 1:
		return fmt.Errorf("batch size %d: want 1 or more images", c.BatchSize)
	case c.TopK < 0:
		return fmt.Errorf("top-k %d: want 0 (the default) or more cells", c.TopK)
	case c.Steps < 1 || c.Steps > attack.MaxSteps:
		return fmt.Errorf("steps %d: want 1 to %d", c.Steps, attack.MaxSteps)
	case !(c.StepSize > 0 && c.StepSize <= 1):
		return fmt.Errorf("step size %g: want a value in (0,1] on the [0,1] pixel scale", c.StepSize)
	case c.Gallery < -1:
		return fmt.Errorf("gallery %d: want -1 (none) or more images", c.Gallery)
	}
	if c.IterSchedule != "" && c.IterSchedule != IterPaper {
		return fmt.Errorf("unknown Iter-LL schedule %q; known: %s (10 projected steps of eps/4 unless --steps/--step-size say otherwise), %s (the ARP paper's 2 unprojected steps of eps)", c.IterSchedule, IterFine, IterPaper)
	}
	if c.Method != "lime" {
		m, err := camMethod(c.Method)
		if err != nil {
			return err
		}
		if _, err := attention.WithScaling(m, c.CAMScale); err != nil {
			return err
		}
	} else if c.CAMScale != "" {
		return fmt.Errorf("map scaling %q applies to gradcam and gradcam++, not LIME", c.CAMScale)
	}
	if c.Method == "lime" && c.LIMESamples < 2 {
		return fmt.Errorf("LIME needs at least 2 samples, have %d", c.LIMESamples)
	}
	if c.Method == "lime" && c.LIMESegments < 2 {
		return fmt.Errorf("LIME needs at least 2 superpixels, have %d", c.LIMESegments)
	}
	if c.Method == "lime" && c.TopK > c.LIMESegments {
		return &SettingError{"topk", c.TopK, fmt.Sprintf("more than the %d superpixels LIME makes (lime_segments)", c.LIMESegments)}
	}
	seen := map[string]bool{}
	for _, s := range c.Attacks {
		if _, err := c.attack(s, 0); err != nil {
			return err
		}
		if seen[s] {
			return fmt.Errorf("attack %q listed twice", s)
		}
		seen[s] = true
	}
	return nil
}

// Attacks lists the attacks the study accepts: the L-inf ones.
func Attacks() []string {
	var out []string
	for _, n := range attack.Names() {
		if norm, _ := attack.Norm(n); norm == "linf" {
			out = append(out, n)
		}
	}
	return out
}

// attack parses spec and applies the study's budget and step defaults;
// the spec as given (Text) is the records' key.
func (c Config) attack(spec string, seed uint64) (*attack.Spec, error) {
	sp, err := attack.ParseSpec(spec)
	if err != nil {
		return nil, err
	}
	name, cfg := sp.Name, sp.Config
	if n, _ := attack.Norm(name); n != "linf" {
		return nil, fmt.Errorf("attack %s: the study uses L-inf budgets; %s is an %s attack", spec, name, n)
	}
	cfg.Eps = c.Eps
	if name == "iter-ll" && c.IterSchedule == IterPaper {
		if cfg.Steps == 0 {
			cfg.Steps = 2
		}
		if cfg.Alpha == 0 {
			cfg.Alpha = c.Eps
		}
		if !specHasKey(spec, "project") {
			cfg.Unprojected = true
		}
	}
	if traced[name] {
		if cfg.Steps == 0 {
			cfg.Steps = c.Steps
		}
		if cfg.Alpha == 0 {
			cfg.Alpha = c.StepSize
		}
	}
	if cfg.Seed == 0 {
		cfg.Seed = seed
	}
	if _, err := attack.New(name, cfg); err != nil {
		return nil, err
	}
	sp.Config = cfg
	return &sp, nil
}

// specHasKey reports whether an attack spec sets option key.
func specHasKey(spec, key string) bool {
	for _, kv := range strings.Split(spec, ":")[1:] {
		if k, _, _ := strings.Cut(kv, "="); strings.TrimSpace(strings.ToLower(k)) == key {
			return true
		}
	}
	return false
}

// camMethod returns the Grad-CAM recipe of a Grad-CAM method name.
func camMethod(name string) (attention.Method, error) { return attention.MethodByName(name, false) }

// SettingError is a setting of Config (named as in its JSON) whose value
// does not fit the model or the data; job.Analyze names the flag.
type SettingError struct {
	Setting string // the JSON name: "topk", "lime_segments"
	Value   any
	Msg     string
}

func (e *SettingError) Error() string { return fmt.Sprintf("%s %v: %s", e.Setting, e.Value, e.Msg) }
