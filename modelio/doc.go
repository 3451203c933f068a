// Package modelio opens the classifier a command's --model flag names: an
// arp run directory (model.json + model.safetensors, see nn.LoadRun) or an
// ONNX file (see package onnx; its metadata file model.onnx.json is read
// too). Either way the caller gets an nn.Classifier taking pixels in [0,1]
// and a Meta with the input size, class names and default attention layer.
package modelio
