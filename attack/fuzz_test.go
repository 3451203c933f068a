package attack

import (
	"strings"
	"testing"
)

// FuzzParseSpec: attack specifications come from the command line; any
// string gives an attack or an error, never a panic, and what parses
// builds (or is rejected by New with an error).
func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"pgd", "pgd:steps=100:restarts=5", "square:queries=10:p=0.5", "mifgsm:decay=0",
		"cw-l2:c=1:kappa=2:binary-steps=3", "gated-step-ll:threshold=0.2:layer=pool2", "pgd:random-start=false",
		"iter-ll:project=false:steps=2", "fgsm:targeting=random:seed=3", "pgd:steps=", ":::", "PGD:STEPS=1e9", "pgd:smoothing=0.99"} {
		f.Add(s, 0.1)
	}
	f.Fuzz(func(t *testing.T, spec string, eps float64) {
		sp, err := ParseSpec(spec)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if !strings.EqualFold(strings.TrimSpace(strings.Split(spec, ":")[0]), sp.Name) {
			t.Fatalf("spec %q parsed as attack %q", spec, sp.Name)
		}
		sp.Config.Eps = eps
		a, err := sp.New()
		if err == nil {
			_ = a.Settings()
		}
	})
}
