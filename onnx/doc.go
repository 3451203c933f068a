// Package onnx imports ONNX image classifiers into arp's autograd engine
// and exports arp's models to ONNX.
//
// # Import
//
// ReadFile (or Decode) parses an ONNX file with the protobuf messages of
// package onnx/pb. Import (or Load, which also reads the metadata) turns the
// graph into a Graph: a differentiable function from pixels in [0,1] to
// logits that implements nn.Classifier, so attacks, Grad-CAM and evaluation
// run on it unchanged. Gradients flow to the input and to every
// intermediate value; any node output, node name or PyTorch module scope is
// a layer that can be tapped (LayerNames).
//
// Import checks every node first and reports all unsupported operators in
// one error; nodes whose inputs are all constants (Constant, Shape of a
// constant, the arithmetic PyTorch emits around Reshape, ...) are computed
// once. Integer values (shapes, indices) are computed without gradients in
// every pass, so graphs with a dynamic batch size work; graphs exported for a
// fixed batch size are run in chunks of that size. SupportedOps lists the
// operators; docs/onnx.md describes their limits (2-D convolutions and pools,
// constant padding, inference-mode batch normalisation and dropout).
//
// # Metadata
//
// How pixels in [0,1] reach the graph (input size, channel order, value
// range, mean/std) and what the logits mean (class names) comes from Meta,
// read from a JSON file next to the model (model.onnx.json). Fields the graph
// settles may be left out.
//
// # Export
//
// Export writes an arp model (every architecture of package nn) as an ONNX
// graph whose input is pixels in [0,1]: the model's own input normalisation
// is part of the graph, and the graph's values carry arp's layer names, so
// the imported graph has the same layers as the original.
package onnx
