// Package mask turns attention maps into binary masks and measures regions.
//
// An attention map is a row-major h x w []float32 (index i*w + j is row i,
// column j); a binary mask is a row-major []bool of the same layout. The
// package knows nothing about models: it only thresholds, resizes and measures.
//
// # Thresholds
//
//   - MeanThreshold: m > mean(m). A constant map gives an empty mask.
//   - TopK: the k highest cells of a (coarse) map, usually followed by
//     Upsample to the input size. Ties are broken by index: of two equal
//     values the one with the smaller row-major index is taken first.
//   - AreaMatched: the n highest pixels (n = area of the ground truth), same
//     tie rule.
//   - FractionOfMax: m >= f * max(m); meant for non-negative maps.
//   - Above: m > t, e.g. a digit's own pixels as its ground-truth mask.
//
// NaN values never pass a threshold and rank below every number.
//
// # Metrics
//
//   - IoU(a, b) = |a and b| / |a or b|. The IoU of two empty masks is
//     defined as 1: they are the same set.
//   - Coverage(a, g) = |a and g| / |g|, the share of the ground truth that
//     the attention covers (what the ARP paper called "IoU with ground
//     truth"). It is NaN when g is empty.
//   - PointingGame: whether the map's maximum (first in row-major order on
//     ties) lies in g, or within a Euclidean tolerance of it in pixels.
//   - Components / Scatter: connected components of a mask with 4- or
//     8-connectivity, their number and the share of the largest.
//   - Entropy: Shannon entropy of the map normalised to sum 1, in nats;
//     EntropyBits in bits; NormalizedEntropy divides by log(h*w) so that a
//     uniform map scores 1 and a single-pixel map 0.
//   - Centroid and CentroidShift: mass centroids (row, column) in pixel
//     index units, where pixel (i, j) sits at (i, j); the shift is the
//     Euclidean distance between two centroids in pixels.
//   - SpearmanRank (average ranks for ties) and KendallTau (tau-b, O(n log n))
//     rank correlations between two maps.
//
// Negative map values carry no mass: Entropy, Centroid and CentroidShift
// treat them as zero. Quantities that are undefined (entropy or centroid of
// a map with no positive mass, correlation of a constant map, coverage of an
// empty ground truth) are NaN; note that encoding/json refuses NaN, so
// callers writing JSON must map it to null or skip the record.
//
// # Resizing and boxes
//
// ResizeBilinear resizes a float map the way PyTorch's
// F.interpolate(mode="bilinear", align_corners=False) does (half-pixel
// centres, no antialiasing). Upsample resizes a mask by nearest neighbour:
// each output pixel centre is mapped to the input cell containing it, which
// for integer ratios means every cell becomes a block.
//
// Box is a half-open rectangle [XMin, XMax) x [YMin, YMax) in 0-based pixel
// coordinates. Pascal VOC files store 1-based inclusive corners; VOCBox
// converts them. BoxMask rasterises boxes into a mask.
//
// # Errors and panics
//
// Anything that can come from a user's file is checked and reported as an
// error: boxes (BoxMask) and maps or masks read from disk (CheckMap,
// CheckMask). Everything else assumes the caller passes slices that agree
// with the sizes it states; a mismatch is a programming error and panics
// with a message naming the function and the sizes, e.g.
// "mask.TopK: len(m)=10, want h*w=3*4=12". Counts such as k and n are
// clamped to [0, h*w] rather than rejected.
package mask
