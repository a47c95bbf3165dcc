package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"podium/engine"
	"podium/game"
)

// decode parses a JSON body into v with errors that name the field.
func decode(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return game.Errorf(codeBadJSON, "", "the request body is empty; send a JSON object")
	}
	if err := checkDepth(body, maxJSONDepth); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	// A misspelt optional field ("curency") must not be silently ignored.
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return game.Errorf(codeBadJSON, "", "the body holds more than one JSON value")
	}
	return nil
}

// maxJSONDepth bounds the nesting of a request body: no Podium input nests
// deeper than a few levels, and a deep one costs the decoder stack and time.
const maxJSONDepth = 32

// checkDepth refuses a body nested deeper than max arrays and objects,
// before it is decoded. It only counts brackets outside strings; the decoder
// reports any other syntax error.
func checkDepth(body []byte, max int) error {
	depth, inString, escaped := 0, false, false
	for _, b := range body {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
			}
		case b == '"':
			inString = true
		case b == '{' || b == '[':
			if depth++; depth > max {
				return game.Errorf(codeBadJSON, "", "the body nests deeper than %d levels", max)
			}
		case b == '}' || b == ']':
			depth--
		}
	}
	return nil
}

func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		want := te.Type.String()
		if want == "string" {
			want = `a string (amounts and shares are decimal strings such as "1250.00")`
		}
		return game.Errorf(codeBadJSON, te.Field, "%s must be %s, not a JSON %s", fieldName(te.Field), want, te.Value)
	case errors.As(err, &se):
		return game.Errorf(codeBadJSON, "", "the body is not valid JSON (at byte %d)", se.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return game.Errorf(codeBadJSON, name, "unknown field %q; check its spelling against the API document", name)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return game.Errorf(codeBadJSON, "", "the body is cut short: it is not complete JSON")
	}
	return game.Errorf(codeBadJSON, "", "the body is not valid JSON: %v", err)
}

func fieldName(f string) string {
	if f == "" {
		return "the body"
	}
	return f
}

func idParam(c *fiber.Ctx, name string) (int64, error) {
	id, err := strconv.ParseInt(c.Params(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, game.Errorf(game.EInvalid, name, "%s must be a positive integer id", name)
	}
	return id, nil
}

func intQuery(c *fiber.Ctx, name string, def, min, max int) (int, error) {
	v := c.Query(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		return 0, game.Errorf(game.EInvalid, name, "%s must be a whole number from %d to %d", name, min, max)
	}
	return n, nil
}

// result writes an engine ingest result: the stored JSON answer as is.
func result(c *fiber.Ctx, r engine.Result) error {
	if r.Replayed {
		c.Set("Idempotent-Replayed", "true")
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Status(r.Status).Send(r.Body)
}

func idempotencyKey(c *fiber.Ctx) string { return strings.Clone(c.Get("Idempotency-Key")) }

func (s *Server) healthz(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) }

func (s *Server) readyz(c *fiber.Ctx) error {
	if err := s.e.Ready(c.UserContext()); err != nil {
		return c.Status(fiber.StatusServiceUnavailable).JSON(errorBody{Code: game.EUnavailable, Message: err.Error()})
	}
	return c.JSON(fiber.Map{"status": "ready"})
}

func (s *Server) metrics() fiber.Handler {
	return adaptor.HTTPHandler(promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{}))
}

// ---- teams and reps ----

type teamInput struct {
	Name     *string `json:"name"`
	Active   *bool   `json:"active"`
	ParentID *int64  `json:"parent_id"` // 0 for none
}

func (s *Server) listTeams(c *fiber.Ctx) error {
	ts, err := s.e.Teams(c.UserContext())
	if err != nil {
		return err
	}
	if ts == nil {
		ts = []game.Team{}
	}
	return c.JSON(fiber.Map{"teams": ts})
}

func (s *Server) createTeam(c *fiber.Ctx) error {
	var in teamInput
	if err := decode(c.Body(), &in); err != nil {
		return err
	}
	if in.Name == nil {
		return game.Errorf(game.EMissingField, "name", "name is required")
	}
	t := game.Team{Name: strings.TrimSpace(*in.Name)}
	if in.ParentID != nil {
		t.ParentID = *in.ParentID
	}
	t, err := s.e.CreateTeam(c.UserContext(), t, principalOf(c).Actor())
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(t)
}

func (s *Server) updateTeam(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in teamInput
	if err := decode(c.Body(), &in); err != nil {
		return err
	}
	t, ok := s.e.Team(id)
	if !ok {
		return game.Errorf(game.ENotFound, "id", "no team %d", id)
	}
	if in.Name != nil {
		t.Name = strings.TrimSpace(*in.Name)
	}
	if in.Active != nil {
		t.Active = *in.Active
	}
	if in.ParentID != nil {
		t.ParentID = *in.ParentID
	}
	t, err = s.e.UpdateTeam(c.UserContext(), t, principalOf(c).Actor())
	if err != nil {
		return err
	}
	return c.JSON(t)
}

type repInput struct {
	Name   *string `json:"name"`
	Email  *string `json:"email"`
	TeamID *int64  `json:"team_id"`
	Active *bool   `json:"active"`
}

func (s *Server) listReps(c *fiber.Ctx) error {
	rs, err := s.e.Reps(c.UserContext())
	if err != nil {
		return err
	}
	if rs == nil {
		rs = []game.Rep{}
	}
	return c.JSON(fiber.Map{"reps": rs})
}

func (in repInput) apply(r *game.Rep) {
	if in.Name != nil {
		r.Name = strings.TrimSpace(*in.Name)
	}
	if in.Email != nil {
		r.Email = strings.TrimSpace(*in.Email)
	}
	if in.TeamID != nil {
		r.TeamID = *in.TeamID
	}
	if in.Active != nil {
		r.Active = *in.Active
	}
}

func (s *Server) createRep(c *fiber.Ctx) error {
	var in repInput
	if err := decode(c.Body(), &in); err != nil {
		return err
	}
	if in.Name == nil {
		return game.Errorf(game.EMissingField, "name", "name is required")
	}
	var r game.Rep
	in.apply(&r)
	r, err := s.e.CreateRep(c.UserContext(), r, principalOf(c).Actor())
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(r)
}

func (s *Server) updateRep(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in repInput
	if err := decode(c.Body(), &in); err != nil {
		return err
	}
	r, ok := s.e.Rep(id)
	if !ok {
		return game.Errorf(game.ENotFound, "id", "no rep %d", id)
	}
	in.apply(&r)
	r, err = s.e.UpdateRep(c.UserContext(), r, principalOf(c).Actor())
	if err != nil {
		return err
	}
	return c.JSON(r)
}

func (s *Server) repLedger(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	limit, err := intQuery(c, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	rows, err := s.e.Ledger(c.UserContext(), id, limit)
	if err != nil {
		return err
	}
	if rows == nil {
		rows = []engine.LedgerRow{}
	}
	return c.JSON(fiber.Map{"rep_id": id, "ledger": rows})
}

// ---- ingest ----

func (s *Server) postDeal(c *fiber.Ctx) error {
	var in game.DealInput
	if err := decode(c.Body(), &in); err != nil {
		return err
	}
	r, err := s.e.IngestDeal(c.UserContext(), in, idempotencyKey(c))
	if err != nil {
		return err
	}
	return result(c, r)
}

func (s *Server) getDeal(c *fiber.Ctx) error {
	source, err1 := url.PathUnescape(c.Params("source"))
	ext, err2 := url.PathUnescape(c.Params("external_id"))
	if err1 != nil || err2 != nil {
		return game.Errorf(game.EInvalid, "external_id", "the deal's source and external id must be URL-encoded")
	}
	d, err := s.e.Deal(c.UserContext(), source, ext)
	if err != nil {
		return err
	}
	return c.JSON(d)
}

func (s *Server) postActivity(c *fiber.Ctx) error {
	var in game.ActivityInput
	if err := decode(c.Body(), &in); err != nil {
		return err
	}
	r, err := s.e.IngestActivity(c.UserContext(), in, idempotencyKey(c))
	if err != nil {
		return err
	}
	return result(c, r)
}

// postBatch takes a JSON array of items, {"items": [...]}, or NDJSON (one item
// per line) when the content type is application/x-ndjson.
func (s *Server) postBatch(c *fiber.Ctx) error {
	body := c.Body()
	var items []engine.BatchItem
	if strings.HasPrefix(c.Get(fiber.HeaderContentType), "application/x-ndjson") {
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(make([]byte, 64<<10), s.cfg.BodyLimit)
		line := 0
		for sc.Scan() {
			line++
			b := bytes.TrimSpace(sc.Bytes())
			if len(b) == 0 {
				continue
			}
			var it engine.BatchItem
			if err := decode(b, &it); err != nil {
				ge := game.AsError(err)
				return game.Errorf(codeBadJSON, "line "+strconv.Itoa(line), "line %d: %s", line, ge.Message)
			}
			items = append(items, it)
			if len(items) > engine.MaxBatchItems {
				return game.Errorf(game.ETooLarge, "items", "a batch holds at most %d items; split it", engine.MaxBatchItems)
			}
		}
		if err := sc.Err(); err != nil {
			return game.Errorf(codeBadJSON, "", "read NDJSON: %v", err)
		}
	} else {
		trimmed := bytes.TrimSpace(body)
		if len(trimmed) > 0 && trimmed[0] == '{' {
			var wrap struct {
				Items []engine.BatchItem `json:"items"`
			}
			if err := decode(body, &wrap); err != nil {
				if ge := game.AsError(err); ge != nil && (ge.Field == "type" || ge.Field == "deal" || ge.Field == "activity") {
					return game.Errorf(codeBadJSON, "items", `a batch is a JSON array of items (or {"items": [...]}); send a single deal to /api/v1/deals`)
				}
				return err
			}
			items = wrap.Items
		} else if err := decode(body, &items); err != nil {
			return err
		}
	}
	r, err := s.e.IngestBatch(c.UserContext(), items, idempotencyKey(c))
	if err != nil {
		return err
	}
	return result(c, r)
}

// ---- boards ----

func boardParams(c *fiber.Ctx) (game.Metric, game.Period, string, error) {
	m, err := game.ParseMetric(c.Params("metric"))
	if err != nil {
		return "", "", "", err
	}
	p, err := game.ParsePeriod(c.Params("period"))
	if err != nil {
		return "", "", "", err
	}
	sc, err := game.ParseScope(c.Params("scope"))
	if err != nil {
		return "", "", "", err
	}
	if !m.OnPeriod(p) {
		return "", "", "", game.Errorf(game.EInvalid, "period", "%s boards are by month only: attainment does not add up across months", m)
	}
	return m, p, strings.Clone(sc), nil
}

// boardKey resolves the board of the URL: the current period instance, or the
// one named by ?instance= (e.g. 2026-10 for last month).
func (s *Server) boardKey(c *fiber.Ctx) (game.BoardKey, error) {
	m, p, sc, err := boardParams(c)
	if err != nil {
		return game.BoardKey{}, err
	}
	k, err := s.e.CurrentBoard(m, p, sc)
	if err != nil {
		return game.BoardKey{}, err
	}
	if inst := c.Query("instance"); inst != "" {
		if !p.ValidInstance(inst) {
			return game.BoardKey{}, game.Errorf(game.EInvalid, "instance", "instance %q does not name a %s (e.g. %s)", inst, p, k.Instance)
		}
		k.Instance = strings.Clone(inst)
	}
	return k, nil
}

func (s *Server) getBoard(c *fiber.Ctx) error {
	k, err := s.boardKey(c)
	if err != nil {
		return err
	}
	n, err := intQuery(c, "top", 10, 1, 1000)
	if err != nil {
		return err
	}
	v, err := s.e.Top(c.UserContext(), k, n)
	if err != nil {
		return err
	}
	return c.JSON(v)
}

func (s *Server) getStanding(c *fiber.Ctx) error {
	k, err := s.boardKey(c)
	if err != nil {
		return err
	}
	id, err := idParam(c, "rep_id")
	if err != nil {
		return err
	}
	radius, err := intQuery(c, "radius", 2, 0, 50)
	if err != nil {
		return err
	}
	v, err := s.e.Around(c.UserContext(), k, id, radius)
	if err != nil {
		return err
	}
	var me *engine.BoardEntry
	for i := range v.Entries {
		if v.Entries[i].RepID == id {
			me = &v.Entries[i]
		}
	}
	out := fiber.Map{"board": v.Board, "metric": v.Metric, "period": v.Period, "instance": v.Instance, "scope": v.Scope, "rep": me, "around": v.Entries}
	if v.Currency != "" {
		out["currency"] = v.Currency
	}
	return c.JSON(out)
}

func (s *Server) rebuild(c *fiber.Ctx) error {
	n, err := s.e.Rebuild(c.UserContext(), nil)
	if err != nil {
		return err
	}
	after, _ := json.Marshal(fiber.Map{"boards": n})
	if _, err := s.dir.Audit(c.UserContext(), game.AuditEntry{Actor: principalOf(c).Actor(), Action: "boards.rebuild", Object: "boards", After: after}); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"boards": n})
}
