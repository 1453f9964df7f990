//go:build !race

package svdir

// raceEnv is empty: the node program is not race-enabled (see race_on.go).
const raceEnv = ""
