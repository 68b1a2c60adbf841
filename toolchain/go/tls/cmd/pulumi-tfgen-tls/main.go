// pulumi-tfgen-tls generates the Pulumi schema (schema.json) and the bridge
// metadata (bridge-metadata.json) for the tls plugin:
//
//	pulumi-tfgen-tls schema --out DIR
package main

import (
	pftfgen "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfgen"

	tlsglue "github.com/hashicorp/terraform-provider-tls/pulumiglue"
)

func main() {
	pftfgen.Main("tls", tlsglue.Provider(nil))
}
