package demo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/commentgraph/commentgraph/demo"
	"github.com/commentgraph/commentgraph/gateway"
)

// TestDemoServesEveryProvider: the gateway on the demo world lists each
// provider's threads, as the README's walk-through step 1 shows.
func TestDemoServesEveryProvider(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	w, err := demo.Start(log)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Config.Listen = "127.0.0.1:0"
	app, err := gateway.New(w.Config, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Open(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = app.Close(ctx)
	}()
	w.Connect(app.Addr())

	body, _ := json.Marshal(map[string]string{"query": `{ providers { id healthy threads(first: 3) { nodes { id } } } }`})
	resp, err := http.Post("http://"+app.Addr()+"/query", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Data struct {
			Providers []struct {
				ID      string
				Healthy bool
				Threads struct{ Nodes []struct{ ID string } }
			}
		}
		Errors []any
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if len(out.Errors) > 0 {
		t.Fatalf("errors: %v", out.Errors)
	}
	if len(out.Data.Providers) != 4 {
		t.Fatalf("providers: %+v", out.Data.Providers)
	}
	for _, p := range out.Data.Providers {
		if len(p.Threads.Nodes) == 0 {
			t.Errorf("%s lists no threads", p.ID)
		}
	}
}
