// Package clients holds no Go code: its test runs the reference GraphQL
// clients, installed from package.json and package-lock.json with npm,
// against the real gateway (clients_test.go). The node scripts beside it are
// one per client; audit.mjs runs npm graphql-http's server audits.
package clients
