// Package tlsglue maps the upstream terraform-provider-tls (a Plugin Framework
// provider) to Pulumi tokens that match the pulumi-tls 5.x Python SDK.
package tlsglue

import (
	"context"

	tlsprovider "github.com/hashicorp/terraform-provider-tls/internal/provider"
	pftfbridge "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
)

// Version is the plugin version; stamped with -ldflags -X at build time.
var Version = "5.6.2"

const mod = "index"

func one() *tfbridge.SchemaInfo { return &tfbridge.SchemaInfo{MaxItemsOne: tfbridge.True()} }

// Provider returns the bridge description of the tls provider. metadata is the
// bridge-metadata.json written by tfgen (may be empty when running tfgen).
func Provider(metadata []byte) tfbridge.ProviderInfo {
	return tfbridge.ProviderInfo{
		P:            pftfbridge.ShimProviderWithContext(context.Background(), tlsprovider.New()),
		Name:         "tls",
		Version:      Version,
		Description:  "A Pulumi package to create TLS resources in Pulumi programs.",
		Keywords:     []string{"pulumi", "tls"},
		License:      "Apache-2.0",
		Homepage:     "https://pulumi.io",
		Repository:   "https://github.com/pulumi/pulumi-tls",
		GitHubOrg:    "hashicorp",
		MetadataInfo: tfbridge.NewProviderMetadata(metadata),
		Config: map[string]*tfbridge.SchemaInfo{
			"proxy": one(),
		},
		Resources: map[string]*tfbridge.ResourceInfo{
			"tls_private_key": {Tok: tfbridge.MakeResource("tls", mod, "PrivateKey")},
			"tls_self_signed_cert": {
				Tok:    tfbridge.MakeResource("tls", mod, "SelfSignedCert"),
				Fields: map[string]*tfbridge.SchemaInfo{"subject": one()},
			},
			"tls_cert_request": {
				Tok:    tfbridge.MakeResource("tls", mod, "CertRequest"),
				Fields: map[string]*tfbridge.SchemaInfo{"subject": one()},
			},
			"tls_locally_signed_cert": {Tok: tfbridge.MakeResource("tls", mod, "LocallySignedCert")},
		},
		DataSources: map[string]*tfbridge.DataSourceInfo{
			"tls_public_key":  {Tok: tfbridge.MakeDataSource("tls", mod, "getPublicKey")},
			"tls_certificate": {Tok: tfbridge.MakeDataSource("tls", mod, "getCertificate")},
		},
	}
}
