// Package lime explains black-box predictions with LIME (Local
// Interpretable Model-agnostic Explanations, Ribeiro, Singh and Guestrin,
// 2016), following the Python reference implementation's choices.
//
// One small base is shared by every explainer: perturbed samples in an
// interpretable binary (or standardised) representation, with the
// instance itself as the first sample; sample weights from the exponential
// kernel sqrt(exp(-d^2/width^2)) of the distance d to the instance; feature
// selection ([SelectForward], [SelectLassoPath] (LARS-lasso),
// [SelectHighestWeights], [SelectAuto], [SelectNone]); and a weighted ridge
// regression with intercept fitted on the selected features ([Fit]). The
// result, an [Explanation], holds the per-feature weights, the intercept,
// the weighted R^2 score and the local model's prediction for the instance.
//
// On top of the base:
//
//   - [ExplainImage]: superpixels (quickshift by default, or SLIC; see
//     package segment) switched on and off, hidden superpixels replaced by
//     their mean colour or a fixed colour, cosine distance, kernel width
//     0.25. The result gives the top positive superpixels as a binary mask
//     and a per-pixel attribution map.
//   - [TabularExplainer]: training statistics, quartile discretisation of
//     continuous features, categorical features sampled with their
//     training frequencies, readable feature descriptions such as
//     "0.12 < x2 <= 0.35"; Euclidean distance, kernel width
//     0.75*sqrt(features).
//   - [ExplainText]: bag of words; samples remove random subsets of words;
//     100 * cosine distance, kernel width 25.
//   - [SubmodularPick]: SP-LIME's greedy choice of explanations that cover
//     the globally important features.
//
// Models are plain Go functions; nothing here depends on a tensor engine.
// All randomness comes from the Seed option (math/rand/v2 PCG), so the same
// inputs and options always give the same explanation.
package lime
