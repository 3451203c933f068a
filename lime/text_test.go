package lime

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// sentiment is a toy classifier: P(positive) is 0.9 if the word "great"
// occurs, else 0.2, plus 0.05 if "fun" occurs.
func sentiment(ctx context.Context, texts []string) ([][]float64, error) {
	out := make([][]float64, len(texts))
	for i, s := range texts {
		_, vocab, _ := bagOfWords(s)
		p := 0.2
		if slices.Contains(vocab, "great") {
			p = 0.9
		}
		if slices.Contains(vocab, "fun") {
			p += 0.05
		}
		out[i] = []float64{1 - p, p}
	}
	return out, nil
}

func TestTextFindsDrivingWord(t *testing.T) {
	doc := "The movie was great, really great fun; the cast was fine."
	o := DefaultTextOptions()
	o.NumSamples = 500
	o.Seed = 1
	for _, sel := range []Selection{SelectAuto, SelectForward, SelectLassoPath, SelectHighestWeights, SelectNone} {
		t.Run(sel.String(), func(t *testing.T) {
			o.Selection = sel
			e, err := ExplainText(context.Background(), doc, sentiment, o)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(e.Labels, []int{1}) {
				t.Fatalf("labels %v, want [1]", e.Labels)
			}
			list, err := e.List(1)
			if err != nil {
				t.Fatal(err)
			}
			if list[0].Name != "great" || !near(list[0].Weight, 0.7, 0.1) {
				t.Fatalf("top word %+v, want great with weight about 0.7; all: %v", list[0], list)
			}
			if list[1].Name != "fun" || list[1].Weight <= 0 {
				t.Errorf("second word %+v, want fun with positive weight", list[1])
			}
			for _, fw := range list[2:] {
				if fw.Weight > 0.03 || fw.Weight < -0.03 {
					t.Errorf("word %q has weight %v, want about 0", fw.Name, fw.Weight)
				}
			}
		})
	}
	a, _ := ExplainText(context.Background(), doc, sentiment, o)
	b, _ := ExplainText(context.Background(), doc, sentiment, o)
	if !reflect.DeepEqual(a, b) {
		t.Error("two runs with the same seed differ")
	}
	o.Seed = 2
	if c, _ := ExplainText(context.Background(), doc, sentiment, o); reflect.DeepEqual(a.Local, c.Local) {
		t.Error("different seeds gave identical explanations")
	}
}

func TestTextSamples(t *testing.T) {
	doc := "a b, c a!"
	var seen []string
	classify := func(ctx context.Context, texts []string) ([][]float64, error) {
		seen = append(seen, texts...)
		return sentiment(ctx, texts)
	}
	o := DefaultTextOptions()
	o.NumSamples = 200
	o.BatchSize = 16
	e, err := ExplainText(context.Background(), doc, classify, o)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.Words, []string{"a", "b", "c"}) {
		t.Fatalf("words %q", e.Words)
	}
	if len(seen) != 200 || seen[0] != doc {
		t.Fatalf("%d documents, first %q", len(seen), seen[0])
	}
	// Every perturbed document removes at least one word (all its
	// occurrences) and keeps the separators.
	allowed := map[string]bool{}
	for mask := 0; mask < 7; mask++ { // not all on
		on := []float64{float64(mask & 1), float64(mask >> 1 & 1), float64(mask >> 2 & 1)}
		runs, _, index := bagOfWords(doc)
		allowed[removeWords(runs, index, on)] = true
	}
	count := map[string]int{}
	for _, s := range seen[1:] {
		if !allowed[s] {
			t.Fatalf("unexpected perturbed document %q", s)
		}
		count[s]++
	}
	if count[" ,  !"] == 0 || count["a , c a!"] == 0 {
		t.Errorf("perturbations %v miss expected documents", count)
	}
}

func TestBagOfWords(t *testing.T) {
	tests := []struct {
		text  string
		runs  []string
		vocab []string
	}{
		{"Hello, world! Hello", []string{"Hello", ", ", "world", "! ", "Hello"}, []string{"Hello", "world"}},
		{"  café_1 naïve—x2 ", []string{"  ", "café_1", " ", "naïve", "—", "x2", " "}, []string{"café_1", "naïve", "x2"}},
		{"...", []string{"..."}, nil},
		{"", nil, nil},
	}
	for _, tc := range tests {
		runs, vocab, _ := bagOfWords(tc.text)
		if !slices.Equal(runs, tc.runs) || !slices.Equal(vocab, tc.vocab) {
			t.Errorf("bagOfWords(%q) = %q, %q; want %q, %q", tc.text, runs, vocab, tc.runs, tc.vocab)
		}
	}
	runs, _, index := bagOfWords("Hello, world! Hello")
	if got := removeWords(runs, index, []float64{0, 1}); got != ", world! " {
		t.Errorf("removing Hello gives %q", got)
	}
}

func TestTextBadInput(t *testing.T) {
	base := DefaultTextOptions()
	base.NumSamples = 10
	mod := func(f func(*TextOptions)) TextOptions { o := base; f(&o); return o }
	one := func(ctx context.Context, texts []string) ([][]float64, error) {
		return make([][]float64, len(texts)+1), nil
	}
	tests := []struct {
		name     string
		text     string
		classify ClassifyTexts
		opts     TextOptions
		want     string
	}{
		{"no words", " ,;! ", sentiment, base, "no words"},
		{"empty", "", sentiment, base, "no words"},
		{"zero samples", "a b", sentiment, mod(func(o *TextOptions) { o.NumSamples = 0 }), "NumSamples"},
		{"kernel", "a b", sentiment, mod(func(o *TextOptions) { o.KernelWidth = -1 }), "KernelWidth"},
		{"labels", "a b", sentiment, mod(func(o *TextOptions) { o.Labels = []int{3} }), "label 3 out of range"},
		{"nil", "a b", nil, base, "nil classifier"},
		{"rows", "a b", one, base, "11 rows for 10 inputs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ExplainText(context.Background(), tc.text, tc.classify, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func FuzzBagOfWords(f *testing.F) {
	f.Add("Hello, world! Hello")
	f.Add("  café_1 naïve—x2 ")
	f.Add("\xff\xfeab\x80 c")
	f.Add("")
	f.Fuzz(func(t *testing.T, text string) {
		runs, vocab, index := bagOfWords(text)
		if strings.Join(runs, "") != text {
			t.Fatalf("runs %q do not rebuild %q", runs, text)
		}
		if len(index) != len(runs) {
			t.Fatal("index length")
		}
		seen := map[string]bool{}
		for _, v := range vocab {
			if seen[v] || v == "" {
				t.Fatalf("vocabulary %q has duplicates or empty words", vocab)
			}
			seen[v] = true
		}
		for i, r := range runs {
			if r == "" {
				t.Fatal("empty run")
			}
			if index[i] >= 0 && vocab[index[i]] != r {
				t.Fatalf("run %q indexed as %q", r, vocab[index[i]])
			}
			if i > 0 && (index[i] >= 0) == (index[i-1] >= 0) {
				t.Fatalf("runs %d and %d are both words or both separators: %q", i-1, i, runs)
			}
		}
		on := make([]float64, len(vocab))
		for i := range on {
			on[i] = 1
		}
		if removeWords(runs, index, on) != text {
			t.Fatal("keeping every word changes the text")
		}
		if !utf8.ValidString(text) {
			return // dropping words may join invalid bytes into a new letter
		}
		clear(on)
		for _, r := range strings.FieldsFunc(removeWords(runs, index, on), func(r rune) bool { return !isWordRune(r) || r == utf8.RuneError }) {
			t.Fatalf("word %q left after removing every word", r)
		}
	})
}
