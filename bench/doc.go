// Package bench holds chefha's head-to-head benchmarks against Ansible:
// one lab cluster (package lab: real sshd, runit and keepalived in Linux
// namespaces) of two back ends and three front ends, read by
// upgrade.Preflight and by Debian's ansible ad-hoc calls over the same
// nodes, plus a breakdown of what one SSH connection costs. It has no
// non-test code; run it as root with
//
//	go test ./bench -run '^$' -bench . -benchtime 5x
//
// and read README.md for what each figure means.
package bench
