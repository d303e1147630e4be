package gateway

import (
	"net/http"

	"github.com/rs/cors"
)

// corsHeaders are the request headers a web app may send cross-origin: auth,
// content negotiation, resuming a stream, request ids and trace context.
var corsHeaders = []string{
	"Authorization", "Content-Type", "Accept", "Last-Event-ID", "X-Request-Id",
	"traceparent", "tracestate", "baggage", "X-GraphQL-Event-Stream-Token",
}

// withCORS answers preflights and sets CORS headers for the origins in
// auth.allowedOrigins, matched as the WebSocket check matches them (scheme
// included). With no origins configured it adds nothing: browsers then keep
// other origins out.
func (a *App) withCORS(next http.Handler) http.Handler {
	if len(a.cfg.Auth.AllowedOrigins) == 0 {
		return next
	}
	return cors.New(cors.Options{
		AllowOriginFunc:  a.origins.Admits,
		AllowedMethods:   []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete},
		AllowedHeaders:   corsHeaders,
		ExposedHeaders:   []string{"X-Request-Id", "Retry-After"},
		AllowCredentials: a.cfg.CORS.AllowCredentials,
		MaxAge:           int(a.cfg.CORS.MaxAge.D().Seconds()),
	}).Handler(next)
}
