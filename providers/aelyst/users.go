package aelyst

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/providers"
	"golang.org/x/sync/errgroup"
)

// Users looks space users up by id, GET /space/user/{id} each (Aelyst has no
// batch look-up). Answers are kept briefly so rendering mentions does not
// spend the rate limit on the same people again.
func (p *Provider) Users(ctx context.Context, refs []string) (map[string]*model.User, error) {
	out := make(map[string]*model.User, len(refs))
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(lookupParallelism)
	for _, ref := range dedupe(refs) {
		if !validUserRef(ref) {
			continue // not a user id: it does not exist
		}
		g.Go(func() error {
			u, err := p.user(gctx, ref)
			if err != nil {
				return err
			}
			if u != nil {
				mu.Lock()
				out[ref] = u
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

func validUserRef(ref string) bool {
	_, ok := parseID(ref)
	return ok
}

// parseID reads an Aelyst user or contact id: a positive number written as
// plain decimal (no sign, no leading zero), so that one id has one ref.
func parseID(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0 && s[0] != '+' && s[0] != '0'
}

// user returns one user (nil when there is none), from the cache when fresh.
func (p *Provider) user(ctx context.Context, ref string) (*model.User, error) {
	now := p.now()
	p.mu.Lock()
	c, ok := p.users[ref]
	p.mu.Unlock()
	if ok {
		ttl := userTTL
		if c.user == nil {
			ttl = missingUserTTL
		}
		if now.Sub(c.at) < ttl {
			return c.user, nil
		}
	}
	v, err, _ := p.flight.Do("user\x00"+ref, func() (any, error) {
		ctx := providers.WithoutCallBudget(ctx) // shared with other requests: no one request's budget pays for it or stops it
		var raw jsonRaw
		err := p.call(ctx, false, providers.Request{
			Method:   "GET",
			Endpoint: "/space/user/{id}",
			Path:     "/space/user/" + ref,
		}, &raw)
		var u *model.User
		switch {
		case model.IsCode(err, model.CodeNotFound):
		case err != nil:
			return (*model.User)(nil), err
		default:
			uj, derr := decodeUser(raw)
			if derr != nil {
				return (*model.User)(nil), providers.GarbageError(p.opts.ID, fmt.Errorf("GET /space/user/{id}: %w", derr))
			}
			u = p.userOf(uj)
		}
		p.mu.Lock()
		p.users[ref] = cachedUser{user: u, at: now}
		p.mu.Unlock()
		return u, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*model.User), nil
}

// Rooms looks contacts up by numeric id (Thread.RoomRef), one call each.
func (p *Provider) Rooms(ctx context.Context, refs []string) (map[string]*model.Room, error) {
	out := make(map[string]*model.Room, len(refs))
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(lookupParallelism)
	for _, ref := range dedupe(refs) {
		id, ok := parseID(ref)
		if !ok {
			continue // not a contact id: it does not exist
		}
		g.Go(func() error {
			c, err := p.getContact(gctx, contactIdentifier(id))
			if model.IsCode(err, model.CodeNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			mu.Lock()
			out[ref] = p.roomOf(c)
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

func dedupe(refs []string) []string {
	seen := make(map[string]bool, len(refs))
	out := refs[:0:0]
	for _, r := range refs {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}

// maxUserPages bounds the space-user pages read to find BotUserEmail (100
// users a page).
const maxUserPages = 20

// actingUser is the user ref comments posted with the token are attributed
// to: Options.BotUserRef, else the space user whose email is
// Options.BotUserEmail, "" when neither is set or the email matches no user.
// The email's resolution is kept (a miss, or a failed look-up, for
// missingUserTTL); a failure is logged, never the caller's: the comment is
// posted all the same, without a sender.
func (p *Provider) actingUser(ctx context.Context) string {
	if p.opts.BotUserRef != "" || p.opts.BotUserEmail == "" {
		return p.opts.BotUserRef
	}
	now := p.now()
	p.mu.Lock()
	bot := p.bot
	p.mu.Unlock()
	if bot != nil && (bot.user != nil || now.Sub(bot.at) < missingUserTTL) {
		if bot.user == nil {
			return ""
		}
		return bot.user.Ref
	}
	v, _, _ := p.flight.Do("bot", func() (any, error) {
		ctx := providers.WithoutCallBudget(ctx) // shared with other requests: no one request's budget pays for it
		u, err := p.userByEmail(ctx, p.opts.BotUserEmail)
		if err != nil {
			p.log.WarnContext(ctx, "aelyst: could not find the token's user by email; posted comments have no sender", "err", err)
		} else if u == nil {
			p.log.WarnContext(ctx, "aelyst: no space user has the configured email; posted comments have no sender")
		}
		p.mu.Lock()
		p.bot = &cachedUser{user: u, at: now}
		p.mu.Unlock()
		return u, nil
	})
	if u, _ := v.(*model.User); u != nil {
		return u.Ref
	}
	return ""
}

// userByEmail lists the space users (GET /space/user, at most maxUserPages
// pages) and returns the one with email, case-insensitively; nil for none.
func (p *Provider) userByEmail(ctx context.Context, email string) (*model.User, error) {
	var cursor int64
	for range maxUserPages {
		q := url.Values{"limit": {"100"}}
		if cursor > 0 {
			q.Set("cursorId", strconv.FormatInt(cursor, 10))
		}
		var list listJSON[jsonRaw]
		if err := p.call(ctx, false, providers.Request{Method: "GET", Endpoint: "/space/user", Path: "/space/user?" + q.Encode()}, &list); err != nil {
			return nil, err
		}
		for _, raw := range list.Items {
			uj, err := decodeUser(raw)
			if err != nil {
				return nil, providers.GarbageError(p.opts.ID, fmt.Errorf("GET /space/user: %w", err))
			}
			if strings.EqualFold(str(uj.Email), strings.TrimSpace(email)) {
				u := p.userOf(uj)
				p.mu.Lock()
				p.users[u.Ref] = cachedUser{user: u, at: p.now()}
				p.mu.Unlock()
				return u, nil
			}
		}
		next := nextCursor(list.Pagination.Next)
		if next <= 0 || next == cursor || len(list.Items) == 0 {
			return nil, nil
		}
		cursor = next
	}
	return nil, fmt.Errorf("no match in the first %d pages of space users", maxUserPages)
}
