package data

import (
	"strings"
	"testing"
)

func TestParseVOC(t *testing.T) {
	for _, tc := range []struct {
		name  string
		xml   string
		w, h  int
		boxes []Box
	}{
		{"one box", vocXMLText(20, 10, [5]string{"dog", "1", "2", "10", "10"}), 20, 10,
			[]Box{{Label: "dog", XMin: 0, YMin: 1, XMax: 10, YMax: 10}}},
		{"two boxes, float coordinates, spaces", vocXMLText(20, 10, [5]string{" cat ", " 3.0", "4", "5.5 ", "6"}, [5]string{"dog", "20", "10", "20", "10"}), 20, 10,
			[]Box{{Label: "cat", XMin: 2, YMin: 3, XMax: 5.5, YMax: 6}, {Label: "dog", XMin: 19, YMin: 9, XMax: 20, YMax: 10}}},
		{"zero-based xmin", vocXMLText(20, 10, [5]string{"n01", "0", "0", "20", "10"}), 20, 10,
			[]Box{{Label: "n01", XMin: 0, YMin: 0, XMax: 20, YMax: 10}}},
		{"no objects", vocXMLText(7, 8), 7, 8, nil},
		{"no size", `<?xml version="1.0"?><!-- c --><annotation><object><name>a</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></object></annotation><!-- end -->`, 0, 0,
			[]Box{{Label: "a", XMin: 0, YMin: 0, XMax: 2, YMax: 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ParseVOC("a.xml", []byte(tc.xml))
			if err != nil {
				t.Fatal(err)
			}
			if a.Width != tc.w || a.Height != tc.h || len(a.Boxes) != len(tc.boxes) {
				t.Fatalf("got %dx%d %+v, want %dx%d %+v", a.Width, a.Height, a.Boxes, tc.w, tc.h, tc.boxes)
			}
			for i := range tc.boxes {
				if a.Boxes[i] != tc.boxes[i] {
					t.Fatalf("box %d = %+v, want %+v", i, a.Boxes[i], tc.boxes[i])
				}
			}
		})
	}
}

func TestParseVOCBad(t *testing.T) {
	for _, tc := range []struct {
		name, xml, want string
	}{
		{"empty", "", "a.xml: malformed XML: no <annotation> element"},
		{"unclosed", "<annotation><size><width>3</width>", "a.xml: malformed XML at line 1"},
		{"mismatched tags", "<annotation><size></annotation>", "a.xml: malformed XML at line 1"},
		{"wrong root", "<foo></foo>", "a.xml: malformed XML"},
		{"junk after root", vocXMLText(5, 5) + "<x/>", "content after </annotation>"},
		{"text after root", vocXMLText(5, 5) + "hello", "text after </annotation>"},
		{"bad size", strings.Replace(vocXMLText(5, 5), "<width>5", "<width>five", 1), "invalid <size>"},
		{"zero size", vocXMLText(0, 5), "invalid <size>"},
		{"box outside x", vocXMLText(20, 10, [5]string{"dog", "1", "1", "21", "5"}), `a.xml: object 0: box (1,1)-(21,5) of "dog" lies outside the 20x10 image`},
		{"box outside y, second object", vocXMLText(20, 10, [5]string{"a", "1", "1", "2", "2"}, [5]string{"b", "1", "1", "2", "11"}), `a.xml: object 1: box (1,1)-(2,11) of "b" lies outside`},
		{"negative", vocXMLText(20, 10, [5]string{"dog", "-3", "1", "2", "5"}), "negative coordinate"},
		{"inverted", vocXMLText(20, 10, [5]string{"dog", "5", "1", "2", "5"}), "xmin > xmax"},
		{"not a number", vocXMLText(20, 10, [5]string{"dog", "1", "x", "2", "5"}), `object 0: ymin "x" of "dog" is not a number`},
		{"NaN", vocXMLText(20, 10, [5]string{"dog", "NaN", "1", "2", "5"}), `xmin "NaN" of "dog" is not a number`},
		{"no bndbox", "<annotation><object><name>q</name></object></annotation>", `object 0: "q" has no <bndbox>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseVOC("a.xml", []byte(tc.xml))
			errContains(t, err, tc.want)
		})
	}
}
