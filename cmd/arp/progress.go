package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/arp-robustness/arp/train"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Plain progress lines (progress on a writer that is not a terminal) come
// at each tenth of a task, at least every lineEvery and at most every
// lineGap.
const (
	lineEvery = time.Minute
	lineGap   = 2 * time.Second
)

// progress shows how far arp's long commands are, one task at a time. On a
// terminal it draws a bar redrawn in place (count, rate, time left and
// elapsed); on anything else (a file, a pipe) it writes plain lines with
// the same numbers, at each tenth of the task, at least once a minute and
// when the task ends, so that logs stay readable. A nil *progress or one
// with a nil writer shows nothing. It is the demo.Tracker of arp demo and
// the progress of train, eval, tune, analyze and data download.
type progress struct {
	w    io.Writer
	term bool
	now  func() time.Time

	task, unit, desc string
	total            int64
	// bar counts the units from barBase on: those of this run, and after
	// a change of the total those from then on (its own rate starts there)
	bar     *progressbar.ProgressBar
	barBase int64
	// done0 units were done before this run (Start's from) and t0 is
	// when the task started; the rate counts from the first report
	// (rDone at rTime), after the work before it (loading, a first unit
	// whose start nobody saw); lastLine is when the last plain line was
	// written, at what tenth of the task
	done0, done, rDone  int64
	t0, rTime, lastLine time.Time
	tenth               int64
}

// newProgress shows progress on w (nil: none), as a bar if w is a terminal.
func newProgress(w io.Writer) *progress {
	return &progress{w: w, term: isTerminal(w), now: time.Now}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Update shows done of total units of task, starting anew when the task
// changes (demo.Tracker).
func (p *progress) Update(task, unit string, done, total int) {
	p.Report(task, unit, int64(done), int64(total), "")
}

// Start begins task, of total units (0 or less: unknown), from units
// done before this run: a resumed task's rate and time left count only the
// units done from then on. Report starts a task by itself (from 0) when
// its name or unit changes.
func (p *progress) Start(task, unit string, from, total int64) {
	if p == nil || p.w == nil {
		return
	}
	p.Done()
	p.task, p.unit, p.total, p.done0, p.done, p.barBase, p.desc = task, unit, total, from, from, from, ""
	p.t0, p.rTime, p.tenth, p.lastLine = p.now(), time.Time{}, -1, time.Time{}
	if p.term {
		p.bar = p.newBar()
	}
}

// Report shows done of total units of task and what it is doing (desc,
// may be empty).
func (p *progress) Report(task, unit string, done, total int64, desc string) {
	if p == nil || p.w == nil {
		return
	}
	if task != p.task || unit != p.unit || p.t0.IsZero() {
		p.Start(task, unit, 0, total)
	}
	if total != p.total {
		// a new bar: one that reached its old total has finished for good
		p.total = total
		if p.bar != nil {
			_ = p.bar.Clear()
			p.barBase = p.done
			p.bar = p.newBar()
		}
	}
	p.done, p.desc = done, desc
	if p.rTime.IsZero() {
		p.rDone, p.rTime = done, p.now()
	}
	if p.bar != nil {
		label := p.label()
		if desc != "" {
			label += ": " + desc
		}
		p.bar.Describe(label)
		_ = p.bar.Set64(done - p.barBase)
		return
	}
	now := p.now()
	tenth := int64(-1)
	if total > 0 {
		tenth = 10 * done / total
	}
	if p.lastLine.IsZero() || now.Sub(p.lastLine) >= lineEvery || (tenth > p.tenth && now.Sub(p.lastLine) >= lineGap) {
		p.line(now)
		p.tenth = tenth
	}
}

// label names the current task, and where it resumed (see Start).
func (p *progress) label() string {
	if p.done0 > 0 {
		return fmt.Sprintf("%s (resumed at %s)", p.task, p.count(p.done0))
	}
	return p.task
}

// newBar makes the terminal bar of the current task.
func (p *progress) newBar() *progressbar.ProgressBar {
	total := max(p.total-p.barBase, -1)
	if p.total <= 0 {
		total = -1 // unknown: a spinner
	}
	opts := []progressbar.Option{progressbar.OptionSetWriter(p.w), progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true), progressbar.OptionThrottle(200 * time.Millisecond),
		progressbar.OptionSetWidth(24), progressbar.OptionClearOnFinish()}
	if p.unit == "bytes" {
		opts = append(opts, progressbar.OptionShowBytes(true))
	} else {
		opts = append(opts, progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString(p.unit))
	}
	return progressbar.NewOptions64(total, opts...)
}

// line writes the plain progress line of the current task.
func (p *progress) line(now time.Time) {
	el := now.Sub(p.t0)
	s := p.label() + ": " + p.count(p.done)
	if p.total > 0 {
		s += " of " + p.count(p.total) + fmt.Sprintf(" (%.0f%%)", 100*float64(p.done)/float64(p.total))
	}
	s += " " + p.unitName()
	if dt := now.Sub(p.rTime); dt > 0 && p.done > p.rDone {
		rate := float64(p.done-p.rDone) / dt.Seconds()
		s += ", " + p.rate(rate) + ", " + roundDuration(el).String() + " elapsed"
		if p.total > p.done {
			s += ", about " + roundDuration(time.Duration(float64(p.total-p.done)/rate*float64(time.Second))).String() + " left"
		}
	} else {
		s += ", " + roundDuration(el).String() + " elapsed"
	}
	if p.desc != "" {
		s += "; " + p.desc
	}
	fmt.Fprintln(p.w, s)
	p.lastLine = now
}

func (p *progress) count(n int64) string {
	if p.unit == "bytes" {
		return fmt.Sprintf("%.1f", float64(n)/1e6)
	}
	return fmt.Sprint(n)
}

func (p *progress) unitName() string {
	if p.unit == "bytes" {
		return "MB"
	}
	return p.unit
}

func (p *progress) rate(r float64) string {
	if p.unit == "bytes" {
		return fmt.Sprintf("%.2f MB/s", r/1e6)
	}
	return fmt.Sprintf("%.3g %s/s", r, p.unit)
}

// roundDuration rounds d to what a person reads: seconds, or tenths below
// ten seconds.
func roundDuration(d time.Duration) time.Duration {
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}

// Println writes a line of text, above the bar on a terminal.
func (p *progress) Println(s string) {
	if p == nil || p.w == nil {
		return
	}
	if p.bar != nil {
		// written at once (progressbar.Bprintln holds text back until the
		// next redraw, and drops it when the bar is cleared at the end)
		_ = p.bar.Clear()
		fmt.Fprintln(p.w, s)
		_ = p.bar.RenderBlank()
		return
	}
	fmt.Fprintln(p.w, s)
}

// Done ends the current task: the bar is cleared, or a last plain line
// says how long it took.
func (p *progress) Done() {
	if p == nil || p.w == nil {
		return
	}
	if p.bar != nil {
		_ = p.bar.Finish()
		p.bar = nil
	} else if !p.t0.IsZero() {
		p.line(p.now())
	}
	p.task, p.t0 = "", time.Time{}
}

// reporter shows the progress of arp train: the step count with loss,
// accuracy and speed (see progress), and a line per held-out evaluation.
type reporter struct {
	prog    *progress // nil with --quiet
	w       io.Writer
	started bool
}

func newReporter(w io.Writer, quiet bool) *reporter {
	r := &reporter{w: w}
	if !quiet {
		r.prog = newProgress(w)
	}
	return r
}

func (r *reporter) progress(p train.Progress) {
	if !r.started { // a resumed run starts after its last checkpoint
		r.prog.Start("training", "steps", int64(p.Step-1), int64(p.Steps))
		r.started = true
	}
	r.prog.Report("training", "steps", int64(p.Step), int64(p.Steps), fmt.Sprintf("loss %.3f, acc %.3f, %.0f img/s", p.Loss, p.TrainAcc, p.ImagesPerSec))
	if p.Eval == nil {
		return
	}
	if r.prog != nil {
		r.prog.Println(evalLine(p))
	} else {
		fmt.Fprintln(r.w, evalLine(p))
	}
}

func evalLine(p train.Progress) string {
	return fmt.Sprintf("step %d/%d (epoch %.2f): loss %.4f, train acc %.3f, lr %.3g | held-out clean %.4f, Step-LL %.4f | %.0f img/s, %s",
		p.Step, p.Steps, p.Epoch, p.Loss, p.TrainAcc, p.LR, p.Eval.CleanAcc, p.Eval.StepLLAcc, p.ImagesPerSec, p.Elapsed.Round(time.Second))
}

// finish ends the training's progress.
func (r *reporter) finish() { r.prog.Done() }
