package eval

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
)

// stateFormat names the resumable state file format: JSON lines, a header
// line describing the evaluation, then one line per finished unit.
const stateFormat = "arp-eval-state/1"

// unitKey identifies a unit of work: one attack at one budget on one batch
// of images, in one phase ("main", "subset": the standalone runs on the
// sanity-check subset in cascade mode, "unbounded": the unbounded PGD).
type unitKey struct {
	Phase  string  `json:"phase"`
	Attack int     `json:"attack"` // index into the attack list (-1: the unbounded PGD)
	Norm   string  `json:"norm"`
	Eps    float64 `json:"eps"`
	Batch  int     `json:"batch"`
}

// imageResult is the outcome of one attacked image.
type imageResult struct {
	I      int     `json:"i"`                // index of the image in the evaluated set
	Broken bool    `json:"broken"`           // misclassified within the budget
	Pred   int     `json:"pred"`             // prediction on the adversarial image
	Linf   float64 `json:"linf"`             // distances on the [0,1] pixel scale
	L2     float64 `json:"l2"`               //
	OOB    bool    `json:"oob,omitempty"`    // outside the budget
	NoGrad bool    `json:"nograd,omitempty"` // the attack had no usable gradient
}

// unitResult is a finished unit as stored in the state file.
type unitResult struct {
	unitKey
	Name    string        `json:"name"`
	Images  []imageResult `json:"images"`
	Seconds float64       `json:"seconds"`
}

// stateHeader is the first line of a state file: an evaluation can only be
// resumed by the same evaluation.
type stateHeader struct {
	Format   string         `json:"format"`
	Identity map[string]any `json:"identity"`
}

type stateLine struct {
	Header *stateHeader `json:"header,omitempty"`
	Unit   *unitResult  `json:"unit,omitempty"`
}

// state is the open state file of an evaluation (nil path: no file).
type state struct {
	path  string
	f     *os.File
	units map[unitKey]*unitResult
}

// openState opens (or creates) the state file at path for an evaluation
// with identity id, reading the finished units of an earlier run. A
// partial last line (a write interrupted by a crash) is dropped.
func openState(path string, id map[string]any) (*state, error) {
	s := &state{path: path, units: map[unitKey]*unitResult{}}
	if path == "" {
		return s, nil
	}
	// normalise the identity through JSON so that it compares with what is read back
	b, err := json.Marshal(id)
	if err != nil {
		return nil, err
	}
	var norm map[string]any
	if err := json.Unmarshal(b, &norm); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("state file %s: %v", path, err)
	}
	good := 0 // bytes of complete, valid lines
	if len(data) > 0 {
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 1<<20), 1<<30)
		line, off := 0, 0
		for sc.Scan() {
			line++
			raw := sc.Bytes()
			end := off + len(raw) + 1
			complete := end <= len(data) && data[end-1] == '\n'
			var l stateLine
			if err := json.Unmarshal(raw, &l); err != nil {
				if !complete {
					break // interrupted write: drop it
				}
				return nil, fmt.Errorf("state file %s: line %d: %v", path, line, err)
			}
			if !complete {
				break
			}
			if line == 1 {
				if l.Header == nil || l.Header.Format != stateFormat {
					return nil, fmt.Errorf("state file %s: line 1 is not an %s header", path, stateFormat)
				}
				if !reflect.DeepEqual(l.Header.Identity, norm) {
					return nil, fmt.Errorf("state file %s belongs to a different evaluation (%s); delete it or choose another state file", path, identityDiff(l.Header.Identity, norm))
				}
			} else {
				if l.Unit == nil {
					return nil, fmt.Errorf("state file %s: line %d: not a unit record", path, line)
				}
				u := l.Unit
				s.units[u.unitKey] = u
			}
			good = end
			off = end
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("state file %s: %v", path, err)
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("state file %s: %v", path, err)
	}
	if err := f.Truncate(int64(good)); err != nil {
		f.Close()
		return nil, fmt.Errorf("state file %s: %v", path, err)
	}
	if _, err := f.Seek(int64(good), io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	s.f = f
	if good == 0 {
		if err := s.write(stateLine{Header: &stateHeader{Format: stateFormat, Identity: norm}}); err != nil {
			f.Close()
			return nil, err
		}
	}
	return s, nil
}

// identityDiff names the first fields in which two identities differ.
func identityDiff(a, b map[string]any) string {
	var diff []string
	for k, v := range b {
		if !reflect.DeepEqual(a[k], v) {
			diff = append(diff, fmt.Sprintf("%s: %v in the file, %v now", k, short(a[k]), short(v)))
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			diff = append(diff, fmt.Sprintf("%s only in the file", k))
		}
	}
	if len(diff) == 0 {
		return "unknown difference"
	}
	if len(diff) > 3 {
		diff = append(diff[:3], "...")
	}
	return fmt.Sprint(diff)
}

func short(v any) string {
	s := fmt.Sprint(v)
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

// write appends one line and syncs it to disk.
func (s *state) write(l stateLine) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	if _, err := s.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("state file %s: %v", s.path, err)
	}
	return s.f.Sync()
}

// done returns a finished unit, if any.
func (s *state) done(k unitKey) (*unitResult, bool) {
	u, ok := s.units[k]
	return u, ok
}

// save records a finished unit.
func (s *state) save(u *unitResult) error {
	s.units[u.unitKey] = u
	if s.f == nil {
		return nil
	}
	return s.write(stateLine{Unit: u})
}

func (s *state) close() error {
	if s.f == nil {
		return nil
	}
	return s.f.Close()
}
