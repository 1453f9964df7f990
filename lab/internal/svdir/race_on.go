//go:build race

package svdir

// The node program is race-enabled (a test binary under go test -race).
// Such a program sleeps a second at every successful exit (GORACE's
// atexit_sleep_ms, 1000 by default) so that late reports get out: a second
// added to every private-chef-ctl, dpkg and hook the lab runs. Races are
// still reported, and still make the program exit 66.
const raceEnv = "GORACE=atexit_sleep_ms=0"
