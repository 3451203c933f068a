// Package checkpoint reads and writes safetensors files and writes files atomically.
//
// # The safetensors format
//
// A safetensors file (the Hugging Face format that PyTorch, JAX and others read) is
//
//	8 bytes     N, the header length, unsigned little-endian
//	N bytes     a JSON object, padded at the end with spaces:
//	              {"__metadata__": {"key": "value", ...},
//	               "name": {"dtype": "F32", "shape": [64, 3, 5, 5], "data_offsets": [begin, end]},
//	               ...}
//	the rest    the tensors' raw little-endian data, row-major; each tensor's data_offsets are
//	            relative to the start of this section
//
// [Read] validates all of it: the header length against the file size, UTF-8 and JSON syntax,
// no duplicate names or keys, known dtypes, non-negative shapes, offsets that are in range and
// tile the data section exactly (contiguous, no overlap, no trailing bytes), and that each
// tensor's byte size is its element count times its element size. Every error names the file
// and the problem and wraps [ErrCorrupt].
//
// [Write] is deterministic (identical inputs give identical bytes) and atomic (see
// [AtomicWrite]): a crash or failure mid-write never leaves a partial file at the target path.
//
// The typed accessors [File.Float32], [File.Float64] and [File.Int64] check the shape the caller
// expects, so loading a checkpoint of another architecture fails with a message naming the
// file, the tensor, and both shapes (wrapping [ErrShape]; a missing tensor wraps [ErrMissing]).
// F16 and BF16 tensors, as saved by mixed-precision PyTorch code, read as float32.
package checkpoint
