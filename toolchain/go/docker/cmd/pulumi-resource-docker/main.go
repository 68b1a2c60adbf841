// pulumi-resource-docker serves the docker package to the Pulumi engine. The
// schema and bridge metadata are produced by pulumi-tfgen-docker at build
// time and copied next to this file (outside git) before `go build`.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"

	dockerglue "github.com/terraform-providers/terraform-provider-docker/pulumiglue"
)

//go:embed schema-embed.json
var schema []byte

//go:embed bridge-metadata.json
var metadata []byte

func main() {
	info := dockerglue.Provider(metadata)
	tfbridge.Main("docker", info.Version, info, schema)
}
