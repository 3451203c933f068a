// Package attention computes class activation maps ("attention maps") of
// arp's classifiers: where in the image a model looks when it scores a class.
//
// # Methods
//
// Every method taps a convolutional layer with activations A [N,K,h,w],
// takes the gradient g = d z_t / d A of the logit z_t of the target class t
// and combines the channels with weights w_k (a Weighting) into
// S = sum_k w_k A_k, which a post-processing step turns into the map:
//
//   - "gradcam-arp" (the ARP paper's variant, method.md §2): g_hat =
//     g / (sqrt(mean(g^2)) + 1e-5) with the mean over each sample (default)
//     or over the whole batch (batch-wide, as the original code did),
//     w_k = mean_ij g_hat, no ReLU, M = softmax of S over the h*w positions,
//     so M sums to 1.
//   - "gradcam" (Selvaraju et al. 2017): w_k = mean_ij g,
//     M = ReLU(S) / max(ReLU(S)), in [0,1].
//   - "gradcam++" (Chattopadhay et al. 2018): alpha = g^2 / (2 g^2 +
//     (sum_ij A) g^3), w_k = sum_ij alpha ReLU(g), then ReLU and division by
//     the maximum as for gradcam.
//
// A new CAM method only defines its channel weights (the Weighting
// interface) and picks a post-processing step (SoftmaxPositions or ReluMax).
//
// # Differentiable and plain maps
//
// Compute returns the map as an autograd value. With Options.CreateGraph the
// map is differentiable through the gradient that defines the channel
// weights (double backpropagation), as the ARP loss and attention-aware
// attacks need; without it the weights are constants (the cheaper
// "first-order" derivative, which differs from the true one whenever the
// network behind the tapped layer is not piecewise linear). Options.Upsample
// resizes the map bilinearly to the input size (PyTorch's
// F.interpolate(mode="bilinear", align_corners=False)).
//
// Maps returns plain float32 maps per image, at the layer's resolution and
// upsampled to the input, with the targets, predictions and probabilities,
// for analysis and pictures.
//
// # Targets
//
// The map explains one class per image: by default the true class where it
// is known, else the model's prediction (DefaultTargets; a label of -1 means
// unknown).
//
// # Masks
//
// BinaryMask (and MapSet.Mask) turn a map into the attention region at input
// resolution with one of the thresholds of package mask: "mean" (M >
// mean(M)), "topk" (the k highest cells of the coarse map, default k = 7 as
// in the paper's 7 of 64, upsampled), "area" (the top |G| pixels, |G| the
// ground-truth area) or "fraction" (M >= f * max(M), default f = 0.5).
package attention
