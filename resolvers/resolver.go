// Package resolvers holds the thin GraphQL resolvers: arguments in, a loader or
// provider call, the result out.
package resolvers

// Resolver is the root resolver; its dependencies are set by the server.
type Resolver struct{}
