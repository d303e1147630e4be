package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// maxWebhookBody bounds a delivery (1 MiB); providers send small JSON.
const maxWebhookBody = 1 << 20

// serveWebhook verifies a delivery's signature (in the provider's adapter,
// over the raw body, before parsing), then publishes what it says. A forged,
// unsigned or stale delivery gets 401 and nothing is published.
func (a *App) serveWebhook(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("providerId")
	fn, ok := a.webhooks[id]
	if !ok {
		a.metrics.webhooks.WithLabelValues("unknown", "not_found").Inc()
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no provider with webhooks has this id"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
	if err != nil {
		a.metrics.webhooks.WithLabelValues(id, "too_large").Inc()
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "delivery too large"})
		return
	}
	err = fn(r.Context(), r.Header, body)
	switch code := model.ErrorCode(err); {
	case err == nil:
		a.metrics.webhooks.WithLabelValues(id, "ok").Inc()
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	case code == model.CodeUnauthenticated || code == model.CodeForbidden:
		a.metrics.webhooks.WithLabelValues(id, "rejected").Inc()
		a.log.WarnContext(r.Context(), "webhook rejected", "provider", id, "err", err)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "signature missing, wrong or stale"})
	case code == model.CodeBadUserInput:
		a.metrics.webhooks.WithLabelValues(id, "bad").Inc()
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "delivery not understood"})
	default:
		// 5xx makes the provider retry: nothing is lost while we are unwell.
		a.metrics.webhooks.WithLabelValues(id, "error").Inc()
		a.log.ErrorContext(r.Context(), "webhook ingest failed", "provider", id, "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "try again"})
	}
}

// ingest applies a change: the cache learns updated users and rooms and
// forgets deleted ones; new, updated and deleted comments are published
// (ADDED, UPDATED, DELETED), each once across every instance.
func (a *App) ingest(ctx context.Context, providerID, scope string, ch *providers.Change) error {
	var errs []error
	if len(ch.Users) > 0 || len(ch.Rooms) > 0 {
		if err := a.cache.Refresh(ctx, scope, ch.Users, ch.Rooms); err != nil {
			a.log.WarnContext(ctx, "cache refresh from push", "provider", providerID, "err", err)
		}
	}
	if len(ch.DeletedUsers) > 0 || len(ch.DeletedRooms) > 0 {
		if err := a.cache.Invalidate(ctx, scope, ch.DeletedUsers, ch.DeletedRooms); err != nil {
			a.log.WarnContext(ctx, "cache invalidate from push", "provider", providerID, "err", err)
		}
	}
	for _, c := range ch.Comments {
		if c == nil {
			continue
		}
		c.Link()
		// One key per comment: a delivery re-sent, or the same comment reaching
		// us by webhook and by poll, is published once.
		if _, _, err := a.bus.PublishOnce(ctx, commentEventKey(c), c); err != nil {
			errs = append(errs, err)
		}
	}
	for _, c := range ch.UpdatedComments {
		if c == nil {
			continue
		}
		c.Link()
		if _, _, err := a.bus.PublishChange(ctx, model.CommentEventTypeUpdated, changeEventKey(model.CommentEventTypeUpdated, c, ch.Key), c); err != nil {
			errs = append(errs, err)
		}
	}
	for _, d := range ch.DeletedComments {
		c := model.Tombstone(providerID, d.ThreadKind, d.ThreadRef, d.Ref)
		if _, _, err := a.bus.PublishChange(ctx, model.CommentEventTypeDeleted, changeEventKey(model.CommentEventTypeDeleted, c, ch.Key), c); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
