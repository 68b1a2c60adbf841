// pulumi-tfgen-docker generates the Pulumi schema (schema.json) and the bridge
// metadata (bridge-metadata.json) for the docker plugin:
//
//	pulumi-tfgen-docker schema --out DIR
package main

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"

	dockerglue "github.com/terraform-providers/terraform-provider-docker/pulumiglue"
)

func main() {
	info := dockerglue.Provider(nil)
	tfgen.Main("docker", info.Version, info)
}
