// Package chaos holds fault-injection tests that drive several plexus
// processes on loopback while a nemesis kills, restarts and pauses them, and
// check the recorded history with porcupine (build tag e2e).
package chaos
