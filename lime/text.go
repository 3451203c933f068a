package lime

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ClassifyTexts returns class probabilities (equal-length rows) for a
// batch of documents.
type ClassifyTexts func(ctx context.Context, texts []string) ([][]float64, error)

// TextOptions configures [ExplainText]. Start from [DefaultTextOptions].
type TextOptions struct {
	NumSamples int // perturbed documents including the original (>= 2)
	BatchSize  int // documents per classify call (0: all at once)
	// Labels to explain; if empty the TopLabels most probable classes.
	Labels      []int
	TopLabels   int
	NumFeatures int // maximum words per explanation
	Selection   Selection
	Alpha       float64 // ridge penalty of the local model
	// KernelWidth of the exponential kernel on 100 * cosine distance
	// (0: 25, as in LIME).
	KernelWidth float64
	Seed        uint64
}

// DefaultTextOptions returns the Python LIME text defaults (5000 samples,
// 10 features, automatic selection, ridge alpha 1, kernel width 25),
// explaining the most probable class.
func DefaultTextOptions() TextOptions {
	return TextOptions{NumSamples: 5000, TopLabels: 1, NumFeatures: 10, Selection: SelectAuto, Alpha: 1, KernelWidth: 25}
}

// TextExplanation is the result of [ExplainText].
type TextExplanation struct {
	// Words is the bag of words of the document in order of first
	// appearance; feature j of each explanation is Words[j].
	Words       []string
	Predictions []float64 // class probabilities of the original document
	Labels      []int
	Local       map[int]*Explanation
}

// List returns the explanation of label as word weights, by decreasing
// |weight|.
func (e *TextExplanation) List(label int) ([]FeatureWeight, error) {
	x, ok := e.Local[label]
	if !ok {
		return nil, fmt.Errorf("lime: label %d was not explained (explained: %v)", label, e.Labels)
	}
	return named(x, e.Words), nil
}

// isWordRune matches the \w class of Python regular expressions: letters,
// digits and the underscore.
func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r)
}

// bagOfWords splits text into alternating runs of word and non-word
// characters. It returns the runs, the vocabulary in order of first
// appearance and, for every run, its vocabulary index (-1 for separators).
// Concatenating the runs gives back text.
func bagOfWords(text string) (runs, vocab []string, index []int) {
	ids := map[string]int{}
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		word := isWordRune(r) && !(r == utf8.RuneError && size <= 1)
		j := i + size
		for j < len(text) {
			r2, s2 := utf8.DecodeRuneInString(text[j:])
			if (isWordRune(r2) && !(r2 == utf8.RuneError && s2 <= 1)) != word {
				break
			}
			j += s2
		}
		run := text[i:j]
		runs = append(runs, run)
		if word {
			id, ok := ids[run]
			if !ok {
				id = len(vocab)
				ids[run] = id
				vocab = append(vocab, run)
			}
			index = append(index, id)
		} else {
			index = append(index, -1)
		}
		i = j
	}
	return runs, vocab, index
}

// removeWords rebuilds the document without the words switched off in on
// (every occurrence of a removed word is dropped; separators are kept).
func removeWords(runs []string, index []int, on []float64) string {
	var b strings.Builder
	for i, r := range runs {
		if index[i] >= 0 && on[index[i]] == 0 {
			continue
		}
		b.WriteString(r)
	}
	return b.String()
}

func (o *TextOptions) validate() error {
	switch {
	case o.NumSamples < 2:
		return fmt.Errorf("lime: NumSamples %d, want >= 2", o.NumSamples)
	case o.BatchSize < 0:
		return fmt.Errorf("lime: BatchSize %d, want >= 0", o.BatchSize)
	case len(o.Labels) == 0 && o.TopLabels < 1:
		return fmt.Errorf("lime: no labels to explain: Labels is empty and TopLabels is %d", o.TopLabels)
	case o.NumFeatures < 1:
		return fmt.Errorf("lime: NumFeatures %d, want >= 1", o.NumFeatures)
	case !(o.Alpha >= 0) || math.IsInf(o.Alpha, 0):
		return fmt.Errorf("lime: Alpha %v, want a finite value >= 0", o.Alpha)
	case o.KernelWidth < 0 || math.IsNaN(o.KernelWidth) || math.IsInf(o.KernelWidth, 0):
		return fmt.Errorf("lime: KernelWidth %v, want a finite value > 0 (or 0 for the default)", o.KernelWidth)
	}
	for _, l := range o.Labels {
		if l < 0 {
			return fmt.Errorf("lime: negative label %d", l)
		}
	}
	return nil
}

// ExplainText explains classify's prediction for text. Its features are
// the distinct words (maximal runs of letters, digits and underscores).
// Every perturbed document removes all occurrences of a random subset of
// words, of a size drawn uniformly from 1 to the number of distinct words;
// the first document is the original. Samples are weighted by the
// exponential kernel of 100 * their cosine distance to the original.
func ExplainText(ctx context.Context, text string, classify ClassifyTexts, opts TextOptions) (*TextExplanation, error) {
	if classify == nil {
		return nil, errors.New("lime: nil classifier")
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	runs, vocab, index := bagOfWords(text)
	d := len(vocab)
	if d == 0 {
		return nil, errors.New("lime: the text has no words to explain")
	}
	rng := newRand(opts.Seed)
	n := opts.NumSamples
	data := make([][]float64, n)
	docs := make([]string, n)
	perm := make([]int, d)
	for i := range data {
		row := make([]float64, d)
		for j := range row {
			row[j] = 1
		}
		if i > 0 {
			size := 1 + rng.IntN(d)
			for j := range perm {
				perm[j] = j
			}
			for j := 0; j < size; j++ { // partial Fisher-Yates
				k := j + rng.IntN(d-j)
				perm[j], perm[k] = perm[k], perm[j]
				row[perm[j]] = 0
			}
		}
		data[i] = row
		docs[i] = removeWords(runs, index, row)
	}
	docs[0] = text
	out, err := predictBatches(ctx, n, opts.BatchSize, func(ctx context.Context, lo, hi int) ([][]float64, error) {
		return classify(ctx, docs[lo:hi])
	})
	if err != nil {
		return nil, err
	}
	width := opts.KernelWidth
	if width == 0 {
		width = 25
	}
	dist := make([]float64, n)
	for i, row := range data {
		dist[i] = 100 * CosineDistance(row, data[0])
	}
	res := &TextExplanation{Words: vocab, Predictions: out[0], Local: map[int]*Explanation{}}
	res.Labels, err = pickLabels(opts.Labels, opts.TopLabels, out[0])
	if err != nil {
		return nil, err
	}
	if err := fitLabels(ctx, data, out, KernelWeights(dist, width), res.Labels, opts.NumFeatures, opts.Selection, opts.Alpha, res.Local); err != nil {
		return nil, err
	}
	return res, nil
}
