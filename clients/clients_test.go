package clients

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/config"
	"github.com/commentgraph/commentgraph/demo"
	"github.com/commentgraph/commentgraph/gateway"
)

// apiKey is the gateway's only key in these tests: every client presents it
// the way it presents credentials (a header, connection_init's payload).
const apiKey = "clients-test-api-key-0123456789"

// Each reference client runs a query, subscribes to new comments of a
// thread, posts comments (through the client when it can post) until one
// arrives on the subscription, then closes.
func TestReferenceClients(t *testing.T) {
	node := mustInstallClients(t)
	url := mustStartGateway(t)
	for _, c := range []struct {
		name   string
		script string
		args   []string
		// steps are the script's "ok <step>" lines, in order.
		steps []string
	}{
		{name: "graphql-ws", script: "graphql-ws.mjs"},
		{name: "subscriptions-transport-ws", script: "subscriptions-transport-ws.mjs"},
		{name: "graphql-sse distinct", script: "graphql-sse.mjs", args: []string{"distinct"}},
		{name: "graphql-sse single", script: "graphql-sse.mjs", args: []string{"single"}},
		{name: "eventsource", script: "eventsource.mjs", steps: []string{"query", "subscription", "closed", "resumed"}},
		{name: "apollo", script: "apollo.mjs"},
		{name: "urql", script: "urql.mjs"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			out, err := runNode(t, node, c.script, append([]string{url}, c.args...)...)
			t.Logf("node %s:\n%s", c.script, out)
			if err != nil {
				t.Fatalf("node %s: %v", c.script, err)
			}
			steps := c.steps
			if steps == nil {
				steps = []string{"query", "subscription", "closed"}
			}
			var got []string
			for _, m := range regexp.MustCompile(`(?m)^ok (\S+)`).FindAllStringSubmatch(out, -1) {
				got = append(got, m[1])
			}
			if strings.Join(got, " ") != strings.Join(steps, " ") || !strings.Contains(out, "PASS "+c.name) {
				t.Errorf("steps %v, want %v then PASS %s", got, steps, c.name)
			}
		})
	}
}

// npm graphql-http's server audits pass with no warning and no error.
func TestGraphQLOverHTTPAudit(t *testing.T) {
	node := mustInstallClients(t)
	url := mustStartGateway(t)
	out, err := runNode(t, node, "audit.mjs", url)
	summary := regexp.MustCompile(`(?m)^graphql-http audits: .*$`).FindString(out)
	t.Log(summary)
	if err != nil || summary == "" || !strings.Contains(summary, " 0 warnings, 0 errors") {
		t.Fatalf("node audit.mjs: %v\n%s", err, out)
	}
}

// mustStartGateway runs the real gateway in demo mode on 127.0.0.1:0, with
// one API key, until the test ends, and returns its /query URL.
func mustStartGateway(t *testing.T) string {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	world, err := demo.Start(log)
	if err != nil {
		t.Fatalf("demo: %v", err)
	}
	t.Cleanup(world.Close)
	cfg := world.Config
	cfg.Listen = "127.0.0.1:0"
	cfg.Auth.APIKeys = config.Keys(apiKey)
	app, err := gateway.New(cfg, log)
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	if err := app.Open(); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := app.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	world.Connect(app.Addr())
	return "http://" + app.Addr() + "/query"
}

// runNode runs one script with a deadline; its output is stdout and stderr.
func runNode(t *testing.T, node, script string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), "COMMENTGRAPH_API_KEY="+apiKey)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		err = ctx.Err()
	}
	return out.String(), err
}

// mustInstallClients finds node 20 or later and installs the clients from
// package-lock.json (npm ci) unless node_modules already holds them; it
// returns node's path. Without node or npm, or without the npm registry,
// the test skips, except under CI=true, where it fails.
func mustInstallClients(t *testing.T) string {
	t.Helper()
	unavailable := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format+" (skipped outside CI)", args...)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		unavailable("the reference clients need node 20 or later on PATH")
	}
	v, err := exec.Command(node, "--version").Output()
	if major, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimSpace(string(v)), "v"), "."); err != nil || atoi(major) < 20 {
		unavailable("the reference clients need node 20 or later; %s is %q", node, bytes.TrimSpace(v))
	}
	if installed(t) {
		return node
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		unavailable("the reference clients are not installed and npm is not on PATH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--prefer-offline", "--no-audit", "--no-fund")
	out, err := cmd.CombinedOutput()
	if err != nil {
		unavailable("npm ci in clients/: %v\n%s", err, out)
	}
	// A go.mod makes node_modules a module of its own, which go vet ./... and
	// go test ./... then skip, whatever Go files a package ships.
	if err := os.WriteFile(filepath.Join("node_modules", "go.mod"), []byte("module node_modules\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return node
}

// installed says node_modules holds what package-lock.json names: npm ci
// writes node_modules/.package-lock.json, after the lock file it read.
func installed(t *testing.T) bool {
	lock, err := os.Stat("package-lock.json")
	if err != nil {
		t.Fatalf("clients/package-lock.json: %v", err)
	}
	hidden, err := os.Stat(filepath.Join("node_modules", ".package-lock.json"))
	return err == nil && !hidden.ModTime().Before(lock.ModTime())
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
