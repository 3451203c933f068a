// Package analysis is the attention-under-attack study of the ARP paper
// (method.md §1): on every correctly classified test image it attacks the
// model, computes the clean and adversarial attention maps, and measures
//
//   - completeness: how much of the object (the ground-truth mask: a digit's
//     pixels, a garment's, or the union of VOC boxes) the clean attention
//     region covers (coverage |A ∩ G|/|G|, IoU, top-k and area-matched
//     coverage, pointing game);
//   - movement and scattering: the IoU of the clean and adversarial attention
//     regions (mean-threshold and top-k masks), the Spearman correlation of
//     the maps, the shift of their centroids, and the connected pieces, share
//     of the largest piece and entropy of the adversarial region;
//   - for the iterative attacks (iter-ll, bim, gated-step-ll): the IoU and
//     the success after every step.
//
// Study.Run streams one Record per image to records.jsonl, a batch at a
// time, next to a Header (analysis.json). Batches (images [b*BatchSize,
// (b+1)*BatchSize)) are the unit of resumption and of sharding: an
// interrupted run continues after its last complete batch, and because
// every random choice derives from the seed, the attack and the image's
// index, and an image is always computed with the same batch neighbours,
// the result equals that of an uninterrupted run. Study.Shard analyses one
// shard of the batches (package shard) into its own directory and Merge
// combines the shards' directories into the records one Run writes, byte
// for byte; Study.Work and Combine do the same in memory for engines that
// run batches elsewhere (arp-beam).
//
// Compute (or Summarize, from a directory) turns the records into a Summary:
// the coverage of the objects by each clean mask next to that mask's area;
// for every attack, the attacked (attack succeeded) and resisted groups with
// means, medians and bootstrap intervals, Mann-Whitney U tests with
// rank-biserial effect sizes and their DeLong intervals, the success rate by
// completeness bin with Wilson intervals, a logistic fit of success on
// completeness (also adjusted for the clean confidence), per-step curves,
// and a verdict per observation: holds, does not hold, inconclusive or not
// tested, with its effect size and p-values. Verdicts come from difference
// and equivalence tests corrected over the attacks of an observation
// (Holm); observation 2 compares iterative attacks' images at one step of
// their trace, where all are equally perturbed. WriteFiles writes
// summary.json and summary.md.
//
// Attention maps are Grad-CAM maps of the true class (package attention) or
// LIME explanations (package lime), stored at the layer's resolution as
// float32 JSON arrays that read back exactly, so masks derived from stored
// maps (Header.MeanMask, Header.TopKMask) equal those of the study.
package analysis
