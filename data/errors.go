package data

import (
	"errors"
	"fmt"
)

// Error is a problem found in a dataset file. Record is the zero-based index
// of the offending record (an image, a label, or for VOC XML files an
// annotated object) or -1 when the problem concerns the whole file.
type Error struct {
	File   string
	Record int
	// What names what Record counts: "record" (when empty) or "object".
	What string
	Msg  string
}

func (e *Error) Error() string {
	if e.File == "" {
		return e.Msg
	}
	if e.Record >= 0 {
		what := e.What
		if what == "" {
			what = "record"
		}
		return fmt.Sprintf("%s: %s %d: %s", e.File, what, e.Record, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// maxProblems bounds how many problems a single file reports, so that a file
// full of garbage does not produce millions of lines.
const maxProblems = 50

// problems collects the errors found while parsing. Loaders stop at the first
// one (via first); Check reports them all.
type problems struct {
	list    []*Error
	dropped int
}

func (p *problems) add(file string, record int, format string, args ...any) {
	if len(p.list) >= maxProblems {
		p.dropped++
		return
	}
	p.list = append(p.list, &Error{File: file, Record: record, Msg: fmt.Sprintf(format, args...)})
}

func (p *problems) addErr(err error) {
	var e *Error
	if errors.As(err, &e) {
		if len(p.list) >= maxProblems {
			p.dropped++
			return
		}
		p.list = append(p.list, e)
		return
	}
	p.add("", -1, "%v", err)
}

func (p *problems) ok() bool { return len(p.list) == 0 }

// first returns the first problem as an error, or nil.
func (p *problems) first() error {
	if len(p.list) == 0 {
		return nil
	}
	return p.list[0]
}
