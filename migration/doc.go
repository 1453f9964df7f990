// Package migration reads and writes partybus's migration-level file
// (/var/opt/opscode/upgrades/migration-level) and knows which level each
// Private Chef / Enterprise Chef release should leave behind.
//
// The level matters because partybus treats a missing or unparsable file as
// 0.0 and re-runs every migration (OC-11297 leaves exactly that on HA back
// ends). This package therefore never turns bad input into a level: Parse
// returns a typed error, and Expected refuses versions it does not know.
package migration
