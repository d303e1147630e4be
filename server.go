// Command commentgraph is a GraphQL gateway over K-LINK, Virola, Aelyst and
// Ziik comments. With no config file it runs in demo mode on in-process
// emulators of all four; see README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/commentgraph/commentgraph/config"
	"github.com/commentgraph/commentgraph/demo"
	"github.com/commentgraph/commentgraph/gateway"
	"github.com/commentgraph/commentgraph/internal/gctuner"
	"github.com/commentgraph/commentgraph/internal/telemetry"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "commentgraph:", err)
		os.Exit(1)
	}
}

// run parses flags, loads the config (or starts demo mode), serves until ctx
// is done, then shuts down gracefully: in-flight requests get shutdownTimeout
// to finish.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("commentgraph", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", getenv("COMMENTGRAPH_CONFIG"), "config file (YAML); env COMMENTGRAPH_CONFIG; none: demo mode on in-process emulators")
	listen := fs.String("listen", getenv("COMMENTGRAPH_LISTEN"), "listen address, overriding the config's (e.g. 127.0.0.1:0); env COMMENTGRAPH_LISTEN")
	logLevel := fs.String("log-level", envOr(getenv, "COMMENTGRAPH_LOG_LEVEL", "info"), "debug, info, warn or error; env COMMENTGRAPH_LOG_LEVEL")
	logJSON := fs.Bool("log-json", getenv("COMMENTGRAPH_LOG_JSON") == "true", "log as JSON lines instead of text (durations in seconds); env COMMENTGRAPH_LOG_JSON=true")
	accessLog := fs.Bool("access-log", getenv("COMMENTGRAPH_ACCESS_LOG") != "false", "log a line per request at INFO: method, route, status, duration, bytes, request id; false: at DEBUG; env COMMENTGRAPH_ACCESS_LOG=false")
	shutdownTimeout := fs.Duration("shutdown-timeout", 20*time.Second, "how long shutdown may take on SIGTERM, the drain delay included: in-flight requests get what is left")
	drainDelay := fs.Duration("drain-delay", 0, "on SIGTERM, how long /readyz answers 503 while requests are still served, before the listener closes (e.g. 5s behind a load balancer); 0: none")
	demoInterval := fs.Duration("demo-interval", 4*time.Second, "demo mode: how often an emulated person posts a comment (0: never)")
	gcHeapTarget := fs.Int("gc-heap-target", envInt(getenv, "COMMENTGRAPH_GC_HEAP_TARGET", 64), "MiB the heap may grow to before a garbage collection while the live heap is smaller (GOGC rises up to 800 for a small live heap, never below 100); 0: Go's plain GOGC; ignored when GOGC is set; env COMMENTGRAPH_GC_HEAP_TARGET")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: commentgraph [flags]\n\nWith no -config, runs in demo mode: emulators of K-LINK, Virola, Aelyst and Ziik with seeded data, GraphiQL at /.\n\nTracing: set OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_TRACES_EXPORTER=otlp) to export OpenTelemetry traces over OTLP; the other OTEL_* variables apply. Off by default.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("-log-level: %q is not debug, info, warn or error", *logLevel)
	}
	hopts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if *logJSON {
		hopts.ReplaceAttr = telemetry.DurationsInSeconds // not integer nanoseconds
		h = slog.NewJSONHandler(stderr, hopts)
	} else {
		h = slog.NewTextHandler(stderr, hopts)
	}
	// Every line logged with a request's context carries its requestId (and
	// traceId while tracing).
	log := slog.New(telemetry.LogHandler(h))
	// go-redis and the OpenTelemetry SDK would write plain-text lines of
	// their own to stderr, in the middle of JSON ones.
	redis.SetLogger(telemetry.RedisLogger{Log: log})
	telemetry.RouteOTelLogs(log)
	// The gateway starts tracing from the same variables; a setting it
	// cannot use is refused here, before anything starts.
	if _, err := telemetry.SettingsFromEnv(getenv); err != nil {
		return err
	}

	switch {
	case getenv("GOGC") != "":
		log.Info("GOGC is set: garbage collection pacing left to it", "GOGC", getenv("GOGC"))
	case *gcHeapTarget > 0:
		// Query responses are short-lived garbage over a small live heap:
		// pacing by heap size instead of GOGC=100 spends far less CPU marking.
		tuner := gctuner.Start(gctuner.Options{HeapTarget: uint64(*gcHeapTarget) << 20})
		defer tuner.Stop()
	case *gcHeapTarget < 0:
		return fmt.Errorf("-gc-heap-target (or COMMENTGRAPH_GC_HEAP_TARGET): want a whole number of MiB, 0 or more (0: off)")
	}

	var cfg *config.Config
	var world *demo.World
	if *configPath != "" {
		var err error
		if cfg, err = config.Load(*configPath); err != nil {
			return err
		}
	} else {
		var err error
		if world, err = demo.Start(log); err != nil {
			return fmt.Errorf("demo mode: %w", err)
		}
		defer world.Close()
		cfg = world.Config
		log.Info("demo mode: no -config given; serving in-process emulators of every provider")
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	app, err := gateway.New(cfg, log)
	if err != nil {
		return err
	}
	app.SetAccessLog(*accessLog)
	if err := app.Open(); err != nil {
		_ = app.Close(context.Background())
		return err
	}
	if world != nil {
		world.Connect(app.Addr())
		go world.Trickle(ctx, *demoInterval)
		log.Info("demo mode: open GraphiQL", "url", "http://"+displayAddr(app.Addr())+"/")
	}
	<-ctx.Done()
	log.Info("shutting down: letting in-flight requests finish", "timeout", *shutdownTimeout, "drainDelay", *drainDelay)
	sctx, cancel := context.WithTimeout(context.Background(), *shutdownTimeout)
	defer cancel()
	app.Drain()
	if *drainDelay > 0 {
		t := time.NewTimer(*drainDelay)
		select {
		case <-t.C:
		case <-sctx.Done():
			t.Stop()
		}
	}
	return app.Close(sctx)
}

func envInt(getenv func(string) string, k string, def int) int {
	if v := getenv(k); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
		return -1 // refused below with the flag's name
	}
	return def
}

func envOr(getenv func(string) string, k, def string) string {
	if v := getenv(k); v != "" {
		return v
	}
	return def
}

func displayAddr(addr string) string {
	if strings.HasPrefix(addr, "[::]:") || strings.HasPrefix(addr, "0.0.0.0:") {
		return "localhost" + addr[strings.LastIndex(addr, ":"):]
	}
	return addr
}
