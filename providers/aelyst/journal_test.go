package aelyst

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/commentgraph/commentgraph/graph/model"
	"github.com/commentgraph/commentgraph/internal/redistest"
	"github.com/commentgraph/commentgraph/providers"
	"github.com/redis/go-redis/v9"
)

// journals runs a test over every Journal implementation.
func journals(t *testing.T, test func(t *testing.T, open func() Journal)) {
	t.Run("memory", func(t *testing.T) {
		j := NewMemoryJournal()
		test(t, func() Journal { return j })
	})
	t.Run("redis", func(t *testing.T) {
		srv := redistest.MustStart(t)
		opt, err := redis.ParseURL(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		prefix := "test:" + strings.ReplaceAll(t.Name(), "/", ":") + ":"
		// Each open is a new client, as another gateway instance would be.
		test(t, func() Journal {
			rdb := redis.NewClient(opt)
			t.Cleanup(func() { rdb.Close() })
			return NewRedisJournal(rdb, prefix)
		})
	})
}

func entry(contact, createdAt int64, body string) Entry {
	return Entry{Ref: EntryRef(createdAt, body), ContactID: contact, Body: body, Text: body, CreatedAt: createdAt}
}

func TestJournalAppendIsIdempotent(t *testing.T) {
	journals(t, func(t *testing.T, open func() Journal) {
		ctx := context.Background()
		j := open()
		e := entry(7, 1735689600, "hello")
		e.Mentions = []EntryMention{{UserRef: "42", Offset: 1, Length: 3}}
		got, added, err := j.Append(ctx, "s", e, "event:a")
		if err != nil || !added {
			t.Fatalf("first append: added=%v err=%v", added, err)
		}
		if got.Cursor == "" || got.Ref != e.Ref {
			t.Fatalf("stored %+v", got)
		}
		cases := []struct {
			name    string
			e       Entry
			aliases []string
		}{
			{"same content, no alias (webhook echo of a create)", e, nil},
			{"same alias, other content (replayed event)", entry(7, 1735689601, "other"), []string{"event:a"}},
			{"same content, new alias", e, []string{"event:b"}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				got2, added, err := open().Append(ctx, "s", c.e, c.aliases...)
				if err != nil || added {
					t.Fatalf("added=%v err=%v", added, err)
				}
				if got2.Ref != e.Ref || got2.Cursor != got.Cursor || len(got2.Mentions) != 1 {
					t.Fatalf("answered %+v, want the first entry", got2)
				}
			})
		}
		t.Run("a later append fills in a missing sender, never replaces one", func(t *testing.T) {
			withSender := e
			withSender.SenderRef = "100"
			got, added, err := open().Append(ctx, "s", withSender)
			if err != nil || added || got.SenderRef != "100" || got.Text != e.Text || len(got.Mentions) != 1 {
				t.Fatalf("added=%v err=%v stored %+v", added, err, got)
			}
			withSender.SenderRef = "200"
			if got, _, _ := open().Append(ctx, "s", withSender); got.SenderRef != "100" {
				t.Fatalf("sender replaced: %+v", got)
			}
			if got, err := open().Get(ctx, "s", 7, e.Ref); err != nil || got.SenderRef != "100" || got.Body != "hello" {
				t.Fatalf("get after fill: %+v %v", got, err)
			}
		})
		for _, alias := range []string{"event:a", "event:b"} {
			found, ok, err := open().Lookup(ctx, "s", 7, alias)
			if err != nil || !ok || found.Ref != e.Ref {
				t.Fatalf("lookup %s: %+v %v %v", alias, found, ok, err)
			}
		}
		if _, ok, err := j.Lookup(ctx, "s", 7, "event:zzz"); ok || err != nil {
			t.Fatalf("unknown alias found: %v %v", ok, err)
		}
		page, err := open().List(ctx, "s", 7, providers.Page{First: 10})
		if err != nil || len(page.Entries) != 1 {
			t.Fatalf("list: %+v %v", page, err)
		}
		// Scopes and contacts are separate journals.
		for _, where := range []struct {
			scope   string
			contact int64
		}{{"other", 7}, {"s", 8}} {
			page, err := j.List(ctx, where.scope, where.contact, providers.Page{First: 10})
			if err != nil || len(page.Entries) != 0 {
				t.Fatalf("%+v sees %d entries (%v)", where, len(page.Entries), err)
			}
			if _, err := j.Get(ctx, where.scope, where.contact, e.Ref); !model.IsCode(err, model.CodeNotFound) {
				t.Fatalf("%+v get: %v", where, err)
			}
		}
	})
}

func TestJournalConcurrentAppendsStoreOnce(t *testing.T) {
	journals(t, func(t *testing.T, open func() Journal) {
		ctx := context.Background()
		var wg sync.WaitGroup
		var mu sync.Mutex
		added := 0
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Half arrive as the create, half as its webhook.
				var aliases []string
				if i%2 == 0 {
					aliases = []string{"event:x"}
				}
				_, ok, err := open().Append(ctx, "s", entry(9, 100, "race"), aliases...)
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					added++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		page, err := open().List(ctx, "s", 9, providers.Page{First: 10})
		if err != nil {
			t.Fatal(err)
		}
		if added != 1 || len(page.Entries) != 1 {
			t.Fatalf("added %d times, listed %d", added, len(page.Entries))
		}
	})
}

func TestJournalOrderAndPaging(t *testing.T) {
	journals(t, func(t *testing.T, open func() Journal) {
		ctx := context.Background()
		j := open()
		// Arrival order differs from created_at for the late one; ties in
		// created_at keep arrival order.
		bodies := []struct {
			at   int64
			body string
		}{{100, "a"}, {100, "b"}, {101, "c"}, {103, "e"}, {102, "d (late webhook)"}, {103, "f"}, {104, "g"}}
		for _, b := range bodies {
			if _, _, err := j.Append(ctx, "s", entry(1, b.at, b.body)); err != nil {
				t.Fatal(err)
			}
		}
		want := []string{"a", "b", "c", "d (late webhook)", "e", "f", "g"}
		cases := []struct {
			name    string
			page    providers.Page
			want    []string
			hasPrev bool
			hasNext bool
		}{
			{"first 3", providers.Page{First: 3}, want[:3], false, true},
			{"first all", providers.Page{First: 50}, want, false, false},
			{"last 3", providers.Page{Last: 3}, want[4:], true, false},
			{"last all", providers.Page{Last: 50}, want, false, false},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				p, err := open().List(ctx, "s", 1, c.page)
				if err != nil {
					t.Fatal(err)
				}
				if got := bodiesOf(p); got != strings.Join(c.want, ",") || p.HasPreviousPage != c.hasPrev || p.HasNextPage != c.hasNext {
					t.Fatalf("got %s prev=%v next=%v", got, p.HasPreviousPage, p.HasNextPage)
				}
			})
		}
		first, _ := j.List(ctx, "s", 1, providers.Page{First: 3})
		mid, err := open().List(ctx, "s", 1, providers.Page{First: 3, After: first.Entries[2].Cursor})
		if err != nil {
			t.Fatal(err)
		}
		if bodiesOf(mid) != "d (late webhook),e,f" || !mid.HasPreviousPage || !mid.HasNextPage {
			t.Fatalf("middle forward: %s %v %v", bodiesOf(mid), mid.HasPreviousPage, mid.HasNextPage)
		}
		back, err := open().List(ctx, "s", 1, providers.Page{Last: 2, Before: mid.Entries[0].Cursor})
		if err != nil {
			t.Fatal(err)
		}
		if bodiesOf(back) != "b,c" || !back.HasPreviousPage || !back.HasNextPage {
			t.Fatalf("middle backward: %s %v %v", bodiesOf(back), back.HasPreviousPage, back.HasNextPage)
		}
		end, err := open().List(ctx, "s", 1, providers.Page{First: 3, After: mid.Entries[2].Cursor})
		if err != nil {
			t.Fatal(err)
		}
		if bodiesOf(end) != "g" || end.HasNextPage || !end.HasPreviousPage {
			t.Fatalf("last forward: %s", bodiesOf(end))
		}
		got, err := open().Get(ctx, "s", 1, EntryRef(102, "d (late webhook)"))
		if err != nil || got.Body != "d (late webhook)" || got.Cursor != mid.Entries[0].Cursor {
			t.Fatalf("get: %+v %v", got, err)
		}
		for _, bad := range []providers.Page{{}, {First: -1}, {First: 1, Last: 1}, {First: 2, After: "x.1"}, {Last: 2, Before: "5"}} {
			t.Run(fmt.Sprintf("bad %+v", bad), func(t *testing.T) {
				if _, err := j.List(ctx, "s", 1, bad); !model.IsCode(err, model.CodeBadUserInput) {
					t.Fatalf("err = %v, want BAD_USER_INPUT", err)
				}
			})
		}
	})
}

func TestJournalRefusesMalformedEntries(t *testing.T) {
	journals(t, func(t *testing.T, open func() Journal) {
		for name, e := range map[string]Entry{
			"no contact":   {Ref: EntryRef(1, "x"), CreatedAt: 1},
			"negative at":  {Ref: "1-abcdefabcdef", ContactID: 1, CreatedAt: -1},
			"bad ref":      {Ref: "nope", ContactID: 1, CreatedAt: 1},
			"far future":   {Ref: "1-abcdefabcdef", ContactID: 1, CreatedAt: maxUnix + 1},
			"ref too long": {Ref: "123456789012-abcdefabcdef", ContactID: 1, CreatedAt: 1},
		} {
			t.Run(name, func(t *testing.T) {
				if _, _, err := open().Append(context.Background(), "s", e); err == nil {
					t.Fatal("appended a malformed entry")
				}
			})
		}
	})
}

func TestRedisJournalSurvivesProviderRestart(t *testing.T) {
	srv := redistest.MustStart(t)
	opt, err := redis.ParseURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	f := newFixture(t, func(o *Options) { o.Journal = NewRedisJournal(rdb, "") })
	created, err := f.p.CreateComment(context.Background(), providers.CommentInput{
		Thread: contactThread("id:2001"), Text: "kept {0}", Mentions: []providers.MentionRef{{Index: 0, UserRef: "101"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// A new provider (a restarted or second gateway instance) on the same Redis.
	again, err := New(Options{ID: "aelyst1", BaseURL: f.srv.URL, Token: testToken, Journal: NewRedisJournal(rdb, ""), Now: f.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	got, err := again.GetComment(context.Background(), contactThread("id:2001"), created.Ref)
	if err != nil {
		t.Fatal(err)
	}
	if got.Text != "kept @Ana Lee" || len(got.Mentions) != 1 || got.Mentions[0].Offset != 5 || got.Mentions[0].Length != 8 {
		t.Fatalf("read back %+v", got)
	}
	// Another credential of the same instance id sees a different journal.
	other, err := New(Options{ID: "aelyst1", BaseURL: f.srv.URL, Token: "another-token", Journal: NewRedisJournal(rdb, "")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.GetComment(context.Background(), contactThread("id:2001"), created.Ref); !model.IsCode(err, model.CodeNotFound) {
		t.Fatalf("another credential read the journal: %v", err)
	}
}

func TestJournalOutageIsUpstreamUnavailable(t *testing.T) {
	srv := redistest.MustStart(t)
	opt, err := redis.ParseURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	opt.MaxRetries = -1
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	f := newFixture(t, func(o *Options) { o.Journal = NewRedisJournal(rdb, "") })
	srv.Kill()
	_, err = f.p.ListComments(context.Background(), contactThread("id:2001"), providers.Page{First: 5})
	wantCode(t, err, model.CodeUpstreamUnavailable)
	// A create still posts once and returns the comment: failing would make
	// the client post again; the webhook journals it later.
	c, err := f.p.CreateComment(context.Background(), providers.CommentInput{Thread: contactThread("id:2001"), Text: "posted while Redis is down"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Text != "posted while Redis is down" || len(f.srv.Comments(2001)) != 1 {
		t.Fatalf("comment %+v, stored %d", c, len(f.srv.Comments(2001)))
	}
}

func bodiesOf(p *JournalPage) string {
	var out []string
	for _, e := range p.Entries {
		out = append(out, e.Body)
	}
	return strings.Join(out, ",")
}
