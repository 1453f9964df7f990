package d

import "testing"

func TestPanics(t *testing.T) { panic("boom") }
