package resolvers

import (
	"context"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
)

// gatedProvider's thread check answers only once its comment list has been
// asked for: a timeline that waited for the check before listing would
// never finish.
type gatedProvider struct {
	listed chan struct{}
	found  bool
}

func (p *gatedProvider) Info() *model.Provider {
	return &model.Provider{ID: "gated", Kind: model.ProviderKindKlink, Name: "Gated"}
}

func (p *gatedProvider) Thread(ctx context.Context, kind model.ThreadKind, ref string) (*model.Thread, error) {
	select {
	case <-p.listed:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if !p.found {
		return nil, &model.Error{Code: model.CodeNotFound, Provider: "gated", Message: "thread not found"}
	}
	return &model.Thread{ProviderID: "gated", Kind: kind, Ref: ref}, nil
}

func (p *gatedProvider) ListThreads(context.Context, providers.Page) (*providers.ThreadPage, error) {
	return &providers.ThreadPage{}, nil
}

func (p *gatedProvider) ListComments(_ context.Context, th *model.Thread, _ providers.Page) (*providers.CommentPage, error) {
	close(p.listed)
	c := &model.Comment{ProviderID: "gated", ThreadKind: th.Kind, ThreadRef: th.Ref, Ref: "1", Text: "hi", CreatedAt: time.Unix(1, 0).UTC()}
	return &providers.CommentPage{Edges: []providers.CommentEdge{{Cursor: "1", Comment: c}}}, nil
}

func (p *gatedProvider) GetComment(context.Context, *model.Thread, string) (*model.Comment, error) {
	return nil, &model.Error{Code: model.CodeNotFound, Provider: "gated", Message: "not found"}
}

func (p *gatedProvider) CreateComment(context.Context, providers.CommentInput) (*model.Comment, error) {
	return nil, &model.Error{Code: model.CodeUnsupported, Provider: "gated", Message: "read only"}
}

func (p *gatedProvider) Users(context.Context, []string) (map[string]*model.User, error) {
	return map[string]*model.User{}, nil
}

func (p *gatedProvider) Rooms(context.Context, []string) (map[string]*model.Room, error) {
	return map[string]*model.Room{}, nil
}

// The timeline asks for a thread's comments while its thread check is still
// out (one round trip per page, not two), and a thread the check refuses
// still fails with the check's error, its comments dropped.
func TestTimelineChecksAndListsTogether(t *testing.T) {
	for _, found := range []bool{true, false} {
		p := &gatedProvider{listed: make(chan struct{}), found: found}
		r := &Resolver{Providers: providers.NewRegistry(p)}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ctx = graphql.WithResponseContext(ctx, graphql.DefaultErrorPresenter, graphql.DefaultRecover)
		first := 10
		conn, err := r.timeline(ctx, []string{model.ThreadID("gated", model.ThreadKindRoom, "r1")}, &first, nil)
		errs := graphql.GetErrors(ctx)
		timedOut := ctx.Err() != nil
		cancel()
		if timedOut {
			t.Fatalf("found=%v: the list waited for the thread check, which waited for the list", found)
		}
		if err != nil {
			t.Fatalf("found=%v: %v", found, err)
		}
		switch {
		case found && len(conn.Edges) != 1:
			t.Errorf("found thread: %d comments, want 1", len(conn.Edges))
		case !found && len(conn.Edges) != 0:
			t.Errorf("refused thread: %d comments, want none", len(conn.Edges))
		}
		if found != (len(errs) == 0) {
			t.Errorf("found=%v: errors %v", found, errs)
		}
		if !found && (len(errs) != 1 || !model.IsCode(errs[0].Err, model.CodeNotFound)) {
			t.Errorf("refused thread: errors %v, want the check's NOT_FOUND", errs)
		}
	}
}
