// Package dockerglue maps the SDKv2 half of the upstream
// terraform-provider-docker (kreuzwerker) to Pulumi tokens that match the
// pulumi-docker 5.x Python SDK. The native buildx `Image` resource of
// pulumi-docker is not provided, nor are upstream's Plugin Framework
// resources (compose, actions).
package dockerglue

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"

	"github.com/terraform-providers/terraform-provider-docker/internal/provider"
)

// Version is the plugin version; stamped with -ldflags -X at build time.
var Version = "5.2.0"

const mod = "index"

func res(name string) *tfbridge.ResourceInfo {
	return &tfbridge.ResourceInfo{Tok: tfbridge.MakeResource("docker", mod, name)}
}

func fn(name string) *tfbridge.DataSourceInfo {
	return &tfbridge.DataSourceInfo{Tok: tfbridge.MakeDataSource("docker", mod, name)}
}

// Provider returns the bridge description of the docker provider. metadata is
// the bridge-metadata.json written by tfgen (may be empty when running tfgen).
func Provider(metadata []byte) tfbridge.ProviderInfo {
	p := shimv2.NewProvider(provider.New(Version)())
	info := tfbridge.ProviderInfo{
		P:            p,
		Name:         "docker",
		Version:      Version,
		Description:  "A Pulumi package for interacting with Docker in Pulumi programs",
		Keywords:     []string{"pulumi", "docker"},
		License:      "Apache-2.0",
		Homepage:     "https://pulumi.io",
		Repository:   "https://github.com/pulumi/pulumi-docker",
		GitHubOrg:    "kreuzwerker",
		MetadataInfo: tfbridge.NewProviderMetadata(metadata),
		// Property names the bridge would pluralize differently from the
		// pulumi-docker 5.2.0 SDK (checked with toolchain/go/check_sdk_schema.py).
		Config: map[string]*tfbridge.SchemaInfo{
			"registry_auth": {Name: "registryAuth"},
		},
		Resources: map[string]*tfbridge.ResourceInfo{
			"docker_container": {
				Tok: tfbridge.MakeResource("docker", mod, "Container"),
				Fields: map[string]*tfbridge.SchemaInfo{
					"command":           {Name: "command"},
					"networks_advanced": {Name: "networksAdvanced"},
				},
			},
			"docker_image":          res("RemoteImage"),
			"docker_registry_image": res("RegistryImage"),
			"docker_network":        res("Network"),
			"docker_volume":         res("Volume"),
			"docker_config":         res("ServiceConfig"),
			"docker_secret":         res("Secret"),
			"docker_service":        res("Service"),
			"docker_plugin":         res("Plugin"),
			"docker_tag":            res("Tag"),
			"docker_buildx_builder": res("BuildxBuilder"),
		},
		DataSources: map[string]*tfbridge.DataSourceInfo{
			"docker_registry_image":           fn("getRegistryImage"),
			"docker_network":                  fn("getNetwork"),
			"docker_plugin":                   fn("getPlugin"),
			"docker_image":                    fn("getRemoteImage"),
			"docker_logs":                     fn("getLogs"),
			"docker_registry_image_manifests": fn("getRegistryImageManifests"),
		},
	}
	// `name` of containers, networks, volumes... becomes optional and is
	// auto-named from the resource name, as in pulumi-docker.
	info.SetAutonaming(255, "-")
	return info
}
