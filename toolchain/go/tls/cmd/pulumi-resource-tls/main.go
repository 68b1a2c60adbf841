// pulumi-resource-tls serves the tls package to the Pulumi engine. The schema
// and bridge metadata are produced by pulumi-tfgen-tls at build time and
// copied next to this file (outside git) before `go build`.
package main

import (
	"context"
	_ "embed"

	pftfbridge "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"

	tlsglue "github.com/hashicorp/terraform-provider-tls/pulumiglue"
)

//go:embed schema-embed.json
var schema []byte

//go:embed bridge-metadata.json
var metadata []byte

func main() {
	pftfbridge.Main(context.Background(), "tls", tlsglue.Provider(metadata),
		pftfbridge.ProviderMetadata{PackageSchema: schema})
}
