// Package stats holds the figures the benchmarks under bench/ print.
package stats

import (
	"fmt"
	"slices"
	"time"
)

// Samples are one case's durations, in run order.
type Samples []time.Duration

// Median is the nearest-rank median.
func (s Samples) Median() time.Duration { return s.Quantile(0.5) }

// Quantile is the nearest-rank quantile q of s.
func (s Samples) Quantile(q float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	sorted := slices.Clone(s)
	slices.Sort(sorted)
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// Ms prints d in milliseconds with one decimal.
func Ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }
