// Package storetest is the conformance suite every store.Store backend must
// pass. Backends call Run from their own tests. It uses keys unique to each
// subtest, so backends may share one database between subtests.
package storetest
