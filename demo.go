package main

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

// demoWorld is demo mode's upstreams: an in-process emulator of each provider,
// seeded with one company's people and conversations, with a trickle of new
// comments so subscriptions visibly work.
type demoWorld struct {
	cfg    *config.Config
	log    *slog.Logger
	klink  *klinktest.Server
	virola *virolatest.Server
	aelyst *aelysttest.Server
	ziik   *ziiktest.Server
}

// demoWebhookSecret signs the emulators' webhooks to this gateway. It is a
// demo value, never used outside demo mode.
const demoWebhookSecret = "demo-webhook-secret"

// The Ziik emulator's integration user, likewise demo-only.
const (
	demoZiikEmail    = "bot@ziik.test"
	demoZiikPassword = "demo-ziik-password"
)

func startDemo(log *slog.Logger) (*demoWorld, error) {
	d := &demoWorld{log: log}
	d.klink = klinktest.NewServer(klinktest.Options{})
	d.klink.SeedDemo()
	d.virola = virolatest.NewServer(virolatest.Options{})
	if err := d.virola.SeedDemo(); err != nil {
		d.Close()
		return nil, err
	}
	d.aelyst = aelysttest.NewServer(aelysttest.Options{})
	d.aelyst.SeedDemo()
	d.ziik = ziiktest.NewServer(ziiktest.Options{Email: demoZiikEmail, Password: demoZiikPassword})
	d.ziik.SeedDemo()

	cfg, err := config.Parse(nil, func(string) (string, bool) { return "", false })
	if err != nil {
		d.Close()
		return nil, err
	}
	cfg.Events.PollInterval = config.Duration(2 * time.Second)
	cfg.Providers = []config.Provider{
		{ID: "klink", Kind: "klink", BaseURL: d.klink.URL, Token: klinktest.DefaultToken, WebhookSecret: demoWebhookSecret, Threads: d.klink.Rooms()},
		{ID: "virola", Kind: "virola", BaseURL: d.virola.URL, Token: virolatest.DefaultToken},
		{ID: "aelyst", Kind: "aelyst", BaseURL: d.aelyst.URL, Token: aelysttest.DefaultToken, WebhookSecret: demoWebhookSecret, Threads: d.aelyst.Contacts()},
		{ID: "ziik", Kind: "ziik", BaseURL: d.ziik.URL, Email: demoZiikEmail, Password: demoZiikPassword, Threads: d.ziik.Conversations()},
	}
	if err := cfg.Validate(); err != nil {
		d.Close()
		return nil, err
	}
	d.cfg = cfg
	return d, nil
}

// connect points the emulators' webhooks at the running gateway.
func (d *demoWorld) connect(app *App) {
	base := "http://" + app.Addr() + "/webhooks/"
	d.klink.SetWebhook(base+"klink", demoWebhookSecret)
	d.aelyst.SetWebhook(base+"aelyst", demoWebhookSecret)
}

// trickle has an emulated person post somewhere every interval until ctx is done.
func (d *demoWorld) trickle(ctx context.Context, every time.Duration) {
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

func (d *demoWorld) Close() {
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
