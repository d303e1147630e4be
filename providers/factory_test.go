package providers_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/providers"
	_ "github.com/commentgraph/commentgraph/providers/aelyst"
	_ "github.com/commentgraph/commentgraph/providers/klink"
	_ "github.com/commentgraph/commentgraph/providers/virola"
	_ "github.com/commentgraph/commentgraph/providers/ziik"
)

func TestEveryKindIsRegistered(t *testing.T) {
	if got, want := providers.RegisteredKinds(), []string{"aelyst", "klink", "virola", "ziik"}; !slices.Equal(got, want) {
		t.Errorf("kinds %v, want %v", got, want)
	}
	_, err := providers.Build(providers.Config{ID: "x", Kind: "slack", BaseURL: "https://x.test"}, providers.Deps{})
	if err == nil || !strings.Contains(err.Error(), `"slack"`) {
		t.Errorf("an unknown kind: %v", err)
	}
	for _, tc := range []struct {
		cfg             providers.Config
		webhook, stream bool
		polled          int
	}{
		{providers.Config{ID: "k", Kind: "klink", BaseURL: "https://k.test", Token: "t", Threads: []string{"r1", "r2"}}, true, false, 2},
		{providers.Config{ID: "v", Kind: "virola", BaseURL: "https://v.test", Token: "t"}, false, true, 0},
		{providers.Config{ID: "a", Kind: "aelyst", BaseURL: "https://a.test", Token: "t"}, true, false, 0},
		{providers.Config{ID: "z", Kind: "ziik", BaseURL: "https://z.test", Email: "e@z.test", Password: "p", Threads: []string{"57", "57:9"}}, false, false, 2},
	} {
		t.Run(tc.cfg.Kind, func(t *testing.T) {
			inst, err := providers.Build(tc.cfg, providers.Deps{})
			if err != nil {
				t.Fatal(err)
			}
			if inst.Provider.Info().ID != tc.cfg.ID || (inst.Webhook != nil) != tc.webhook || (inst.Stream != nil) != tc.stream || len(inst.Poll) != tc.polled {
				t.Errorf("instance %+v", inst)
			}
		})
	}
}

func TestBackoffIsJittered(t *testing.T) {
	seen := map[time.Duration]bool{}
	for range 20 {
		b := providers.Backoff(time.Second, 30*time.Second)
		d := b.NextBackOff()
		if d < 500*time.Millisecond || d > 1500*time.Millisecond {
			t.Fatalf("first wait %v outside 1s ±50%%", d)
		}
		seen[d] = true
	}
	if len(seen) < 2 {
		t.Error("every first wait is the same: no jitter")
	}
}

func TestSleepEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := providers.Sleep(ctx, time.Hour); err != context.Canceled {
		t.Errorf("Sleep = %v", err)
	}
}
