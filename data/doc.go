// Package data loads the image classification datasets used by arp and
// prepares them for training and analysis.
//
// # Layout and range
//
// A Dataset holds all of its images in one float32 slice in NCHW layout
// (image, channel, row, column; row-major), with every value in [0,1]:
// image i, channel c, row y, column x is
//
//	Images[((i*C+c)*H+y)*W+x]
//
// Values stay in [0,1] inside a Dataset. Rescaling to [-1,1] (the scale the
// ARP paper feeds its models), random horizontal flips and shuffling happen in
// one place only: the mini-batch iterator returned by Dataset.Batches, driven
// by BatchOptions (and the Range type for the value scale).
//
// # Ground truth
//
// Masks[i] (optional) is the ground-truth region of image i as a row-major
// H x W []bool; Boxes[i] lists its ground-truth boxes in pixel coordinates of
// the stored (possibly resized) image. For MNIST-style digits a pixel belongs
// to the object when its value is above DigitThreshold (0.5); for
// Fashion-MNIST above FashionThreshold (0.1); the box is the tight bounding
// box of those pixels. For image folders the mask is the union of the Pascal
// VOC boxes, scaled with the image.
//
// # Sources
//
// Open resolves a dataset name ("mnist", "fashion-mnist", "mnist-mini", each
// optionally with ":train", ":test" or ":all") or a path (IDX files, a
// CIFAR-10 or CIFAR-100 binary directory, or an image folder with one
// sub-folder per class). "mnist-mini" is a subset of 3,000 real MNIST test
// images compiled into the binary, so it needs no download. Fetch installs MNIST,
// Fashion-MNIST, CIFAR-10 and CIFAR-100 into the data directory (Dir): from
// a copy on this machine or over HTTPS from the published mirrors, every
// file checked against its published SHA-256, downloads resumed after an
// interruption, the dataset folder renamed into place only when complete.
//
// ImageNet is read where the user has it: the ILSVRC2012 validation set as
// a flat folder of ILSVRC2012_val_*.JPEG files (labels from the devkit's
// ground-truth file or TF-slim's synset list, boxes from the per-image VOC
// XML files) or as class folders named by WordNet ID. Its datasets have the
// 1000 classes of ImageNetSynsets and, by default, the Inception
// preprocessing (InceptionPreprocessing: central crop 0.875, resize to
// 299x299), recorded in Dataset.Preprocessing; boxes follow the crop.
//
// # Reading a range at a time
//
// Open decodes every image into a Dataset. OpenSource resolves the same
// names and paths into a Source instead: the list of images and their
// labels, with the pixels decoded only when a range is read
// (Source.Read(lo, hi)), bit for bit the images Open gives there. Jobs
// over datasets larger than memory (ImageNet's 50,000 validation images
// are 53.6 GB decoded) read their batches from a Source, so what they hold
// of the dataset is one batch (Source.Need says how much, checked against
// the memory available before reading). Image folders decode the files of
// the range, in parallel; IDX and CIFAR keep their files' bytes (a quarter
// of the decoded size) and convert the range; FromDataset makes a Source
// of a Dataset in memory.
//
// Every parser returns an *Error naming the file, the record (when there is
// one) and what is wrong; Check collects all such problems instead of
// stopping at the first.
package data
