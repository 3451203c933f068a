// Package defense holds the training objectives: standard, adversarial,
// ARP and its sample schedules, TRADES. Package train runs them (the loop,
// checkpoints and resume, schedules, metrics and curves).
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
//	arp-iou   arp, then rounds of further Step-LL steps for the images whose attention IoU is above 0.2, each round an update on the whole batch
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
package defense
