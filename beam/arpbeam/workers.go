package arpbeam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
)

// Config sets how a pipeline splits and runs its work.
type Config struct {
	// BatchesPerItem is the number of batches of a work item (default 1).
	BatchesPerItem int `json:"batches_per_item"`
	// Retries is how many more times a worker runs an item that failed
	// (default 2): prism and the direct runner do not retry failed
	// bundles; cluster runners retry the bundle on top of this.
	Retries int `json:"retries"`
}

func (c Config) withDefaults() Config {
	if c.BatchesPerItem < 1 {
		c.BatchesPerItem = 1
	}
	if c.Retries < 0 {
		c.Retries = 0
	} else if c.Retries == 0 {
		c.Retries = 2
	}
	return c
}

// workerTag starts the errors of workers, so that the program that
// submitted the pipeline can pick them out of the runner's report.
const workerTag = "arp-beam worker: "

// permanent marks an error that retrying cannot fix (an input that cannot
// be opened).
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// running lets one work item at a time run in a worker process, with all
// of the process's cores (the engine's threads, GOMAXPROCS). Runners call
// ProcessElement from several bundles at once (prism does), but two items
// must never run side by side in one process: the engine's switch that
// stops recording gradients (autograd.NoGrad, used by every forward pass
// that needs none) is process-wide, so one item's inference would silently
// zero the other's input gradients. More parallelism comes from more
// worker processes.
var running sync.Mutex

// inFlight counts the items running in this process (tests check it never
// exceeds 1).
var inFlight struct {
	sync.Mutex
	now, max int
}

// instances holds what a worker process opened, by job (its JSON): the
// model and the data, opened by the first item and kept for every item of
// every bundle after it.
var instances sync.Map

type instance[T any] struct {
	once sync.Once
	v    T
	err  error
}

// open returns the job's instance, opened by open the first time.
func open[T any](ctx context.Context, key string, open func(context.Context) (T, error)) (T, error) {
	v, _ := instances.LoadOrStore(key, &instance[T]{})
	in := v.(*instance[T])
	in.once.Do(func() { in.v, in.err = open(ctx) })
	return in.v, in.err
}

// faultHook, when set (by tests), is called after each attempt of an item
// has computed its records and before they are emitted; an error makes
// the attempt fail as a crashed worker's would.
var faultHook func(item string, attempt int) error

// runItem runs an item on the job's instance (opened by openFn the first
// time) with up to retries more attempts, one item at a time in the
// process, and emits its records only when an attempt succeeded.
func runItem[T any](ctx context.Context, cfg Config, key string, openFn func(context.Context) (T, error), item string, work func(context.Context, T) ([]string, error), emit func(string)) error {
	running.Lock()
	defer running.Unlock()
	inFlight.Lock()
	inFlight.now++
	inFlight.max = max(inFlight.max, inFlight.now)
	inFlight.Unlock()
	defer func() {
		inFlight.Lock()
		inFlight.now--
		inFlight.Unlock()
	}()
	v, err := open(ctx, key, openFn)
	if err != nil {
		return fmt.Errorf("%s%v", workerTag, err)
	}
	for attempt := 0; ; attempt++ {
		recs, err := protect(func() ([]string, error) { return work(ctx, v) })
		if err == nil && faultHook != nil {
			err = faultHook(item, attempt)
		}
		if err == nil {
			for _, r := range recs {
				emit(r)
			}
			return nil
		}
		var perm permanent
		if attempt >= cfg.Retries || ctx.Err() != nil || errors.As(err, &perm) {
			return fmt.Errorf("%s%s: %v (attempt %d of %d)", workerTag, item, err, attempt+1, cfg.Retries+1)
		}
		log.Warnf(ctx, "arp-beam: %s failed (attempt %d of %d), running it again: %v", item, attempt+1, cfg.Retries+1, err)
	}
}

// protect runs f, turning a panic into an error.
func protect(f func() ([]string, error)) (out []string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return f()
}

// WorkerError picks the first error of a worker out of a runner's error
// (which wraps it in the runner's own report of the failed bundle); other
// errors are returned with only their first line.
func WorkerError(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if i := strings.Index(msg, workerTag); i >= 0 {
		line, _, _ := strings.Cut(msg[i+len(workerTag):], "\n")
		return fmt.Errorf("on a worker: %s", strings.TrimSpace(line))
	}
	line, _, _ := strings.Cut(msg, "\n")
	return errors.New(strings.TrimSpace(line))
}

// lines encodes values as JSON, one string each (a PCollection's
// elements).
func lines[T any](vs []T) ([]string, error) {
	out := make([]string, len(vs))
	for i := range vs {
		b, err := json.Marshal(vs[i])
		if err != nil {
			return nil, err
		}
		out[i] = string(b)
	}
	return out, nil
}

// decode reads every JSON element of a group.
func decode[T any](next func(*string) bool) ([]T, error) {
	var out []T
	var line string
	for next(&line) {
		var v T
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			return nil, fmt.Errorf("%srecord %q: %v", workerTag, line, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// work runs a ProcessElement: decodes the item, takes the job's instance
// (opened by openFn the first time) and runs do on it with runItem's
// retries.
func work[I fmt.Stringer, T any](ctx context.Context, cfg Config, jobKey, item string, openFn func(context.Context) (T, error),
	do func(context.Context, T, I) ([]string, error), emit func(string)) error {
	var it I
	if err := json.Unmarshal([]byte(item), &it); err != nil {
		return fmt.Errorf("%swork item %q: %v", workerTag, item, err)
	}
	return runItem(ctx, cfg, jobKey, openFn, "work item "+it.String(), func(ctx context.Context, v T) ([]string, error) { return do(ctx, v, it) }, emit)
}

// opener makes the function that opens a job on a worker. The job (JSON)
// decodes into J; paths points at its model and data paths, which are
// copied from remote filesystems first; first opens the job (model and
// data). Errors are permanent and name the paths as the user gave them.
func opener[J, T any](jobJSON string, paths func(*J) (model, data *string), first func(*J) (T, error)) func(context.Context) (T, error) {
	return func(ctx context.Context) (T, error) {
		var zero T
		var j J
		if err := json.Unmarshal([]byte(jobJSON), &j); err != nil {
			return zero, permanent{err}
		}
		model, data := paths(&j)
		given := []string{*model, *data}
		var err error
		if *model, err = localize(ctx, *model); err != nil {
			return zero, permanent{err}
		}
		if *data, err = localizeData(ctx, *data); err != nil {
			return zero, permanent{err}
		}
		v, err := first(&j)
		if err != nil {
			return zero, permanent{asGiven(err, given, []string{*model, *data})}
		}
		return v, nil
	}
}

// pipeline builds the pipeline both commands run: the items (as JSON)
// reshuffled over the workers, workFn emitting records, every record
// grouped under one key, and finishFn combining them and writing the
// outputs.
func pipeline[I any](items []I, workFn, finishFn any) (*beam.Pipeline, error) {
	enc, err := lines(items)
	if err != nil {
		return nil, err
	}
	p, s := beam.NewPipelineWithRoot()
	work := beam.Reshuffle(s, beam.CreateList(s, enc))
	recs := beam.ParDo(s, workFn, work)
	all := beam.GroupByKey(s, beam.AddFixedKey(s, recs))
	beam.ParDo0(s, finishFn, all)
	return p, nil
}
