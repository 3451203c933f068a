// Package job holds the arp eval and arp analyze runs as data: the flags
// both arp and arp-beam (the Apache Beam pipelines of beam/) take, their
// checks, and how a process opens what a run names (the model, the
// dataset) and builds the eval.Evaluation's inputs or the analysis.Study.
// One process (arp eval, arp analyze), one shard of a job array (--shard
// i/N) and every Beam worker open a run the same way, so they compute the
// same per-image records.
//
// A job is a plain struct of flag values that encodes as JSON: arp-beam
// ships it to its workers, which open it themselves (and keep what they
// opened across bundles).
package job
