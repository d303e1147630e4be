package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/commentgraph/commentgraph/internal/logtest"
)

func TestRunRefusesBadConfigInOneLine(t *testing.T) {
	path := t.TempDir() + "/bad.yaml"
	if err := writeFile(path, "providers:\n  - id: a\n    kind: slack\n    baseURL: https://x.test\n    token: kpt_secret_value\n"); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"-config", path}, func(string) string { return "" }, &stderr)
	if err == nil {
		t.Fatal("bad config accepted")
	}
	if msg := err.Error(); !strings.Contains(msg, "providers[0].kind") || strings.Contains(msg, "\n") || strings.Contains(msg, "kpt_secret_value") {
		t.Errorf("refusal = %q", msg)
	}
}

func TestHelpListsEveryFlag(t *testing.T) {
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"-h"}, func(string) string { return "" }, &stderr)
	if err == nil || !strings.Contains(err.Error(), "help") {
		t.Fatalf("-h: %v", err)
	}
	for _, flag := range []string{"-config", "-listen", "-log-level", "-shutdown-timeout"} {
		if !strings.Contains(stderr.String(), flag) {
			t.Errorf("-h output lacks %s:\n%s", flag, stderr.String())
		}
	}
}

func writeFile(path, content string) error {
	return os.WriteFile(path, []byte(content), 0o600)
}

type logBuffer = logtest.Buffer
