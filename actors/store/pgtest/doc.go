// Package pgtest runs throwaway PostgreSQL servers for tests and local
// clusters. It needs the PostgreSQL server binaries (initdb, pg_ctl) on PATH
// or under /usr/lib/postgresql/*/bin; when running as root it runs them as
// the postgres OS user. It creates only the data directory it is given (the
// server's default database "postgres" is used as is).
//
// pgtest is test support: import it from _test.go files and from local
// tooling only, never from production packages.
package pgtest
