// Package clustertest provides what tests of HA Chef tooling need, the way
// net/http/httptest does for HTTP: SSHServer, a real SSH server (x/crypto/ssh,
// SFTP by github.com/pkg/sftp) on 127.0.0.1, and on top of it a simulated
// HA cluster whose nodes answer like Enterprise Chef nodes.
package clustertest
