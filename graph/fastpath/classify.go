package fastpath

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// fieldKind is how the fast path treats one field of a type it writes.
type fieldKind uint8

const (
	// plain: the model holds the value (a struct field or a method). gqlgen
	// binds a field that way only when the type's resolver interface has no
	// method for it, so the fast path accepts a plain field only then.
	plain fieldKind = iota + 1
	// resolved: the fast path calls the field's resolver, as the generated
	// executor does; accepted only when the resolver interface has it.
	resolved
	// declined: the fast path does not write the field; an operation that
	// selects it goes to the generated executor.
	declined
)

// fieldDesc is what a type's table says of one field, its writer aside.
type fieldDesc struct {
	kind fieldKind
	// typ is the schema type the writer writes ("String!", "[Mention!]!"):
	// a field whose type changes is no longer accepted.
	typ string
	// args are the arguments the writer reads; a field whose arguments
	// differ in the schema is no longer accepted.
	args []string
	// inPage marks a resolver the fast path calls only inside a comment
	// connection: the connection's look-ahead has filled its loader, so
	// calling it once per comment, one after another, waits for nothing.
	// Anywhere else each call would wait out a loader batch in turn.
	inPage bool
	// why says, for a declined field, why the generated executor runs it.
	why string
}

// table is one type's fields as the fast path writes them.
type table interface {
	typeName() string
	describe(field string) (fieldDesc, bool)
	fieldNames() []string
}

// typeInfo is one object type the fast path writes, as derived from the
// schema at start-up.
type typeInfo struct {
	// satisfies is the type, its interfaces and its unions: the type
	// conditions a fragment may name to apply to it (graphql.CollectFields).
	satisfies []string
	// fields are the fields it accepts, by name.
	fields map[string]acceptedField
}

type acceptedField struct {
	// child is the named type of a field with a selection set; "" for a leaf.
	child string
	// inPage: see fieldDesc.
	inPage bool
	// page: the field is a comment connection, whose resolver looks ahead
	// into the selection and fills the loaders for the users below it.
	page bool
}

// classify derives, from the schema and from which fields the resolver
// interfaces of root (graph.ResolverRoot) have methods for, the fields the
// fast path accepts: the fields of tables whose kind agrees with the schema.
// problems lists every disagreement and every field of a table's type the
// table does not classify; such a field is not accepted, so an operation
// selecting it runs on the generated executor.
func classify(schema *ast.Schema, root reflect.Type, tables []table) (types map[string]*typeInfo, possible map[string][]string, problems []string) {
	withResolver := resolverFields(root)
	types = map[string]*typeInfo{}
	for _, t := range tables {
		def := schema.Types[t.typeName()]
		if def == nil || def.Kind != ast.Object {
			problems = append(problems, fmt.Sprintf("%s: not an object type of the schema", t.typeName()))
			continue
		}
		ti := &typeInfo{satisfies: satisfies(schema, def), fields: map[string]acceptedField{}}
		for _, f := range def.Fields {
			d, ok := t.describe(f.Name)
			if !ok {
				problems = append(problems, fmt.Sprintf("%s.%s: not classified (plain, resolved or declined)", def.Name, f.Name))
				continue
			}
			if d.kind == declined {
				continue
			}
			hasResolver := withResolver[def.Name][goName(f.Name)]
			switch {
			case d.kind == plain && hasResolver:
				problems = append(problems, fmt.Sprintf("%s.%s: has a resolver, but the fast path reads it from the model", def.Name, f.Name))
				continue
			case d.kind == resolved && !hasResolver:
				problems = append(problems, fmt.Sprintf("%s.%s: the fast path calls a resolver the schema does not have", def.Name, f.Name))
				continue
			case d.typ != f.Type.String():
				problems = append(problems, fmt.Sprintf("%s.%s: is %s, the fast path writes %s", def.Name, f.Name, f.Type.String(), d.typ))
				continue
			case !sameArgs(d.args, f.Arguments):
				problems = append(problems, fmt.Sprintf("%s.%s: takes %s, the fast path reads %v", def.Name, f.Name, argNames(f.Arguments), d.args))
				continue
			}
			a := acceptedField{inPage: d.inPage, page: f.Type.Name() == "CommentConnection"}
			if k := schema.Types[f.Type.Name()].Kind; k != ast.Scalar && k != ast.Enum {
				a.child = f.Type.Name()
			}
			ti.fields[f.Name] = a
		}
		for _, name := range t.fieldNames() {
			if def.Fields.ForName(name) == nil {
				problems = append(problems, fmt.Sprintf("%s.%s: classified, but not in the schema", def.Name, name))
			}
		}
		types[def.Name] = ti
	}

	// A field is accepted only if the fast path writes every type its
	// value can be.
	possible = map[string][]string{}
	for name, ti := range types {
		for fname, a := range ti.fields {
			if a.child == "" || types[a.child] != nil {
				continue
			}
			def := schema.Types[a.child]
			var ps []string
			for _, p := range schema.GetPossibleTypes(def) {
				ps = append(ps, p.Name)
			}
			if (def.Kind != ast.Interface && def.Kind != ast.Union) || slices.ContainsFunc(ps, func(p string) bool { return types[p] == nil }) {
				problems = append(problems, fmt.Sprintf("%s.%s: the fast path does not write every type of %s", name, fname, a.child))
				delete(ti.fields, fname)
				continue
			}
			possible[a.child] = ps
		}
	}
	slices.Sort(problems)
	return types, possible, problems
}

// resolverFields is, per GraphQL type, the fields its resolver interface has
// a method for: root's methods are one per type (Comment() CommentResolver),
// each interface's methods one per field (Sender), named as gqlgen names
// them, compared here case-insensitively.
func resolverFields(root reflect.Type) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for i := range root.NumMethod() {
		m := root.Method(i)
		if m.Type.NumIn() != 0 || m.Type.NumOut() != 1 || m.Type.Out(0).Kind() != reflect.Interface {
			continue
		}
		it := m.Type.Out(0)
		fields := map[string]bool{}
		for j := range it.NumMethod() {
			fields[strings.ToLower(it.Method(j).Name)] = true
		}
		out[m.Name] = fields
	}
	return out
}

// goName is a field's name as resolverFields keys it: gqlgen's Go name
// (avatarUrl → AvatarURL, user_id → UserID) lower-cased.
func goName(field string) string {
	return strings.ToLower(strings.ReplaceAll(field, "_", ""))
}

// satisfies is def's name, its interfaces and the unions it is a member of.
func satisfies(schema *ast.Schema, def *ast.Definition) []string {
	out := append([]string{def.Name}, def.Interfaces...)
	for _, t := range schema.Types {
		if t.Kind == ast.Union && slices.Contains(t.Types, def.Name) {
			out = append(out, t.Name)
		}
	}
	return out
}

func sameArgs(read []string, schema ast.ArgumentDefinitionList) bool {
	if len(read) != len(schema) {
		return false
	}
	for _, a := range schema {
		if !slices.Contains(read, a.Name) {
			return false
		}
	}
	return true
}

func argNames(l ast.ArgumentDefinitionList) []string {
	out := make([]string, len(l))
	for i, a := range l {
		out[i] = a.Name
	}
	return out
}
