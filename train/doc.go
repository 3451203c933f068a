// Package train runs the training loop: a defense.Objective over a
// dataset for a fixed number of steps with Adam or SGD, a learning-rate
// Schedule and the model's per-parameter weight decay (as L2 in the
// optimiser, scaled by the objective's WeightDecayScale: ARP's a).
//
// Files by concern:
//
//	train.go       Run, Config, Step (one step, for benchmarks and custom loops), errors
//	loop.go        the loop: batches, steps, evaluations, logging, saving
//	resume.go      opening a run directory, resuming from its checkpoint
//	record.go      Record, the settings stored with a run, and what may differ on resume
//	checkpoint.go  the checkpoint file (model, optimiser state, step, metrics window)
//	metrics.go     metrics.jsonl: the window averaged per line, reading it back
//	evaluate.go    held-out clean and Step-LL accuracy
//	data.go        which images a run evaluates on
//	schedule.go    learning-rate schedules
//	curves.go      curves.png
//	seed.go        the random streams derived from (seed, stream, index)
//
// Run evaluates clean and Step-LL accuracy on held-out images, writes
// metrics as JSON lines, draws loss and accuracy curves and saves the run
// directory (model.safetensors, model.json, checkpoint.safetensors,
// metrics.jsonl, curves.png) atomically.
//
// Every random choice of step s (batch order, flips, dropout, attack
// noise) is drawn from generators derived from (seed, s), and the model's
// initialisation from the seed, so a checkpoint needs no generator state:
// resuming at step s repeats the uninterrupted run bit for bit. Cancelling
// the context stops between steps and saves a checkpoint; a NaN or infinite
// loss or gradient is refused before it reaches the weights, and training
// stops with an error naming the step and the last good checkpoint.
package train
