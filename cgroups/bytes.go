package cgroups

import (
	"strconv"
	"strings"
)

const (
	Ki int64 = 1 << 10
	Mi int64 = 1 << 20
	Gi int64 = 1 << 30
	Ti int64 = 1 << 40
)

var units = []struct {
	size int64
	name string
}{{Ti, "Ti"}, {Gi, "Gi"}, {Mi, "Mi"}, {Ki, "Ki"}}

// FormatBytes writes n bytes the way Kubernetes quantities read, with binary
// suffixes: 3Gi, 2.5Gi, 512Mi, 64Ki, 100. A value is written exactly when the
// largest fitting unit (or a smaller one) can hold it with at most two
// decimals (2.25Gi, 2176Mi); otherwise it is rounded to two decimals of the
// largest unit and marked with "~" (~7.43Gi), so a rounded number is never
// mistaken for an exact one. Negative values keep their sign.
func FormatBytes(n int64) string {
	if n < 0 {
		if n == -n { // math.MinInt64
			return strconv.FormatInt(n, 10)
		}
		return "-" + FormatBytes(-n)
	}
	for _, u := range units {
		if n >= u.size && (n%u.size)*100%u.size == 0 {
			return decimal(n/u.size, (n%u.size)*100/u.size) + u.name
		}
	}
	if n < Ki {
		return strconv.FormatInt(n, 10)
	}
	for _, u := range units {
		if n >= u.size {
			hundredths := (n%u.size*100 + u.size/2) / u.size // rounded
			return "~" + decimal(n/u.size+hundredths/100, hundredths%100) + u.name
		}
	}
	return strconv.FormatInt(n, 10) // not reached
}

// decimal writes whole.hundredths without trailing zeros.
func decimal(whole, hundredths int64) string {
	s := strconv.FormatInt(whole, 10)
	if hundredths == 0 {
		return s
	}
	frac := strings.TrimRight(strconv.FormatInt(100+hundredths, 10)[1:], "0")
	return s + "." + frac
}
