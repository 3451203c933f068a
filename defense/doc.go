// Package defense trains classifiers: the training objectives (standard,
// adversarial, ARP and its sample schedules, TRADES) and the training loop
// with evaluation, metrics, curves and resumable checkpoints.
//
// # Objectives
//
// An Objective turns a mini-batch into one or more parameter updates
// (Objective.Step). New builds them by their --defense names:
//
//	none      CE(f(x), y)
//	adv       CE(f(x), y) + CE(f(x_adv), y), x_adv from Step-LL, FGSM, R+Step-LL or PGD
//	arp       A*L_c + B*L_r + C*L_p (method.md §5; see ARP), double backprop through Grad-CAM
//	two-step  arp, one update on Step-LL(x) and one on Step-LL(Step-LL(x))
//	arp-iou   arp, then further Step-LL steps for images whose attention IoU stays above 0.2
//	trades    CE(f(x), y) + beta*KL(p(x) || p(x_adv)), x_adv from PGD on the KL (pgd-kl)
//
// The attacks come from package attack, chosen by an attack.Spec
// (Options.Attack): training's PGD is attack.PGD in final-iterate mode and
// TRADES's is attack.PGDKL (pgd-kl).
//
// Loss terms are computed in training mode (dropout on, batch norm on batch
// statistics); adversarial examples are generated in evaluation mode and
// enter the loss as constants. Attack budgets are L-inf on the [0,1] pixel
// scale (DefaultEps = 0.075 is the paper's 0.15 on [-1,1]).
//
// # Training loop
//
// Train runs a fixed number of steps with Adam or SGD, a learning-rate
// Schedule and the model's per-parameter weight decay (as L2 in the
// optimiser, scaled by a for ARP, whose L_c contains the decay term). It
// evaluates clean and Step-LL accuracy on held-out images, writes metrics
// as JSON lines, draws loss and accuracy curves and saves the run
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
package defense
