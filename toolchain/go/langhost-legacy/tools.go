//go:build tools

// Package tools pins the Python language host main package that was still part of
// the sdk/v3 module at v3.58.0 (later releases moved it to its own, unserved module).
package tools

import _ "github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python"
