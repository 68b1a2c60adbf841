//go:build tools

// Package tools pins the registry command so `go build` can build it from this module.
package tools

import _ "github.com/distribution/distribution/v3/cmd/registry"
