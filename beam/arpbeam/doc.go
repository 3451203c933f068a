// Package arpbeam runs arp eval and arp analyze as Apache Beam pipelines
// (the Beam Go SDK), on the local runners (prism, direct) or on a cluster
// (Dataflow; Flink and Spark through the portable job server).
//
// A pipeline is: the work items of the run (package eval's Items: a range
// of batches under one threat model; for an analysis a range of batches),
// reshuffled over the workers; a ParDo whose workers open the model and
// the dataset themselves (copying gs://, s3:// or any Beam filesystem path
// to a local cache first), keep them across bundles and emit one record per
// unit (per image for an analysis); and a combine that groups every record
// and ends in the same code as one process: eval.Combine for the report,
// analysis.Combine and analysis.Files for the analysis. Every random choice
// derives from the seed, the attack and the image's index, and batches are
// aligned to image indices, so the records and the outputs are those of
// arp eval and arp analyze on one machine, bit for bit (times aside).
//
// A worker emits an item's records only once the whole item is done, so a
// failed attempt leaves nothing behind: runners that retry failed bundles
// (Dataflow, Flink, Spark) and arp-beam's own retries of a failed item
// (Config.Retries; prism and the direct runner do not retry bundles) add no
// duplicates, and the combine checks that every unit or image is there
// exactly once. Outputs are written only when everything is complete:
// atomically for local files, as one upload for object stores.
package arpbeam
