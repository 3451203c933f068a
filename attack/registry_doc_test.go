package attack

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"
)

// TestRegistryDocsStateTheDefaults checks that every number a registered
// attack's one-line description gives for its steps, restarts or queries is
// the default the attack itself uses (Settings with a zero Config): the
// description is printed by arp attacks and must not drift from the code,
// which is the one home of each default.
func TestRegistryDocsStateTheDefaults(t *testing.T) {
	re := regexp.MustCompile(`(\d+) (?:normalised |projected )?(steps|queries|restarts)\b`)
	checked := 0
	for name, e := range registry {
		a := e.make(Config{Eps: 0.1})
		s, ok := a.(interface{ Settings() map[string]any })
		if !ok {
			continue
		}
		set := s.Settings()
		for _, m := range re.FindAllStringSubmatch(e.doc, -1) {
			n, _ := strconv.Atoi(m[1])
			got, ok := set[m[2]]
			if !ok {
				t.Errorf("%s: description says %q but Settings has no %q", name, m[0], m[2])
				continue
			}
			if fmt.Sprint(got) != strconv.Itoa(n) {
				t.Errorf("%s: description says %q, the attack's default %s is %v", name, m[0], m[2], got)
			}
			checked++
		}
	}
	if checked < 4 {
		t.Fatalf("checked only %d stated defaults; the pattern no longer matches the descriptions", checked)
	}
}
