package eval

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpenState: a state file is a user file; any content gives finished
// units or an error naming the file, never a panic.
func FuzzOpenState(f *testing.F) {
	id := map[string]any{"model": "m", "images": 3, "eps": []float64{0.1}}
	good := `{"header":{"format":"arp-eval-state/1","identity":{"eps":[0.1],"images":3,"model":"m"}}}` + "\n" +
		`{"unit":{"phase":"main","attack":0,"norm":"linf","eps":0.1,"batch":0,"name":"fgsm","images":[{"i":0,"broken":true,"pred":3,"linf":0.1,"l2":1}],"seconds":0.5}}` + "\n"
	for _, s := range []string{good, good[:len(good)-10], "", "\n", "{}\n", `{"header":{}}` + "\n", "not json\n", good + "garbage\n"} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "state.jsonl")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := openState(p, id)
		if err != nil {
			return
		}
		defer s.close()
		for k, u := range s.units {
			if u.unitKey != k {
				t.Fatalf("unit stored under %+v has key %+v", k, u.unitKey)
			}
		}
	})
}
