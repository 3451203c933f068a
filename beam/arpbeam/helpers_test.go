package arpbeam

import "github.com/arp-robustness/arp/analysis"

// analysisSummary writes the summary of the analysis in dir, as arp
// analyze does, and returns its first line.
func analysisSummary(dir string) (string, error) {
	s, err := analysis.Summarize(dir)
	if err != nil {
		return "", err
	}
	if err := s.WriteFiles(dir); err != nil {
		return "", err
	}
	return s.Describe(), nil
}
