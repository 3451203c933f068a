package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/arp-robustness/arp/train"
	"github.com/schollz/progressbar/v3"
)

// newBar returns the progress bar of arp's long commands on w: units done
// of total with their rate, the time left and elapsed, redrawn at most five
// times a second and cleared when finished.
func newBar(w io.Writer, total int, desc, unit string) *progressbar.ProgressBar {
	return progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionShowCount(),
		progressbar.OptionShowIts(), progressbar.OptionSetItsString(unit),
		progressbar.OptionSetPredictTime(true), progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionSetWidth(24),
		progressbar.OptionSetDescription(desc), progressbar.OptionClearOnFinish())
}

// bars shows one progress bar at a time on w (none when w is nil), made
// when a task first reports, once its total is known. It is the
// demo.Tracker of arp demo and drives arp eval's and arp analyze's bars.
type bars struct {
	w    io.Writer
	task string
	bar  *progressbar.ProgressBar
}

// Update shows done of total units of task, starting a new bar for a new
// task.
func (b *bars) Update(task, unit string, done, total int) {
	if b.w == nil {
		return
	}
	if b.bar == nil || task != b.task {
		b.Done()
		b.bar, b.task = newBar(b.w, total, task, unit), task
	}
	_ = b.bar.Set(done)
}

// Describe changes the current bar's description.
func (b *bars) Describe(desc string) {
	if b.bar != nil {
		b.bar.Describe(desc)
	}
}

// Done finishes the current bar.
func (b *bars) Done() {
	if b.bar != nil {
		_ = b.bar.Finish()
		b.bar = nil
	}
}

// reporter shows progress: a bar on a terminal, else a line per evaluation.
type reporter struct {
	w       io.Writer
	bar     *progressbar.ProgressBar
	done    bool
	defense string
}

func newReporter(w io.Writer, quiet bool, steps int, defenseName string) *reporter {
	r := &reporter{w: w, defense: defenseName}
	if !quiet && isTerminal(w) {
		r.bar = newBar(w, steps, "training", "steps")
	}
	return r
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (r *reporter) progress(p train.Progress) {
	if r.bar != nil {
		r.bar.Describe(fmt.Sprintf("loss %.3f acc %.3f %4.0f img/s", p.Loss, p.TrainAcc, p.ImagesPerSec))
		if p.Eval != nil && p.Step < p.Steps {
			_, _ = progressbar.Bprintln(r.bar, evalLine(p))
		}
		_ = r.bar.Set(p.Step)
		if p.Eval != nil && p.Step == p.Steps {
			r.finish()
			fmt.Fprintln(r.w, evalLine(p))
		}
		return
	}
	if p.Eval != nil {
		fmt.Fprintln(r.w, evalLine(p))
	}
}

func evalLine(p train.Progress) string {
	return fmt.Sprintf("step %d/%d (epoch %.2f): loss %.4f, train acc %.3f, lr %.3g | held-out clean %.4f, Step-LL %.4f | %.0f img/s, %s",
		p.Step, p.Steps, p.Epoch, p.Loss, p.TrainAcc, p.LR, p.Eval.CleanAcc, p.Eval.StepLLAcc, p.ImagesPerSec, p.Elapsed.Round(time.Second))
}

// finish completes (and clears) the bar, once.
func (r *reporter) finish() {
	if r.bar != nil && !r.done {
		_ = r.bar.Finish()
		r.done = true
	}
}
