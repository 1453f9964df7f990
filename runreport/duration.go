package runreport

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Duration is a time span that reads as people write it ("1m32s") and
// marshals to JSON as seconds, for programs.
type Duration time.Duration

// String is the span rounded to what a reader needs: milliseconds under a
// second, whole seconds above ("0s", "420ms", "1m32s", "1h2m3s").
func (d Duration) String() string {
	t := time.Duration(d)
	switch {
	case t == 0:
		return "0s"
	case t < 0:
		return "-" + Duration(-t).String()
	case t < time.Second:
		return t.Round(time.Millisecond).String()
	}
	return t.Round(time.Second).String()
}

// Seconds is the span in seconds.
func (d Duration) Seconds() float64 { return time.Duration(d).Seconds() }

// MarshalJSON writes seconds, exactly (to the nanosecond).
func (d Duration) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, d.Seconds(), 'f', -1, 64), nil
}

// UnmarshalJSON reads seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s float64
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want seconds: %w", err)
	}
	*d = Duration(seconds(s))
	return nil
}
