// Package eval measures the adversarial robustness of a classifier the way
// docs/evaluation.md asks: an ensemble of attacks under stated threat models,
// the per-image worst case, and sanity checks that catch weak attacks and
// gradient masking.
//
// # Runner
//
// Run evaluates a model on a set of images with a list of attacks (see
// package attack) at several budgets on the [0,1] pixel scale: L-inf budgets
// for L-inf attacks, L2 budgets for L2 attacks. Images are processed in
// batches aligned to their indices (batch b holds images [b*BatchSize,
// (b+1)*BatchSize)); a unit of work is one attack at one budget on one
// batch, or the clean pass of a batch (predictions, input gradients).
//
//   - Cascade mode (the default) attacks only the images that are still
//     unbroken: correctly classified, and not yet broken by an earlier attack
//     of the list at that budget. The per-attack accuracy is then the robust
//     accuracy after that attack and all earlier ones, and the last one is the
//     worst case. Put cheap attacks first.
//   - Standalone mode runs every attack on every correctly classified image,
//     so each attack's accuracy is its own (what a table of per-attack
//     columns reports); the worst case is the same per-image AND.
//
// An image counts as broken only if the adversarial image is misclassified
// and lies within the budget (checked by the runner, not trusted from the
// attack). Every random choice derives from the evaluation's seed, the
// attack, the budget and the image's index (attack.Config.Seeds), so results
// depend neither on interruptions nor on how the work is split.
//
// # Splitting the work
//
// An Evaluation (NewFrom, on a data.Source read a batch at a time, so
// that the images of a batch are all it holds of the dataset; New on
// images in memory) splits into Items: a range of batches under one threat
// model, or the clean pass. An item's units depend only on the item: the
// images of a batch are always attacked together (arp's kernels may round
// differently for other batch sizes, so identical batches, not only
// per-image seeds, make the results bit-identical), and the sanity-check
// subset (the first CheckImages correctly classified images) is found from
// the clean predictions of the batches before. Combine turns the units of
// all items into the Report. Run does everything in one process; RunShard
// runs one shard of the batches (package shard) into a record file, and
// Merge combines the record files of all shards into the report Run gives;
// arp-beam runs the items on Apache Beam and ends in Combine too.
//
// # Resuming
//
// With Options.State the runner appends each finished unit to a JSON-lines
// record file (header line: the evaluation and the batches the file holds)
// and syncs it. Running the same evaluation again skips the finished units,
// after checking that the recomputed clean pass of every batch (images,
// labels, predictions, gradients) matches the recorded one; a different
// evaluation refuses the file. A line cut short by a crash is dropped.
// Cancelling the context stops the run between steps of an attack; the
// finished units are kept.
//
// # Sanity checks
//
// Every report carries the checks of evaluation.md, each PASS, WARN or SKIP
// (not applicable): the attack suite (single-step attacks next to PGD with
// restarts and a black-box attack), accuracy falling as eps grows, an
// unbounded PGD (eps 1, from the clean image) driving accuracy to about 0
// on a check subset, iterative attacks at least as strong as single-step
// ones with the same targeting (FGSM is added on the check subset when the
// list lacks it; pairs equal by construction are not compared), black-box
// attacks breaking at most 0.5% of the images the white-box attacks left
// (an exact binomial test, on all images when the black-box attack ends
// the cascade; else gradient masking), non-zero finite input gradients for
// most images, every adversarial image within budget and in [0,1], and the
// adaptive attention-loss attack for models trained with attention losses.
// In cascade mode the other attack comparisons use standalone runs on the
// check subset. Every check has a test that plants the defect it is meant
// to catch (eval/checks_test.go).
//
// Reports render as text (Text), Markdown (Markdown), JSON (JSON) and an
// accuracy-vs-eps plot (Plot, WritePlot).
package eval
