package server

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"podium/game"
)

// openapiMethods are the keys of an OpenAPI path item that name operations.
var openapiMethods = map[string]bool{
	"get": true, "put": true, "post": true, "delete": true,
	"options": true, "head": true, "patch": true, "trace": true,
}

// loadOpenAPI parses the embedded document, exactly what GET
// /api/openapi.json serves.
func loadOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(openapiJSON, &doc); err != nil {
		t.Fatalf("server/openapi.json does not parse: %v", err)
	}
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.0.") {
		t.Fatalf("server/openapi.json: openapi is %q, want 3.0.x", v)
	}
	return doc
}

// openapiRouteTable builds the route table without an engine: routes() only takes
// method values and builds the metrics, static and WebSocket handlers, none
// of which touches the engine until a request arrives.
func openapiRouteTable() []route {
	s := &Server{cfg: Config{AdminToken: "openapi-test-token-0123456789"}}
	s.cfg.setDefaults()
	s.log = s.cfg.Logger
	return s.routes()
}

// openapiPath turns a Fiber path (/api/v1/reps/:id) into its OpenAPI form
// (/api/v1/reps/{id}).
func openapiPath(fiberPath string) string {
	segs := strings.Split(fiberPath, "/")
	for i, s := range segs {
		if name, ok := strings.CutPrefix(s, ":"); ok {
			segs[i] = "{" + strings.TrimSuffix(name, "?") + "}"
		}
	}
	return strings.Join(segs, "/")
}

// openapiUndocumented reports whether a route is deliberately left out of the
// document: the single-page app's files.
func openapiUndocumented(r route) bool { return r.Path == "/" || r.Path == "/*" }

func TestOpenAPICoversRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	paths, ok := doc["paths"].(map[string]any)
	if !ok {
		t.Fatal("server/openapi.json has no paths object")
	}
	params := openapiComponents(doc, "parameters")

	want := map[string]bool{} // "get /api/v1/reps/{id}/ledger"
	for _, r := range openapiRouteTable() {
		if openapiUndocumented(r) {
			continue
		}
		p, m := openapiPath(r.Path), strings.ToLower(r.Method)
		want[m+" "+p] = true
		item, ok := paths[p].(map[string]any)
		if !ok {
			t.Errorf("route %s %s is missing from server/openapi.json: add the path %q", r.Method, r.Path, p)
			continue
		}
		if _, ok := item[m].(map[string]any); !ok {
			t.Errorf("route %s %s: the path %q in server/openapi.json has no %q operation", r.Method, r.Path, p, m)
		}
	}

	ids := map[string]string{}
	for _, p := range openapiKeys(paths) {
		item, _ := paths[p].(map[string]any)
		for _, m := range openapiKeys(item) {
			if !openapiMethods[m] {
				continue
			}
			where := strings.ToUpper(m) + " " + p
			if !want[m+" "+p] {
				t.Errorf("server/openapi.json documents %s, which is not in the route table of server/routes.go (stale docs?)", where)
			}
			op, ok := item[m].(map[string]any)
			if !ok {
				t.Errorf("%s: the operation is not an object", where)
				continue
			}
			id, _ := op["operationId"].(string)
			if strings.TrimSpace(id) == "" {
				t.Errorf("%s has no operationId", where)
			} else if prev, dup := ids[id]; dup {
				t.Errorf("%s and %s share the operationId %q", prev, where, id)
			} else {
				ids[id] = where
			}
			if s, _ := op["summary"].(string); strings.TrimSpace(s) == "" {
				t.Errorf("%s has no summary", where)
			}
			if r, _ := op["responses"].(map[string]any); len(r) == 0 {
				t.Errorf("%s documents no responses", where)
			}
			openapiCheckPathParams(t, where, p, item, op, params)
		}
	}
}

// openapiCheckPathParams fails unless every {name} of the path is declared as a path
// parameter of the operation (or of its path item), and nothing else is.
func openapiCheckPathParams(t *testing.T, where, path string, item, op, components map[string]any) {
	t.Helper()
	declared := map[string]bool{}
	for _, list := range []any{item["parameters"], op["parameters"]} {
		ps, _ := list.([]any)
		for _, p := range ps {
			pm, _ := p.(map[string]any)
			if ref, ok := pm["$ref"].(string); ok {
				pm, _ = components[strings.TrimPrefix(ref, "#/components/parameters/")].(map[string]any)
				if pm == nil {
					t.Errorf("%s: parameter %s does not resolve", where, ref)
					continue
				}
			}
			if pm["in"] == "path" {
				name, _ := pm["name"].(string)
				declared[name] = true
				if pm["required"] != true {
					t.Errorf("%s: path parameter %q must be required: true", where, name)
				}
			}
		}
	}
	inPath := map[string]bool{}
	for _, seg := range strings.Split(path, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			name := seg[1 : len(seg)-1]
			inPath[name] = true
			if !declared[name] {
				t.Errorf("%s: the path parameter {%s} is not declared", where, name)
			}
		}
	}
	for name := range declared {
		if !inPath[name] {
			t.Errorf("%s declares a path parameter %q that is not in the path", where, name)
		}
	}
}

// openapiMoneyProperties are the property names that carry money or a share of it;
// in JSON they are decimal strings, never numbers (DESIGN.md, invariant 4).
var openapiMoneyProperties = map[string]bool{"amount": true, "value": true, "revenue": true, "share": true}

func TestOpenAPIMoneyIsString(t *testing.T) {
	doc := loadOpenAPI(t)
	schemas := openapiComponents(doc, "schemas")
	seen := map[string]int{}
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch v := v.(type) {
		case map[string]any:
			if props, ok := v["properties"].(map[string]any); ok {
				for _, name := range openapiKeys(props) {
					if !openapiMoneyProperties[name] {
						continue
					}
					seen[name]++
					where := at + "/properties/" + name
					if typ := openapiSchemaType(props[name], schemas); typ != "string" {
						t.Errorf("%s: money property %q has type %q; amounts, values, revenue and shares are decimal strings", where, name, typ)
					}
				}
			}
			for _, k := range openapiKeys(v) {
				walk(v[k], at+"/"+k)
			}
		case []any:
			for i, e := range v {
				walk(e, fmt.Sprintf("%s/%d", at, i))
			}
		}
	}
	walk(doc, "#")
	for name := range openapiMoneyProperties {
		if seen[name] == 0 {
			t.Errorf("no schema property named %q found: the walk no longer sees the money fields it guards", name)
		}
	}
}

// openapiSchemaType returns a property schema's type, following a $ref to a
// component schema and a single-element allOf wrapper.
func openapiSchemaType(v any, schemas map[string]any) string {
	for range 10 {
		m, _ := v.(map[string]any)
		if m == nil {
			return ""
		}
		if ref, ok := m["$ref"].(string); ok {
			v = schemas[strings.TrimPrefix(ref, "#/components/schemas/")]
			continue
		}
		if all, ok := m["allOf"].([]any); ok && len(all) == 1 && m["type"] == nil {
			v = all[0]
			continue
		}
		typ, _ := m["type"].(string)
		return typ
	}
	return ""
}

// TestOpenAPIErrorCodesMatchStatusOf keeps the documented error codes in step
// with statusOf, the one place that maps a code to its HTTP status.
func TestOpenAPIErrorCodesMatchStatusOf(t *testing.T) {
	doc := loadOpenAPI(t)
	errSchema, _ := openapiComponents(doc, "schemas")["Error"].(map[string]any)
	if errSchema == nil {
		t.Fatal("server/openapi.json has no Error schema")
	}
	documented, _ := errSchema["x-error-codes"].(map[string]any)
	desc, _ := errSchema["description"].(string)
	codes := []string{
		game.EInvalid, game.EMissingField, game.ENotFound, game.EUnknownRep, game.EConflict,
		game.EIdempotency, game.ECurrency, game.EUnauthorized, game.EForbidden, game.ETooLarge,
		game.ERateLimited, game.EUnavailable, game.EInternal, codeBadJSON, ECSRF,
	}
	for _, code := range codes {
		got, ok := documented[code].(float64)
		if !ok {
			t.Errorf("error code %q is not listed in Error.x-error-codes", code)
			continue
		}
		if want := statusOf(code); int(got) != want {
			t.Errorf("error code %q is documented with status %d; statusOf maps it to %d", code, int(got), want)
		}
		if row := fmt.Sprintf("| `%s` | %d |", code, statusOf(code)); !strings.Contains(desc, row) {
			t.Errorf("the Error description's table lacks the row %q", row)
		}
	}
	if len(documented) != len(codes) {
		t.Errorf("Error.x-error-codes lists %d codes, the server has %d", len(documented), len(codes))
	}
}

func openapiComponents(doc map[string]any, kind string) map[string]any {
	c, _ := doc["components"].(map[string]any)
	m, _ := c[kind].(map[string]any)
	return m
}

func openapiKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
