package arpbeam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/arp-robustness/arp/job"
	"github.com/arp-robustness/arp/modelio"
	"github.com/arp-robustness/arp/tensor"
)

// Config sets how a pipeline splits and runs its work.
type Config struct {
	// BatchesPerItem is the number of batches of a work item (default 1).
	BatchesPerItem int `json:"batches_per_item"`
	// Retries is how many more times a worker runs an item that failed
	// (default 2): prism and the direct runner do not retry failed
	// bundles; cluster runners retry the bundle on top of this.
	Retries int `json:"retries"`
	// Concurrency is the number of items one worker process runs at once
	// (default 1), each with its own copy of the model and GOMAXPROCS /
	// Concurrency of the engine's threads.
	Concurrency int `json:"concurrency"`
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
	if c.Concurrency < 1 {
		c.Concurrency = 1
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

// slots bounds the items a worker process runs at once.
var slots struct {
	once sync.Once
	c    chan struct{}
}

// acquire takes one of the process's Concurrency slots (sized, and the
// engine's threads set, by the first caller).
func acquire(ctx context.Context, concurrency int) (release func(), err error) {
	slots.once.Do(func() {
		slots.c = make(chan struct{}, concurrency)
		tensor.SetWorkers(max(1, runtime.GOMAXPROCS(0)/concurrency))
	})
	select {
	case slots.c <- struct{}{}:
		return func() { <-slots.c }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// pool keeps what workers opened for one job: idle instances (each with
// its own model) handed to one item at a time, across bundles.
type pool[T any] struct {
	mu   sync.Mutex
	idle []T
	open func(ctx context.Context, first bool) (T, error)
	made int
}

func (p *pool[T]) get(ctx context.Context) (T, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.idle); n > 0 {
		v := p.idle[n-1]
		p.idle = p.idle[:n-1]
		return v, nil
	}
	v, err := p.open(ctx, p.made == 0)
	if err == nil {
		p.made++
	}
	return v, err
}

func (p *pool[T]) put(v T) {
	p.mu.Lock()
	p.idle = append(p.idle, v)
	p.mu.Unlock()
}

// pools holds a worker process's pools, by job.
var pools sync.Map

// poolFor returns the pool of a job (its JSON), made by mk the first time.
func poolFor[T any](key string, mk func() *pool[T]) *pool[T] {
	if v, ok := pools.Load(key); ok {
		return v.(*pool[T])
	}
	v, _ := pools.LoadOrStore(key, mk())
	return v.(*pool[T])
}

// faultHook, when set (by tests), is called after each attempt of an item
// has computed its records and before they are emitted; an error makes
// the attempt fail as a crashed worker's would.
var faultHook func(item string, attempt int) error

// runItem runs an item on an instance from p with up to retries more
// attempts, and emits its records only when an attempt succeeded.
func runItem[T any](ctx context.Context, cfg Config, p *pool[T], item string, work func(context.Context, T) ([]string, error), emit func(string)) error {
	release, err := acquire(ctx, cfg.Concurrency)
	if err != nil {
		return err
	}
	defer release()
	v, err := p.get(ctx)
	if err != nil {
		return fmt.Errorf("%s%v", workerTag, err)
	}
	defer p.put(v)
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

// work runs a ProcessElement: decodes the item, takes an instance from the
// job's pool (opened by open the first time) and runs do on it with
// runItem's retries.
func work[I fmt.Stringer, T any](ctx context.Context, cfg Config, jobKey, item string, open func() func(context.Context, bool) (T, error),
	do func(context.Context, T, I) ([]string, error), emit func(string)) error {
	var it I
	if err := json.Unmarshal([]byte(item), &it); err != nil {
		return fmt.Errorf("%swork item %q: %v", workerTag, item, err)
	}
	p := poolFor(jobKey, func() *pool[T] { return &pool[T]{open: open()} })
	return runItem(ctx, cfg, p, "work item "+it.String(), func(ctx context.Context, v T) ([]string, error) { return do(ctx, v, it) }, emit)
}

// opener makes the open function of a job's pool. The job (JSON) decodes
// into J; paths points at its model and data paths, which are copied from
// remote filesystems first; first opens the whole job (model and data)
// into the first instance; again makes another instance around another
// copy of the model (for Concurrency > 1). Errors are permanent.
func opener[J, T any](jobJSON string, paths func(*J) (model, data *string), first func(*J) (T, error), again func(*modelio.Model) (T, error)) func(context.Context, bool) (T, error) {
	return func(ctx context.Context, isFirst bool) (T, error) {
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
		var v T
		if isFirst {
			if *data, err = localize(ctx, *data); err == nil {
				v, err = first(&j)
			}
		} else {
			var m *modelio.Model
			if m, err = job.OpenModel(*model); err == nil {
				v, err = again(m)
			}
		}
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
