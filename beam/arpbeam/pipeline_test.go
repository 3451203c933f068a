package arpbeam

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/memfs"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/direct"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"github.com/arp-robustness/arp/attack/attacktest"
	"github.com/arp-robustness/arp/data/datatest"
	"github.com/arp-robustness/arp/eval"
	"github.com/arp-robustness/arp/job"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/rundir"
)

func TestMain(m *testing.M) {
	beam.Init()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError + 1})))
	code := m.Run()
	RemoveCache()
	os.Exit(code)
}

// evalJob is a small evaluation on mnist-mini: 40 images in 5 batches of
// 8, two budgets, so 15 work items (the clean pass and two threat models
// on each batch), random attacks and a check subset over two batches.
func evalJob(t *testing.T, dir string) *job.Eval {
	return &job.Eval{Model: attacktest.RunDir(t), Data: "mnist-mini", Attacks: []string{"fgsm", "pgd:steps=3:restarts=2", "square:queries=20"},
		Eps: []float64{0.05, 0.1}, Limit: 40, Seed: 3, Batch: 8, CheckImages: 10,
		JSON: filepath.Join(dir, "eval.json"), State: filepath.Join(dir, "records.jsonl")}
}

// oneMachine runs j as arp eval does.
func oneMachine(t *testing.T, j *job.Eval) *eval.Report {
	t.Helper()
	in, err := j.Open()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := eval.RunFrom(context.Background(), in.Model.Classifier, in.Data, in.Options)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func timeless(r *eval.Report) *eval.Report {
	c := *r
	c.Seconds, c.Resumed, c.Started = 0, 0, time.Time{}
	c.Threats = nil
	for _, t := range r.Threats {
		t.Attacks = append([]eval.AttackResult(nil), t.Attacks...)
		for k := range t.Attacks {
			t.Attacks[k].Seconds = 0
		}
		c.Threats = append(c.Threats, t)
	}
	return &c
}

func readReport(t *testing.T, path string) *eval.Report {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r eval.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func readUnits(t *testing.T, path string) map[eval.UnitKey]eval.Unit {
	t.Helper()
	_, _, _, units, err := eval.ReadRecords(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[eval.UnitKey]eval.Unit{}
	for _, u := range units {
		if _, dup := out[u.UnitKey]; dup {
			t.Fatalf("%v twice in %s", u.UnitKey, path)
		}
		u.Seconds = 0
		out[u.UnitKey] = u
	}
	return out
}

func resetInFlight() {
	inFlight.Lock()
	inFlight.max = 0
	inFlight.Unlock()
}

// checkInFlight fails t if two work items ran at once in this process
// since resetInFlight: the engine's no-grad switch is process-wide, so
// one item's inference would zero the other's gradients (with two at once
// on the real MNIST test set, 400-500 of 1,000 images had a zero input
// gradient and FGSM's accuracy rose from 94.7% to 96.9-98.2%).
func checkInFlight(t *testing.T) {
	t.Helper()
	inFlight.Lock()
	defer inFlight.Unlock()
	if inFlight.max != 1 {
		t.Errorf("%d work items ran at once in one process, want 1", inFlight.max)
	}
}

// failOnce makes the first attempt of the work item named item fail (none
// when item is ""), until the test ends; attempts(name) returns how many
// times an item was attempted.
func failOnce(t *testing.T, item string) (attempts func(string) int) {
	var mu sync.Mutex
	n := map[string]int{}
	faultHook = func(it string, attempt int) error {
		mu.Lock()
		defer mu.Unlock()
		n[it]++
		if it == item && attempt == 0 {
			return errors.New("injected fault")
		}
		return nil
	}
	t.Cleanup(func() { faultHook = nil })
	return func(name string) int {
		mu.Lock()
		defer mu.Unlock()
		return n[name]
	}
}

func runEval(t *testing.T, runner string, j *job.Eval, cfg Config) error {
	t.Helper()
	p, _, err := PlanEval(j, cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = beam.Run(context.Background(), runner, p)
	return WorkerError(err)
}

// TestEvalPipelineEqualsOneMachine: the pipeline on the local runners
// writes the per-image records (units) and the eval.json of one arp eval
// process, bit for bit (times aside); and a worker that fails once on a
// work item runs it again, with no unit lost or duplicated.
func TestEvalPipelineEqualsOneMachine(t *testing.T) {
	dir := t.TempDir()
	ref := evalJob(t, dir)
	want := oneMachine(t, ref)
	wantUnits := readUnits(t, ref.State)
	for _, c := range []struct {
		runner string
		cfg    Config
		fail   string // the work item whose first attempt fails
	}{
		{"prism", Config{}, ""},
		{"prism", Config{BatchesPerItem: 2}, "work item threat 1, batches 2-3"},
		{"direct", Config{}, ""},
	} {
		t.Run(fmt.Sprintf("%s-%d", c.runner, c.cfg.BatchesPerItem), func(t *testing.T) {
			j := *ref
			out := t.TempDir()
			j.JSON, j.State = filepath.Join(out, "eval.json"), filepath.Join(out, "records.jsonl")
			attempts := failOnce(t, c.fail)
			resetInFlight()
			if err := runEval(t, c.runner, &j, c.cfg); err != nil {
				t.Fatal(err)
			}
			checkInFlight(t)
			if n := attempts(c.fail); c.fail != "" && n != 2 {
				t.Fatalf("the failed item ran %d times, want 2", n)
			}
			got := readUnits(t, j.State)
			if len(got) != len(wantUnits) {
				t.Fatalf("%d units, one machine %d", len(got), len(wantUnits))
			}
			for k, u := range wantUnits {
				if !reflect.DeepEqual(got[k], u) {
					t.Fatalf("%v differs from one machine's:\n%+v\n%+v", k, got[k], u)
				}
			}
			if a, b := timeless(want), timeless(readReport(t, j.JSON)); !reflect.DeepEqual(a, b) {
				t.Fatalf("eval.json differs from one machine's:\n%+v\n%+v", b, a)
			}
			var out2 bytes.Buffer
			if err := PrintEval(context.Background(), &out2, &j); err != nil || !strings.Contains(out2.String(), "worst case") {
				t.Fatalf("PrintEval: %v\n%s", err, out2.String())
			}
		})
	}
}

// TestEvalFailuresLeaveOutputsAlone: a work item that keeps failing, and a
// model file the workers cannot read, end the run with an error naming
// them, and the report already written stays as it was.
func TestEvalFailuresLeaveOutputsAlone(t *testing.T) {
	dir := t.TempDir()
	j := evalJob(t, dir)
	j.Eps, j.Attacks = []float64{0.1}, []string{"fgsm"}
	if err := runEval(t, "prism", j, Config{}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(j.JSON)
	faultHook = func(item string, attempt int) error {
		if strings.Contains(item, "batches 3-3") {
			return errors.New("injected fault")
		}
		return nil
	}
	err := runEval(t, "prism", j, Config{Retries: 1})
	faultHook = nil
	if err == nil || !strings.Contains(err.Error(), "batches 3-3: injected fault (attempt 2 of 2)") {
		t.Fatalf("an item failing every attempt: %v", err)
	}
	// the driver can read the model, the workers cannot
	p, h, err := PlanEval(j, Config{})
	if err != nil {
		t.Fatal(err)
	}
	_ = p
	bad := *j
	bad.Model = filepath.Join(dir, "gone", "run")
	p, err = EvalPipeline(&bad, h, []eval.Item{{Threat: eval.Clean, Lo: 0, Hi: 1}}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = beam.Run(context.Background(), "prism", p)
	if err = WorkerError(err); err == nil || !strings.Contains(err.Error(), "on a worker: model "+bad.Model) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("unreadable model on the workers: %v", err)
	}
	if after, _ := os.ReadFile(j.JSON); !bytes.Equal(before, after) {
		t.Fatal("a failed run changed the report")
	}
}

// TestAnalyzePipelineEqualsOneMachine: the analysis pipeline writes the
// records.jsonl of one arp analyze process byte for byte, the same
// summary, and reads its model from a Beam filesystem (memfs, as gs://
// would be) on the workers.
func TestAnalyzePipelineEqualsOneMachine(t *testing.T) {
	dir := t.TempDir()
	run := attacktest.RunDir(t)
	ref := &job.Analyze{Model: run, Data: "mnist-mini", Attacks: []string{"fgsm", "iter-ll:steps=2", "pgd:steps=3"}, Eps: 0.1,
		Method: "gradcam-arp", CAMScale: "max", IterSchedule: "fine", Limit: 40, Seed: 2, Batch: 8, Steps: 10, Gallery: 1,
		LIMESamples: 500, LIMESegments: 36, Out: filepath.Join(dir, "one")}
	st, err := ref.Open()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	s, err := analysisSummary(st.Dir)
	if err != nil {
		t.Fatal(err)
	}
	s = strings.ReplaceAll(s, run, "memfs://models/run")
	// the model on a remote filesystem
	for _, name := range []string{rundir.Info, rundir.Weights} {
		b, err := os.ReadFile(filepath.Join(run, name))
		if err != nil {
			t.Fatal(err)
		}
		memfs.Write("memfs://models/run/"+name, b)
	}
	for _, c := range []struct {
		runner string
		model  string
		cfg    Config
		fail   string // the work item whose first attempt fails
	}{
		{"prism", "memfs://models/run", Config{}, ""},
		// 5 items of one batch each, the third failing once
		{"direct", run, Config{}, "work item batches 2-2"},
		{"prism", run, Config{BatchesPerItem: 2}, "work item batches 4-4"},
	} {
		t.Run(fmt.Sprintf("%s-%d", c.runner, c.cfg.BatchesPerItem), func(t *testing.T) {
			j := *ref
			j.Model, j.Out = c.model, filepath.Join(t.TempDir(), "beam")
			attempts := failOnce(t, c.fail)
			p, _, err := PlanAnalyze(&j, c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			resetInFlight()
			if _, err := beam.Run(context.Background(), c.runner, p); err != nil {
				t.Fatal(WorkerError(err))
			}
			checkInFlight(t)
			if n := attempts(c.fail); c.fail != "" && n != 2 {
				t.Fatalf("the failed item ran %d times, want 2", n)
			}
			for _, name := range []string{rundir.AnalysisRecords, rundir.AnalysisMD, rundir.AnalysisJSON, rundir.AnalysisHeader} {
				a, _ := os.ReadFile(filepath.Join(ref.Out, name))
				b, _ := os.ReadFile(filepath.Join(j.Out, name))
				// the summary names the model as given; the header its
				// creation time
				a = bytes.ReplaceAll(a, []byte(run), []byte(c.model))
				if name == rundir.AnalysisJSON || name == rundir.AnalysisHeader {
					a, b = withoutCreated(t, a), withoutCreated(t, b)
				}
				if len(a) == 0 || !bytes.Equal(a, b) {
					t.Errorf("%s differs from one machine's (%d vs %d bytes)", name, len(b), len(a))
				}
			}
			var out bytes.Buffer
			want := strings.ReplaceAll(s, "memfs://models/run", c.model)
			if err := PrintAnalysis(context.Background(), &out, &j); err != nil || !strings.Contains(out.String(), want) {
				t.Fatalf("PrintAnalysis: %v\n%s", err, out.String())
			}
		})
	}
}

// withoutCreated drops the creation times and the output directory (the
// one machine's differs) from an analysis's JSON file.
func withoutCreated(t *testing.T, b []byte) []byte {
	t.Helper()
	var m any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("analysis JSON: %v", err)
	}
	var drop func(any)
	drop = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			delete(v, "created")
			delete(v, "dir")
			for _, e := range v {
				drop(e)
			}
		case []any:
			for _, e := range v {
				drop(e)
			}
		}
	}
	drop(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAnalyzeFailuresLeaveOutputsAlone: an analysis whose workers cannot
// read the model (missing, or a weights file that is not one), or whose
// item keeps failing, ends with one line naming it, and the analysis
// already written in --out stays as it was.
func TestAnalyzeFailuresLeaveOutputsAlone(t *testing.T) {
	run := attacktest.RunDir(t)
	j := &job.Analyze{Model: run, Data: "mnist-mini", Attacks: []string{"fgsm"}, Eps: 0.1, Method: "gradcam-arp", CAMScale: "max",
		IterSchedule: "fine", Limit: 24, Seed: 2, Batch: 8, Steps: 10, Gallery: 1, LIMESamples: 500, LIMESegments: 36,
		Out: filepath.Join(t.TempDir(), "an")}
	p, h, err := PlanAnalyze(j, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := beam.Run(context.Background(), "prism", p); err != nil {
		t.Fatal(WorkerError(err))
	}
	snapshot := func() map[string][]byte {
		out := map[string][]byte{}
		for _, name := range []string{rundir.AnalysisHeader, rundir.AnalysisRecords, rundir.AnalysisJSON, rundir.AnalysisMD} {
			b, err := os.ReadFile(filepath.Join(j.Out, name))
			if err != nil {
				t.Fatal(err)
			}
			out[name] = b
		}
		return out
	}
	before := snapshot()
	// a run directory whose weights are not a safetensors file, on a
	// remote filesystem, and one that is not there
	info, err := os.ReadFile(filepath.Join(run, rundir.Info))
	if err != nil {
		t.Fatal(err)
	}
	memfs.Write("memfs://models/corrupt/"+rundir.Info, info)
	memfs.Write("memfs://models/corrupt/"+rundir.Weights, []byte("not a safetensors file"))
	// where the pipeline is built, the error names the file as given too
	driver := *j
	driver.Model = "memfs://models/corrupt"
	if _, _, err := PlanAnalyze(&driver, Config{}); err == nil || !strings.Contains(err.Error(), "memfs://models/corrupt/"+rundir.Weights+" has 22 B") || strings.Contains(err.Error(), "arp-beam-cache") {
		t.Errorf("corrupt model where the pipeline is built: %v", err)
	}
	for _, c := range []struct{ model, want string }{
		{"memfs://models/corrupt", "on a worker: model memfs://models/corrupt/" + rundir.Info + ": declares a mnist-small"},
		{filepath.Join(t.TempDir(), "gone"), "on a worker: model "},
	} {
		bad := *j
		bad.Model = c.model
		p, err := AnalyzePipeline(&bad, h, []batchRange{{0, 1}, {1, 2}, {2, 3}}, Config{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = beam.Run(context.Background(), "prism", p)
		if err = WorkerError(err); err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("unreadable model %s on the workers: %v, want one line containing %q", c.model, err, c.want)
		}
	}
	faultHook = func(item string, attempt int) error {
		if strings.Contains(item, "batches 1-1") {
			return errors.New("injected fault")
		}
		return nil
	}
	_, err = beam.Run(context.Background(), "prism", p)
	faultHook = nil
	if err = WorkerError(err); err == nil || !strings.Contains(err.Error(), "batches 1-1: injected fault (attempt 3 of 3)") {
		t.Errorf("an item failing every attempt: %v", err)
	}
	after := snapshot()
	for name, b := range before {
		if !bytes.Equal(b, after[name]) {
			t.Errorf("a failed run changed %s", name)
		}
	}
}

// TestEvalRemoteInputs: the model and a dataset with a split suffix on a
// Beam filesystem (memfs, as gs:// would be) give the units and the report
// of arp eval on local copies, and the report names them as given.
func TestEvalRemoteInputs(t *testing.T) {
	dir := t.TempDir()
	run := attacktest.RunDir(t)
	local := filepath.Join(dir, "mini")
	if err := os.Mkdir(local, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ from, to string }{
		{rundir.Info, "memfs://scale/run/" + rundir.Info},
		{rundir.Weights, "memfs://scale/run/" + rundir.Weights},
	} {
		b, err := os.ReadFile(filepath.Join(run, f.from))
		if err != nil {
			t.Fatal(err)
		}
		memfs.Write(f.to, b)
	}
	// mnist-mini's files as an IDX directory's test split
	for _, f := range []struct{ from, to string }{
		{"mnist-mini-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"},
		{"mnist-mini-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte.gz"},
	} {
		b, err := os.ReadFile(filepath.Join("..", "..", "data", "embedded", f.from))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(local, f.to), b, 0o644); err != nil {
			t.Fatal(err)
		}
		memfs.Write("memfs://scale/mini/"+f.to, b)
	}
	ref := evalJob(t, dir)
	ref.Data, ref.Eps, ref.Limit = local+":test", []float64{0.1}, 24
	want := oneMachine(t, ref)
	wantUnits := readUnits(t, ref.State)
	j := *ref
	j.Model, j.Data = "memfs://scale/run", "memfs://scale/mini:test"
	j.JSON, j.State = filepath.Join(dir, "beam.json"), filepath.Join(dir, "beam.jsonl")
	if err := runEval(t, "prism", &j, Config{}); err != nil {
		t.Fatal(err)
	}
	got := readUnits(t, j.State)
	if !reflect.DeepEqual(got, wantUnits) {
		t.Fatalf("units differ from one machine's on local copies (%d vs %d)", len(got), len(wantUnits))
	}
	rep := readReport(t, j.JSON)
	if rep.Model != j.Model || rep.Data != j.Data {
		t.Errorf("report names model %q and data %q, want them as given: %q, %q", rep.Model, rep.Data, j.Model, j.Data)
	}
	rep.Model, rep.Data = want.Model, want.Data
	if a, b := timeless(want), timeless(rep); !reflect.DeepEqual(a, b) {
		t.Fatalf("eval.json differs from one machine's:\n%+v\n%+v", b, a)
	}
}

// TestEvalRemoteImageTree: an image folder with one sub-folder per class
// (JPEG files, as ImageNet's train and val are laid out) on a remote
// filesystem reaches the workers whole, and the pipeline's units equal one
// machine's on the local folder.
func TestEvalRemoteImageTree(t *testing.T) {
	dir := t.TempDir()
	local := filepath.Join(dir, "images")
	classes := []string{"cat", "dog", "emu"}
	files := datatest.ClassFolder(t, local, classes, 6, 28, 28, true, 4)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(local, f)
		memfs.Write("memfs://tree/images/"+filepath.ToSlash(rel), b)
	}
	spec, err := nn.DefaultSpec("mnist-small", 3, 28, 28, len(classes))
	if err != nil {
		t.Fatal(err)
	}
	m, err := nn.Build(spec, 5)
	if err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "run")
	if err := nn.SaveRun(run, m, nn.Info{ClassNames: classes, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{rundir.Info, rundir.Weights} {
		b, err := os.ReadFile(filepath.Join(run, f))
		if err != nil {
			t.Fatal(err)
		}
		memfs.Write("memfs://tree/run/"+f, b)
	}
	ref := &job.Eval{Model: run, Data: local, Attacks: []string{"fgsm", "pgd:steps=2"}, Eps: []float64{0.1}, Seed: 3, Batch: 4,
		CheckImages: 5, State: filepath.Join(dir, "one.jsonl")}
	oneMachine(t, ref)
	want := readUnits(t, ref.State)
	j := *ref
	j.Model, j.Data = "memfs://tree/run", "memfs://tree/images"
	j.JSON, j.State = filepath.Join(dir, "beam.json"), filepath.Join(dir, "beam.jsonl")
	if err := runEval(t, "prism", &j, Config{BatchesPerItem: 2}); err != nil {
		t.Fatal(err)
	}
	if got := readUnits(t, j.State); !reflect.DeepEqual(got, want) || len(got) == 0 {
		t.Fatalf("units differ from one machine's on the local folder (%d vs %d)", len(got), len(want))
	}
	if rep := readReport(t, j.JSON); rep.Images != 18 {
		t.Fatalf("%d images evaluated, want the 18 of the tree", rep.Images)
	}
}

// TestListTree: a directory tree on an object store is listed level by
// level down to MaxTreeDepth, with relative paths, without the folder
// markers some tools leave ("dir/") and without other trees sharing the
// prefix.
func TestListTree(t *testing.T) {
	for _, f := range []string{"lt/a.txt", "lt/cls/1.JPEG", "lt/cls/2.JPEG", "lt/cls/", "lt/x/y/z/w/v/6.txt", "lt/x/y/z/w/v/u/7.txt", "ltother/no.txt"} {
		memfs.Write("memfs://"+f, []byte(f))
	}
	ctx := context.Background()
	fs, err := filesystem.New(ctx, "memfs://lt")
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	files, err := listTree(ctx, fs, "memfs://lt")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		if f.path != "memfs://lt/"+f.rel {
			t.Errorf("%s listed as %s", f.path, f.rel)
		}
		got = append(got, f.rel)
	}
	want := []string{"a.txt", "cls/1.JPEG", "cls/2.JPEG", "x/y/z/w/v/6.txt"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("listed %q, want %q (depth %d)", got, want, MaxTreeDepth)
	}
}
