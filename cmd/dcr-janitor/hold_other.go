//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package main

import "errors"

// hold would take an exclusive lock on the file path for one run; this
// system has no flock(2), and two runs on one record would strand each
// other's locks, so a run with a record is refused.
func hold(path string) (release func() error, err error) {
	return nil, errors.New("-lock-file needs flock(2), which this system lacks: run dcr-janitor on Linux, macOS or a BSD")
}
