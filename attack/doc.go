// Package attack holds arp's adversarial attacks, one small file each,
// behind the Attack interface.
//
// Budgets (eps) are always on the [0,1] pixel scale: L-inf budgets must lie
// in [0,1], L2 budgets (pgd-l2, cw-l2) are Euclidean norms of the pixel
// difference. Models map pixels to their own input scale in their first
// layer, so no attack converts scales. Targeting (untargeted, least-likely,
// random, given) is handled once, in Base.
//
// The attacks, with their published defaults (see each type):
//
//	fgsm            FGSM, one step of eps (Goodfellow et al. 2015)
//	step-ll         least-likely class, one step, label smoothing 0.1 (Kurakin et al. 2017)
//	r-step-ll       random step of eps/2, then Step-LL (Tramer et al. 2018)
//	bim             iterative FGSM, steps of 1/255, projected (Kurakin et al. 2017)
//	iter-ll         2 Step-LL steps of eps (ARP paper), projected; unprojected as an option
//	pgd             L-inf PGD: random start, 40 steps of 2.5*eps/40, restarts (Madry et al. 2018)
//	pgd-l2          L2 PGD, same schedule
//	mifgsm          momentum iterative FGSM, 10 steps, decay 1.0 (Dong et al. 2018)
//	cw-l2           Carlini-Wagner L2, Adam in tanh space, binary search over c
//	square          score-based black box, 5000 queries (Andriushchenko et al. 2020)
//	gated-step-ll   Step-LL steps while clean/adversarial attention IoU >= 0.6 (ARP paper)
//	attention-loss  adaptive PGD through the Grad-CAM map (second-order gradients)
//	pgd-kl          PGD on KL(p(x) || p(x')), TRADES's inner maximisation (Zhang et al. 2019)
//
// This is the one registry of attacks: evaluations (package eval), the
// attention study (analysis) and adversarial training (defense) all choose
// their attacks as a Spec, which New builds by name from a Config and
// ParseSpec reads from the command-line form "pgd:steps=100:restarts=5".
//
// The iterative attacks (bim, iter-ll, pgd, pgd-l2, mifgsm, attention-loss,
// pgd-kl) are one shared loop with different step rules (iterative.go):
// each supplies its objective, its start, its step and its projection, and
// the loop runs restarts and steps, judges every iterate, stops an image at
// its first success and keeps each image's best. PGD's (and pgd-kl's)
// FinalIterate option turns that into the plain loop of adversarial
// training: every image takes every step and the last iterate is returned.
//
// Every attack validates its
// inputs (images that fit the model, labels, pixel range, budget), stops
// when its context is cancelled, works on any nn.Classifier, and reports a
// model without a usable input gradient as an error wrapping ErrNoGradient.
// Iterative attacks stop attacking an image at its first misclassified
// iterate and keep it; restarts only attack images still unbroken.
//
// Random choices (random starts, random target classes, Square's
// proposals, R+Step-LL's random step) are drawn per image: image j of a
// batch has its own generator, seeded Config.Seeds[j] when the caller gives
// per-image seeds and ImageSeed(Seed, j) otherwise, so an image's random
// numbers do not depend on its batch neighbours. (Its floating-point
// results still can: the engine's kernels may round differently for other
// batch sizes, so callers that need identical results, such as sharded
// evaluations, keep batches identical; see package eval.)
//
// Settings describes an attack for reports with common keys: attack, norm
// ("linf" or "l2"), eps, box ("white-box" or "black-box"), kind
// ("single-step", "iterative", "optimization", "score-based",
// "attention-gated"), steps, restarts, step_size, random_start, targeting,
// label_smoothing, seed, plus the attack's own parameters.
package attack
