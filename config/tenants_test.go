package config_test

import (
	"strings"
	"testing"

	"github.com/commentgraph/commentgraph/config"
)

const tenantsYAML = `
auth:
  apiKeys: ["default-key-0123456789", {key: "backend-key-0123456789", forwardCredentials: true}]
  credentialKey: "0123456789abcdef0123456789abcdef"
tenants:
  - id: acme
    apiKeys: [{key: "acme-key-0123456789", forwardCredentials: true}, "acme-plain-0123456789"]
    providers:
      - {id: k, kind: klink, baseURL: "https://a.test", credentials: user}
      - {id: z, kind: ziik, baseURL: "https://z.test", credentials: user, email: bot@z.test, password: pw}
  - id: globex
    providers:
      - {id: k, kind: klink, baseURL: "https://a.test", token: t}
providers:
  - {id: k, kind: klink, baseURL: "https://a.test", token: t}
`

func TestParseTenants(t *testing.T) {
	c, err := config.Parse([]byte(tenantsYAML), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Auth.APIKeys; len(got) != 2 || got[0].ForwardCredentials || !got[1].ForwardCredentials || got[1].Key != "backend-key-0123456789" {
		t.Errorf("auth.apiKeys %+v", got)
	}
	acme := c.Tenants[0]
	if acme.ID != "acme" || len(acme.APIKeys) != 2 || !acme.APIKeys[0].ForwardCredentials || acme.APIKeys[1].ForwardCredentials {
		t.Errorf("tenant %+v", acme)
	}
	if !acme.Providers[0].UserCredentials() || acme.Providers[0].HasServiceCredential() || !acme.Providers[1].HasServiceCredential() {
		t.Errorf("acme providers %+v", acme.Providers)
	}
	if p := c.Tenants[1].Providers[0]; p.Credentials != config.CredentialsService || p.UserCredentials() {
		t.Errorf("default credentials %q", p.Credentials)
	}
	if c.Events.AccessCheckTTL.D().Seconds() != 30 || c.Attachments.MaxUploadBytes != 10<<20 || len(c.Attachments.AllowedContentTypes) == 0 {
		t.Errorf("defaults: accessCheckTTL %v, maxUploadBytes %d, types %v", c.Events.AccessCheckTTL, c.Attachments.MaxUploadBytes, c.Attachments.AllowedContentTypes)
	}
}

func TestParseTenantRefusals(t *testing.T) {
	const ck = "  credentialKey: \"0123456789abcdef0123456789abcdef\"\n"
	userProvider := "providers:\n  - {id: k, kind: klink, baseURL: 'https://a.test', credentials: user}\n"
	for _, tt := range []struct{ name, yaml, want string }{
		{"user credentials without credentialKey", userProvider, `auth.credentialKey: is required: provider "k" has credentials: user`},
		{"short credentialKey", "auth:\n  credentialKey: short\n", "auth.credentialKey: is shorter than 32"},
		{"unknown credentials mode", "auth:\n" + ck + "providers:\n  - {id: k, kind: klink, baseURL: 'https://a.test', credentials: shared}\n", `providers[0].credentials: "shared" is not service or user`},
		{"ziik email without password", "auth:\n" + ck + "providers:\n  - {id: z, kind: ziik, baseURL: 'https://a.test', credentials: user, email: a@b.c}\n", "providers[0].password: set email and password together"},
		{"one key in two tenants", "auth:\n  apiKeys: ['same-key-0123456789']\ntenants:\n  - {id: acme, apiKeys: ['same-key-0123456789']}\n", "tenants[0].apiKeys[0]: is the same key as auth.apiKeys[0]"},
		{"duplicate tenant", "tenants:\n  - {id: acme}\n  - {id: acme}\n", `tenants[1].id: "acme" is already used by tenants[0]`},
		{"tenant named default", "tenants:\n  - {id: default}\n", `tenants[0].id: "default" names the top-level tenant`},
		{"bad tenant id", "tenants:\n  - {id: 'Acme Inc'}\n", "tenants[0].id:"},
		{"tenant provider without token", "tenants:\n  - id: acme\n    providers: [{id: k, kind: klink, baseURL: 'https://a.test'}]\n", "tenants[0].providers[0].token: is required"},
		{"short tenant key", "tenants:\n  - {id: acme, apiKeys: [{key: short}]}\n", "tenants[0].apiKeys[0]: is shorter than 16"},
		{"bad content type", "attachments:\n  allowedContentTypes: ['images']\n", `attachments.allowedContentTypes[0]: "images" is not a media type`},
		{"negative upload size", "attachments:\n  maxUploadBytes: -1\n", "attachments.maxUploadBytes: must be positive"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse([]byte(tt.yaml), env(nil))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "same-key-0123456789") {
				t.Error("the error repeats a key")
			}
		})
	}
}
