// Package nn holds arp's layers and models: convolution, dense, batch
// normalisation, local response normalisation, dropout and pooling layers
// with their initialisers, and the architectures CifarNet (exactly as in the
// ARP paper, attention layer "pool2"), an MNIST/Fashion-MNIST CNN, a small
// fast variant of it, and ResNet-20.
//
// Every model takes pixels in [0,1] ([N,C,H,W]) and maps them to its own
// input scale in its first layer ("input"), so attacks and attention maps
// always work on the pixel scale. Any named layer can be tapped during the
// forward pass (Classifier.Forward's taps), which is how attention maps
// reach intermediate activations.
//
// Inference without a graph (inside autograd.NoGrad) gives the same bits
// as a graph-recording pass with less work: pools keep no arg-max
// indices, the input normalisation is one pass, and each layer's output
// goes back to the engine's buffer pool once the next layer has run (the
// caller's input, taps and the logits are never recycled).
//
// A trained model is a run directory with model.safetensors (weights by name,
// in PyTorch's layouts: conv [out,in,kh,kw], dense [out,in]) and model.json
// (Info: the Spec, class names, seed, versions, training settings); see
// docs/model-format.md.
package nn
