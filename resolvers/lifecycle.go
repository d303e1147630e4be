package resolvers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"sync"

	"github.com/99designs/gqlgen/graphql"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/idempotency"
	"github.com/commentgraph/commentgraph/providers"
)

// A comment's lifecycle past creation: edit, delete, mark read. Each finds
// the provider's optional interface (providers.Lifecycle) before anything
// else, so a provider without it answers UNSUPPORTED with no upstream call.

// providerByID is Query.provider: null for an id no provider has.
func (r *Resolver) providerByID(ctx context.Context, id string) (*model.Provider, error) {
	p, err := r.providerInfo(ctx, id)
	if model.IsCode(err, model.CodeNotFound) {
		return nil, nil
	}
	return p, err
}

// lifecycle decodes a comment ID and finds its provider's T, or UNSUPPORTED
// (what names the operation for the message).
func lifecycle[T any](ctx context.Context, r *Resolver, id, what string) (model.GlobalID, T, error) {
	var zero T
	cid, err := model.DecodeIDOf(id, model.TypeComment)
	if err != nil {
		return cid, zero, err
	}
	p, err := r.provider(ctx, cid.Provider)
	if err != nil {
		return cid, zero, err
	}
	impl, ok := providers.Lifecycle[T](p)
	if !ok {
		return cid, zero, providers.Unsupported(cid.Provider, what)
	}
	return cid, impl, nil
}

func (r *Resolver) updateComment(ctx context.Context, in model.UpdateCommentInput) (*model.UpdateCommentPayload, error) {
	cid, ed, err := lifecycle[providers.Editor](ctx, r, in.Comment, "editing comments")
	if err != nil {
		return nil, err
	}
	up := providers.CommentUpdate{Ref: cid.Ref[2], Text: in.Text}
	if up.Mentions, err = mentionRefs(cid.Provider, in.Mentions); err != nil {
		return nil, err
	}
	// Refuse a bad template before anything else is asked of the upstream.
	if _, err := providers.ParseTemplate(up.Text, up.Mentions); err != nil {
		return nil, err
	}
	if in.ClientMutationID != nil {
		up.IdempotencyKey = *in.ClientMutationID
	}
	c, err := r.once(ctx, "updateComment", in.ClientMutationID, in, func(ctx context.Context) (*model.Comment, error) {
		th, err := r.loaders(ctx).Thread(ctx, cid.Provider, model.ThreadKind(cid.Ref[0]), cid.Ref[1])
		if err != nil {
			return nil, err
		}
		up.Thread = th
		c, err := ed.UpdateComment(ctx, up)
		if err != nil {
			return nil, err
		}
		c.Link()
		r.announce(ctx, model.CommentEventTypeUpdated, c)
		return c, nil
	})
	if err != nil {
		return nil, err
	}
	return &model.UpdateCommentPayload{Comment: c, ClientMutationID: in.ClientMutationID}, nil
}

func (r *Resolver) deleteComment(ctx context.Context, in model.DeleteCommentInput) (*model.DeleteCommentPayload, error) {
	cid, del, err := lifecycle[providers.Deleter](ctx, r, in.Comment, "deleting comments")
	if err != nil {
		return nil, err
	}
	kind, threadRef, ref := model.ThreadKind(cid.Ref[0]), cid.Ref[1], cid.Ref[2]
	c, err := r.once(ctx, "deleteComment", in.ClientMutationID, in, func(ctx context.Context) (*model.Comment, error) {
		th, err := r.loaders(ctx).Thread(ctx, cid.Provider, kind, threadRef)
		if err != nil {
			return nil, err
		}
		if err := del.DeleteComment(ctx, th, ref); err != nil {
			return nil, err
		}
		gone := model.Tombstone(cid.Provider, kind, threadRef, ref)
		r.announce(ctx, model.CommentEventTypeDeleted, gone)
		return gone, nil
	})
	if err != nil {
		return nil, err
	}
	return &model.DeleteCommentPayload{DeletedCommentID: c.ID(), ClientMutationID: in.ClientMutationID}, nil
}

// markRead groups the comments by thread (a ReadMarker marks one thread's at a
// time), checks every provider can before any call, and marks the threads
// concurrently. The comments come back in the order asked. A thread that
// fails fails the mutation, each failure reported with its provider; the
// threads that succeeded stay read (marking them again changes nothing).
func (r *Resolver) markRead(ctx context.Context, in model.MarkReadInput) (*model.MarkReadPayload, error) {
	if len(in.Comments) > r.limits().MaxPageSize {
		return nil, model.Errorf(model.CodeBadUserInput, "comments may hold at most %d IDs", r.limits().MaxPageSize)
	}
	type group struct {
		rm       providers.ReadMarker
		provider string
		kind     model.ThreadKind
		thread   string
		refs     []string
		got      []*model.Comment
		err      error
	}
	var groups []*group
	byThread := map[string]*group{}
	at := make([]*group, len(in.Comments))
	ids := make([]string, len(in.Comments)) // canonical, to find each in its answer
	for i, id := range in.Comments {
		cid, rm, err := lifecycle[providers.ReadMarker](ctx, r, id, "marking comments read")
		if err != nil {
			return nil, err
		}
		tid := model.ThreadID(cid.Provider, model.ThreadKind(cid.Ref[0]), cid.Ref[1])
		g := byThread[tid]
		if g == nil {
			g = &group{rm: rm, provider: cid.Provider, kind: model.ThreadKind(cid.Ref[0]), thread: cid.Ref[1]}
			byThread[tid] = g
			groups = append(groups, g)
		}
		if !slices.Contains(g.refs, cid.Ref[2]) {
			g.refs = append(g.refs, cid.Ref[2])
		}
		at[i], ids[i] = g, model.CommentID(cid.Provider, g.kind, g.thread, cid.Ref[2])
	}
	var wg sync.WaitGroup
	for _, g := range groups {
		wg.Go(func() {
			th, err := r.loaders(ctx).Thread(ctx, g.provider, g.kind, g.thread)
			if err != nil {
				g.err = err
				return
			}
			g.got, g.err = g.rm.MarkRead(ctx, th, g.refs)
		})
	}
	wg.Wait()
	var errs []error
	for _, g := range groups {
		if g.err != nil {
			errs = append(errs, g.err)
		}
	}
	if len(errs) > 0 {
		for _, err := range errs[1:] {
			graphql.AddError(ctx, err)
		}
		return nil, errs[0]
	}
	out := make([]*model.Comment, len(in.Comments))
	for i, id := range ids {
		for _, c := range at[i].got {
			if c != nil && c.ID() == id {
				c.Link()
				out[i] = c
				break
			}
		}
		if out[i] == nil {
			return nil, &model.Error{Code: model.CodeNotFound, Provider: at[i].provider, Message: "the provider did not return a comment it was asked to mark read"}
		}
	}
	return &model.MarkReadPayload{Comments: out}, nil
}

// mentionRefs translates mention inputs to the provider's user refs; a user
// of another provider is BAD_USER_INPUT.
func mentionRefs(provider string, in []*model.MentionInput) ([]providers.MentionRef, error) {
	var out []providers.MentionRef
	for i, m := range in {
		uid, err := model.DecodeIDOf(m.User, model.TypeUser)
		if err != nil {
			return nil, err
		}
		if uid.Provider != provider {
			return nil, model.Errorf(model.CodeBadUserInput, "mentions[%d].user belongs to provider %q, not the comment's %q", i, uid.Provider, provider)
		}
		out = append(out, providers.MentionRef{Index: m.Index, UserRef: uid.Ref[0]})
	}
	return out, nil
}

// once runs do at most once per clientMutationId (scoped by credential and
// by operation, so an id used for a create and for an edit names two
// requests), or simply runs it without one.
func (r *Resolver) once(ctx context.Context, op string, clientMutationID *string, in any, do func(context.Context) (*model.Comment, error)) (*model.Comment, error) {
	return r.onceIn(ctx, op+"\x00", clientMutationID, func() string {
		raw, _ := json.Marshal(in)
		sum := sha256.Sum256(append([]byte(op+"\x00"), raw...))
		return hex.EncodeToString(sum[:12])
	}, do)
}

// onceIn runs do at most once per clientMutationId under scope (and the
// caller's credential); fingerprint names the request, so a reused id with
// another request is refused, and is only computed when the id is kept.
func (r *Resolver) onceIn(ctx context.Context, scope string, clientMutationID *string, fingerprint func() string, do func(context.Context) (*model.Comment, error)) (*model.Comment, error) {
	if clientMutationID == nil || *clientMutationID == "" || r.Idempotency == nil {
		return do(ctx)
	}
	cred := ""
	if r.Credential != nil {
		cred = r.Credential(ctx)
	}
	return r.Idempotency.Do(ctx, idempotency.Key(cred, scope+*clientMutationID), fingerprint(), do)
}

// announce publishes an event about a comment created or changed through the
// gateway. The change happened upstream whatever becomes of the
// announcement, so a client's disconnect does not cancel it, and a failure
// is only logged.
func (r *Resolver) announce(ctx context.Context, t model.CommentEventType, c *model.Comment) {
	if r.Bus == nil {
		return
	}
	var err error
	if t == model.CommentEventTypeAdded {
		err = r.Bus.Publish(context.WithoutCancel(ctx), c)
	} else {
		err = r.Bus.PublishEvent(context.WithoutCancel(ctx), t, c)
	}
	if err != nil && r.Logger != nil {
		r.Logger.WarnContext(ctx, "publish comment event", "type", t, "provider", c.ProviderID, "err", err)
	}
}

// eventThread is CommentEvent.thread. A thread that cannot be looked up (gone
// with the comment, or its upstream down) is still named by the event: it is
// answered bare (id, kind, ref) rather than losing the event.
func (r *Resolver) eventThread(ctx context.Context, ev *model.CommentEvent) (*model.Thread, error) {
	c := ev.Subject
	th, err := r.loaders(ctx).Thread(ctx, c.ProviderID, c.ThreadKind, c.ThreadRef)
	if err != nil {
		return &model.Thread{ProviderID: c.ProviderID, Kind: c.ThreadKind, Ref: c.ThreadRef}, nil
	}
	return th, nil
}

func (r *Resolver) commentEvents(ctx context.Context, threads, providerIDs []string, since *string) (<-chan graphql.Event[*model.CommentEvent], error) {
	from, err := r.subscriptionArgs(ctx, threads, providerIDs, since)
	if err != nil {
		return nil, err
	}
	return r.Bus.SubscribeEvents(ctx, threads, providerIDs, from)
}

// subscriptionArgs checks a subscription's filters and says where it resumes:
// since, or over SSE the standard Last-Event-ID.
func (r *Resolver) subscriptionArgs(ctx context.Context, threads, providerIDs []string, since *string) (string, error) {
	if r.Bus == nil {
		return "", model.Errorf(model.CodeUnsupported, "subscriptions are not available")
	}
	for _, id := range threads {
		gid, err := model.DecodeIDOf(id, model.TypeThread)
		if err != nil {
			return "", err
		}
		if _, err := r.provider(ctx, gid.Provider); err != nil {
			return "", err
		}
	}
	for _, id := range providerIDs {
		if _, err := r.provider(ctx, id); err != nil {
			return "", err
		}
	}
	if since != nil {
		return *since, nil
	}
	if graphql.HasOperationContext(ctx) {
		if h := graphql.GetOperationContext(ctx).Headers; h != nil {
			return h.Get("Last-Event-ID"), nil
		}
	}
	return "", nil
}
