//go:build tools

// Package tools pins the S3-compatible object store the sandbox runs: versitygw (an S3 gateway
// over a POSIX folder), built from the Go module proxy by sandbox/build-s3.sh.
package tools

import (
	_ "github.com/versity/versitygw/cmd/versitygw"
)
