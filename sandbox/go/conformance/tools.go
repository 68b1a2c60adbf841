//go:build tools

// Package tools pins the OCI distribution-spec conformance suite, a Ginkgo test package that
// `go test -c` builds into a binary, and the test-only modules its _test.go files import.
package tools

import (
	_ "github.com/onsi/gomega"
	_ "github.com/opencontainers/distribution-spec/conformance"
)
