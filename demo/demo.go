// Package demo is demo mode's upstreams: an in-process emulator of each
// provider, seeded with one company's people and conversations, and a config
// pointing the gateway at them.
package demo

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/commentgraph/commentgraph/config"
	"github.com/commentgraph/commentgraph/providers/aelyst/aelysttest"
	"github.com/commentgraph/commentgraph/providers/klink/klinktest"
	"github.com/commentgraph/commentgraph/providers/virola/virolatest"
	"github.com/commentgraph/commentgraph/providers/ziik/ziiktest"
)

// World is the running emulators, with a trickle of new comments so
// subscriptions visibly work.
type World struct {
	// Config is the gateway config that serves the emulators.
	Config *config.Config
	log    *slog.Logger
	klink  *klinktest.Server
	virola *virolatest.Server
	aelyst *aelysttest.Server
	ziik   *ziiktest.Server
}

// webhookSecret signs the emulators' webhooks to this gateway. It is a
// demo value, never used outside demo mode.
const webhookSecret = "demo-webhook-secret"

// The Ziik emulator's integration user, likewise demo-only.
const (
	ziikEmail    = "bot@ziik.test"
	ziikPassword = "demo-ziik-password"
)

// Start runs the emulators, seeded.
func Start(log *slog.Logger) (*World, error) {
	d := &World{log: log}
	d.klink = klinktest.NewServer(klinktest.Options{})
	d.klink.SeedDemo()
	d.virola = virolatest.NewServer(virolatest.Options{})
	if err := d.virola.SeedDemo(); err != nil {
		d.Close()
		return nil, err
	}
	d.aelyst = aelysttest.NewServer(aelysttest.Options{})
	d.aelyst.SeedDemo()
	d.ziik = ziiktest.NewServer(ziiktest.Options{Email: ziikEmail, Password: ziikPassword})
	d.ziik.SeedDemo()

	cfg, err := config.Parse(nil, func(string) (string, bool) { return "", false })
	if err != nil {
		d.Close()
		return nil, err
	}
	cfg.Events.PollInterval = config.Duration(2 * time.Second)
	cfg.Providers = []config.Provider{
		{ID: "klink", Kind: "klink", BaseURL: d.klink.URL, Token: klinktest.DefaultToken, WebhookSecret: webhookSecret, Threads: d.klink.Rooms()},
		{ID: "virola", Kind: "virola", BaseURL: d.virola.URL, Token: virolatest.DefaultToken},
		{ID: "aelyst", Kind: "aelyst", BaseURL: d.aelyst.URL, Token: aelysttest.DefaultToken, Email: "bot@commentgraph.dev", WebhookSecret: webhookSecret, Threads: d.aelyst.Contacts()},
		{ID: "ziik", Kind: "ziik", BaseURL: d.ziik.URL, Email: ziikEmail, Password: ziikPassword, Threads: d.ziik.Conversations()},
	}
	if err := cfg.Validate(); err != nil {
		d.Close()
		return nil, err
	}
	d.Config = cfg
	return d, nil
}

// Connect points the emulators' webhooks at the gateway listening on addr.
func (d *World) Connect(addr string) {
	base := "http://" + addr + "/webhooks/"
	d.klink.SetWebhook(base+"klink", webhookSecret)
	d.aelyst.SetWebhook(base+"aelyst", webhookSecret)
}

// Trickle has an emulated person post somewhere every interval until ctx is
// done; 0: never.
func (d *World) Trickle(ctx context.Context, every time.Duration) {
	if every <= 0 {
		return
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	acts := []func(*rand.Rand){d.klink.DemoActivity, d.virola.DemoActivity, d.aelyst.DemoActivity, d.ziik.DemoActivity}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			acts[rng.IntN(len(acts))](rng)
		}
	}
}

// Close stops the emulators.
func (d *World) Close() {
	if d.klink != nil {
		d.klink.Close()
	}
	if d.virola != nil {
		d.virola.Close()
	}
	if d.aelyst != nil {
		d.aelyst.Close()
	}
	if d.ziik != nil {
		d.ziik.Close()
	}
}
