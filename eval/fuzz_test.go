package eval

import (
	"testing"
)

// FuzzReadRecords: a record file is a user file; any content gives units
// or an error naming the file, never a panic.
func FuzzReadRecords(f *testing.F) {
	good := `{"header":{"format":"arp-eval-records/2","evaluation":{"model":"m","images":3,"batch_size":3,"classes":10},"batches_lo":0,"batches_hi":1}}` + "\n" +
		`{"unit":{"phase":"main","attack":0,"norm":"linf","eps":0.1,"batch":0,"name":"fgsm","images":[{"i":0,"broken":true,"pred":3,"linf":0.1,"l2":1}],"seconds":0.5}}` + "\n"
	for _, s := range []string{good, good[:len(good)-10], "", "\n", "{}\n", `{"header":{}}` + "\n", "not json\n", good + "garbage\n", good + good} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := readRecords("records.jsonl", b)
		if err != nil {
			return
		}
		for k, u := range r.units {
			if u.UnitKey != k || u.Batch < r.head.Lo || u.Batch >= r.head.Hi {
				t.Fatalf("unit stored under %+v has key %+v (file batches %d-%d)", k, u.UnitKey, r.head.Lo, r.head.Hi)
			}
		}
		if len(r.units) > 0 {
			units := make([]Unit, 0, len(r.units))
			for _, k := range r.order {
				units = append(units, *r.units[k])
			}
			Combine(r.head.Eval, units) // must not panic
		}
	})
}
