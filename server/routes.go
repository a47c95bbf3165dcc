package server

import (
	"github.com/gofiber/fiber/v2"
)

// Permission names what a route or channel needs.
type Permission string

// The permissions. Users and roles will refine PermAdmin into finer ones.
const (
	PermPublic     Permission = "public"      // anyone: health, docs, the app's files
	PermBoardsRead Permission = "boards:read" // boards and the win feed; anonymous when PublicBoards
	PermAdmin      Permission = "admin"       // everything else, with the admin token
)

// route is one entry of the route table.
type route struct {
	Method   string
	Path     string // Fiber syntax: /api/v1/reps/:id
	Perm     Permission
	Summary  string // what the route does, as "this token may not <summary>"
	handlers []fiber.Handler
}

func (s *Server) routes() []route {
	h := func(f ...fiber.Handler) []fiber.Handler { return f }
	return []route{
		{"GET", "/healthz", PermPublic, "check liveness", h(s.healthz)},
		{"GET", "/readyz", PermPublic, "check readiness", h(s.readyz)},
		{"GET", "/metrics", PermPublic, "read metrics", h(s.metrics())},
		{"GET", "/api/openapi.json", PermPublic, "read the API document", h(s.openapi)},

		{"GET", "/api/v1/teams", PermAdmin, "list teams", h(s.listTeams)},
		{"POST", "/api/v1/teams", PermAdmin, "create teams", h(s.createTeam)},
		{"PATCH", "/api/v1/teams/:id", PermAdmin, "change teams", h(s.updateTeam)},
		{"GET", "/api/v1/reps", PermAdmin, "list reps", h(s.listReps)},
		{"POST", "/api/v1/reps", PermAdmin, "create reps", h(s.createRep)},
		{"PATCH", "/api/v1/reps/:id", PermAdmin, "change reps", h(s.updateRep)},
		{"GET", "/api/v1/reps/:id/ledger", PermAdmin, "read a rep's ledger", h(s.repLedger)},

		{"POST", "/api/v1/deals", PermAdmin, "send deals", h(s.postDeal)},
		{"GET", "/api/v1/deals/:source/:external_id", PermAdmin, "read deals", h(s.getDeal)},
		{"POST", "/api/v1/activities", PermAdmin, "send activities", h(s.postActivity)},
		{"POST", "/api/v1/batch", PermAdmin, "send batches", h(s.postBatch)},

		{"GET", "/api/v1/boards/:metric/:period/:scope", PermBoardsRead, "read boards", h(s.getBoard)},
		{"GET", "/api/v1/boards/:metric/:period/:scope/reps/:rep_id", PermBoardsRead, "read boards", h(s.getStanding)},
		{"POST", "/api/v1/admin/rebuild", PermAdmin, "rebuild boards", h(s.rebuild)},

		{"GET", "/ws", PermPublic, "open live connections", h(s.wsUpgrade, s.wsHandler())},

		{"GET", "/", PermPublic, "read the app", h(s.staticFiles())},
		{"GET", "/*", PermPublic, "read the app", h(s.staticFiles())},
	}
}
