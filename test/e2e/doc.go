// Package e2e holds black-box tests that drive the built plexus binary as OS
// processes on loopback (build tag e2e; make test-e2e builds first).
package e2e
