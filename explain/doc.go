// Package explain explains one image: where a model looks in it (a
// Grad-CAM variant or LIME), clean and under attack, with masks, metrics
// against a ground truth, pictures and a JSON record; arp explain is this
// package behind flags.
//
//	explain.go   Explain: a Request (model, image, method, mask, attack) in, an Explanation out;
//	             Record (explanation.json), Truth (the ground truth), MaskDefaults
//	view.go      Explainer and View: the map, mask and prediction of one image
//	maps.go      CAM, LIME, Classify: attention maps of a batch of images, which the
//	             attention study over a whole test set (package analysis) uses too
//	record.go    the JSON record and its Summary in words
//	pictures.go  overlays and the side-by-side panel (package viz)
package explain
