package fastpath

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/commentgraph/commentgraph/graph/model"
)

// JSON the way gqlgen's marshallers write it, and arguments the way the
// generated executor coerces them.

// writeString writes s quoted the way gqlgen's MarshalString does (which
// escapes less than encoding/json), without its closure. It walks bytes, not
// runes: every byte it escapes is ASCII, and the bytes of a multi-byte or
// invalid sequence are all 0x80 or above, so the output is the same.
func writeString(w *bytes.Buffer, s string) {
	const hex = "0123456789ABCDEF"
	start := 0
	w.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '\\' && c != '"' {
			continue
		}
		w.WriteString(s[start:i])
		switch c {
		case '\t':
			w.WriteString(`\t`)
		case '\r':
			w.WriteString(`\r`)
		case '\n':
			w.WriteString(`\n`)
		case '\\':
			w.WriteString(`\\`)
		case '"':
			w.WriteString(`\"`)
		default:
			w.WriteString(`\u00`)
			w.WriteByte(hex[c>>4])
			w.WriteByte(hex[c&0xf])
		}
		start = i + 1
	}
	w.WriteString(s[start:])
	w.WriteByte('"')
}

func writeOptString(w *bytes.Buffer, s *string) {
	if s == nil {
		w.WriteString("null")
		return
	}
	writeString(w, *s)
}

func writeInt(w *bytes.Buffer, n int) {
	var b [20]byte
	w.Write(strconv.AppendInt(b[:0], int64(n), 10))
}

func writeOptInt(w *bytes.Buffer, n *int) {
	if n == nil {
		w.WriteString("null")
		return
	}
	writeInt(w, *n)
}

func writeBool(w io.Writer, b bool) {
	if b {
		io.WriteString(w, "true")
	} else {
		io.WriteString(w, "false")
	}
}

// writeTime writes t as gqlgen's MarshalTime does: RFC 3339 with
// nanoseconds, quoted by strconv.
func writeTime(w *bytes.Buffer, t time.Time) {
	var b [64]byte
	w.Write(strconv.AppendQuote(b[:0], t.Format(time.RFC3339Nano)))
}

// argReader reads a field's arguments as graphql.ProcessArgField does: an
// absent argument is the zero value, and an error carries the argument's
// path. After the first error it reads nothing.
type argReader struct {
	ctx context.Context
	raw map[string]any
	err error
}

func readArg[T any](r *argReader, name string, coerce func(context.Context, any) (T, error)) T {
	var zero T
	if r.err != nil {
		return zero
	}
	v, ok := r.raw[name]
	if !ok {
		return zero
	}
	t, err := coerce(graphql.WithPathContext(r.ctx, graphql.NewPathWithField(name)), v)
	if err != nil {
		r.err = err
		return zero
	}
	return t
}

func id(ctx context.Context, v any) (string, error) {
	s, err := graphql.UnmarshalID(v)
	return s, graphql.ErrorOnPath(ctx, err)
}

func str(ctx context.Context, v any) (string, error) {
	s, err := graphql.UnmarshalString(v)
	return s, graphql.ErrorOnPath(ctx, err)
}

// idList coerces [ID!]!, a single ID being a list of one.
func idList(ctx context.Context, v any) ([]string, error) {
	vs := graphql.CoerceList(v)
	out := make([]string, len(vs))
	for i, x := range vs {
		s, err := id(graphql.WithPathContext(ctx, graphql.NewPathWithIndex(i)), x)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

func optInt(ctx context.Context, v any) (*int, error) {
	if v == nil {
		return nil, nil
	}
	n, err := graphql.UnmarshalInt(v)
	return &n, graphql.ErrorOnPath(ctx, err)
}

func optString(ctx context.Context, v any) (*string, error) {
	if v == nil {
		return nil, nil
	}
	s, err := graphql.UnmarshalString(v)
	return &s, graphql.ErrorOnPath(ctx, err)
}

func threadKind(ctx context.Context, v any) (model.ThreadKind, error) {
	var k model.ThreadKind
	err := k.UnmarshalGQL(v)
	return k, graphql.ErrorOnPath(ctx, err)
}
