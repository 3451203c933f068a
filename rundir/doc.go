// Package rundir owns the layout of a run directory: the directory arp
// train writes and arp eval, analyze, explain and report read and add to.
// Every package that writes or reads one takes its file names from here.
//
//	RUN/model.safetensors          the weights (nn.SaveRun)
//	RUN/model.json                 the model and its training record (nn.SaveRun, train)
//	RUN/checkpoint.safetensors     the state of an unfinished training run (train)
//	RUN/metrics.jsonl              training metrics, one JSON line per log (train)
//	RUN/curves.png                 loss and accuracy curves (train)
//	RUN/.lock                      the lock of the process writing the run (LockDir; removed when it ends)
//	RUN/eval.json                  a robustness evaluation: arp eval --json (eval); report reads eval*.json
//	RUN/analysis/                  the attention-under-attack study (analysis); analysis-METHOD/ for
//	                               other attention methods. Each holds analysis.json (settings),
//	                               records.jsonl (one line per image), summary.json and summary.md
//
// One process writes a run or analysis directory (or an evaluation's state
// file) at a time: it holds the directory's lock (LockDir, LockFile) for as
// long as it writes, and a second process is refused with an error naming
// the holder's pid, command line and start time.
package rundir
