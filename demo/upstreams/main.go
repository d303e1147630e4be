// Command upstreams runs demo mode's emulators on their own, for several
// gateway instances to share (make cluster): it writes a gateway config
// naming them and a Redis, points the emulators' webhooks at one gateway,
// and serves until interrupted.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/commentgraph/commentgraph/demo"
)

func main() {
	out := flag.String("out", "cluster.yaml", "where to write the gateway config")
	redisURL := flag.String("redis", "redis://127.0.0.1:6390/0", "the Redis every gateway instance shares")
	webhooks := flag.String("webhooks", "127.0.0.1:8081", "the gateway instance the emulators send webhooks to")
	interval := flag.Duration("interval", 4*time.Second, "how often an emulated person posts a comment (0: never)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(log, *out, *redisURL, *webhooks, *interval); err != nil {
		fmt.Fprintln(os.Stderr, "upstreams:", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger, out, redisURL, webhooks string, interval time.Duration) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	w, err := demo.Start(log)
	if err != nil {
		return err
	}
	defer w.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "redis:\n  url: %q\nevents:\n  pollInterval: %q\nproviders:\n", redisURL, w.Config.Events.PollInterval.D().String())
	for _, p := range w.Config.Providers {
		fmt.Fprintf(&b, "  - id: %q\n    kind: %q\n    baseURL: %q\n", p.ID, p.Kind, p.BaseURL)
		for _, kv := range [][2]string{{"token", p.Token}, {"email", p.Email}, {"password", p.Password}, {"webhookSecret", p.WebhookSecret}} {
			if kv[1] != "" {
				fmt.Fprintf(&b, "    %s: %q\n", kv[0], kv[1])
			}
		}
		if len(p.Threads) > 0 {
			fmt.Fprintf(&b, "    threads: [%s]\n", quoteAll(p.Threads))
		}
	}
	if err := os.WriteFile(out, []byte(b.String()), 0o600); err != nil {
		return err
	}
	w.Connect(webhooks)
	go w.Trickle(ctx, interval)
	log.Info("emulators up; gateway config written", "config", out, "webhooks", webhooks)
	<-ctx.Done()
	return nil
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
