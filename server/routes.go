package server

import (
	"github.com/gofiber/fiber/v2"

	"podium/engine"
)

// Permission names what a route or channel needs. Who holds which is
// declared in one place, roleGrants and APIScopes (auth.go); the object rules
// (whose pay, which board) in canSeePay and canRead, applied by objectAllowed.
type Permission string

// The permissions.
const (
	PermPublic             Permission = "public"              // anyone: health, docs, sign-in, the app's files
	PermSelf               Permission = "self"                // any signed-in person: their own account
	PermBoardsRead         Permission = "boards:read"         // boards and the win feed (display tokens: only their channels)
	PermDirectoryRead      Permission = "directory:read"      // teams and reps: names and structure, no pay
	PermDirectoryWrite     Permission = "directory:write"     // create and change teams and reps
	PermIngest             Permission = "ingest"              // send and read deals and activities
	PermPayRead            Permission = "pay:read"            // a rep's ledger and personal channel (object: which rep)
	PermUsersManage        Permission = "users:manage"        // users, roles, reset links, signing others out
	PermTokensManage       Permission = "tokens:manage"       // API and display tokens
	PermAuditRead          Permission = "audit:read"          // the audit log, its export and verification
	PermPrivacy            Permission = "privacy"             // export and erase a person's data
	PermOps                Permission = "ops"                 // rebuild boards, read metrics
	PermPlansManage        Permission = "plans:manage"        // comp plans, who is on them, exchange rates
	PermQuotasManage       Permission = "quotas:manage"       // set quotas (object: which rep or team)
	PermStatementsApprove  Permission = "statements:approve"  // a manager's approval of a statement (object: whose)
	PermStatementsFinalize Permission = "statements:finalize" // finance's approval, lock and paid
	PermPayAdjust          Permission = "pay:adjust"          // manual adjustments and dispute resolutions
	PermDisputes           Permission = "disputes"            // dispute a pay line and discuss it (object: whose)
	PermPayrollExport      Permission = "payroll:export"      // the period's payroll file
)

// Object names what a route's object-level rule checks.
type Object int

// The object rules.
const (
	ObjNone  Object = iota
	ObjRep          // the rep in :id or :rep_id — pay is their own, their team's, or everyone's
	ObjBoard        // the board in :metric/:period/:scope — a display token reads only its channels
	ObjTeam         // the team in :id — a manager's own teams and those below
)

// route is one entry of the route table.
type route struct {
	Method   string
	Path     string // Fiber syntax: /api/v1/reps/:id
	Perm     Permission
	Object   Object
	Summary  string // what the route does, as "you may not <summary>"
	handlers []fiber.Handler
}

func (s *Server) routes() []route {
	h := func(f ...fiber.Handler) []fiber.Handler { return f }
	return []route{
		{"GET", "/healthz", PermPublic, ObjNone, "check liveness", h(s.healthz)},
		{"GET", "/readyz", PermPublic, ObjNone, "check readiness", h(s.readyz)},
		{"GET", "/metrics", PermOps, ObjNone, "read metrics", h(s.metrics())},
		{"GET", "/api/openapi.json", PermPublic, ObjNone, "read the API document", h(s.openapi)},

		{"POST", "/api/v1/auth/login", PermPublic, ObjNone, "sign in", h(s.loginLimit, s.login)},
		{"POST", "/api/v1/auth/reset", PermPublic, ObjNone, "set a password from a link", h(s.loginLimit, s.resetPassword)},
		{"POST", "/api/v1/auth/logout", PermSelf, ObjNone, "sign out", h(s.logout)},
		{"POST", "/api/v1/auth/logout-all", PermSelf, ObjNone, "sign out everywhere", h(s.logoutAll)},
		{"GET", "/api/v1/me", PermSelf, ObjNone, "read their own account", h(s.me)},
		{"PATCH", "/api/v1/me", PermSelf, ObjNone, "change their own account", h(s.updateMe)},
		{"POST", "/api/v1/me/password", PermSelf, ObjNone, "change their own password", h(s.changePassword)},

		{"GET", "/api/v1/users", PermUsersManage, ObjNone, "list users", h(s.listUsers)},
		{"POST", "/api/v1/users", PermUsersManage, ObjNone, "create users", h(s.createUser)},
		{"PATCH", "/api/v1/users/:id", PermUsersManage, ObjNone, "change users", h(s.updateUser)},
		{"POST", "/api/v1/users/:id/reset-link", PermUsersManage, ObjNone, "issue password reset links", h(s.resetLink)},
		{"POST", "/api/v1/users/:id/logout-all", PermUsersManage, ObjNone, "sign users out", h(s.logoutUser)},

		{"GET", "/api/v1/tokens", PermTokensManage, ObjNone, "list tokens", h(s.listTokens)},
		{"POST", "/api/v1/tokens", PermTokensManage, ObjNone, "create tokens", h(s.createToken)},
		{"DELETE", "/api/v1/tokens/:id", PermTokensManage, ObjNone, "revoke tokens", h(s.revokeToken)},

		{"GET", "/api/v1/audit", PermAuditRead, ObjNone, "read the audit log", h(s.auditLog)},
		{"GET", "/api/v1/audit/export", PermAuditRead, ObjNone, "export the audit log", h(s.auditExport)},
		{"GET", "/api/v1/audit/verify", PermAuditRead, ObjNone, "verify the audit log", h(s.auditVerify)},

		{"GET", "/api/v1/people/:id/export", PermPrivacy, ObjNone, "export a person's data", h(s.personExport)},
		{"POST", "/api/v1/people/:id/erase", PermPrivacy, ObjNone, "erase a person", h(s.personErase)},

		{"GET", "/api/v1/teams", PermDirectoryRead, ObjNone, "list teams", h(s.listTeams)},
		{"POST", "/api/v1/teams", PermDirectoryWrite, ObjNone, "create teams", h(s.createTeam)},
		{"PATCH", "/api/v1/teams/:id", PermDirectoryWrite, ObjNone, "change teams", h(s.updateTeam)},
		{"GET", "/api/v1/reps", PermDirectoryRead, ObjNone, "list reps", h(s.listReps)},
		{"POST", "/api/v1/reps", PermDirectoryWrite, ObjNone, "create reps", h(s.createRep)},
		{"PATCH", "/api/v1/reps/:id", PermDirectoryWrite, ObjNone, "change reps", h(s.updateRep)},
		{"GET", "/api/v1/reps/:id/ledger", PermPayRead, ObjRep, "read this rep's ledger", h(s.repLedger)},

		{"GET", "/api/v1/plans", PermPlansManage, ObjNone, "read plans", h(s.listPlans)},
		{"POST", "/api/v1/plans", PermPlansManage, ObjNone, "create plan versions", h(s.createPlan)},
		{"POST", "/api/v1/plans/validate", PermPlansManage, ObjNone, "check plans", h(s.validatePlan)},
		{"GET", "/api/v1/plans/:id", PermPlansManage, ObjNone, "read plans", h(s.getPlan)},
		{"GET", "/api/v1/assignments", PermPlansManage, ObjNone, "read plan assignments", h(s.listAssignments)},
		{"POST", "/api/v1/assignments", PermPlansManage, ObjNone, "assign plans", h(s.createAssignment)},
		{"PATCH", "/api/v1/assignments/:id", PermPlansManage, ObjNone, "end plan assignments", h(s.endAssignment)},
		{"GET", "/api/v1/fx-rates", PermPlansManage, ObjNone, "read exchange rates", h(s.listRates)},
		{"POST", "/api/v1/fx-rates", PermPlansManage, ObjNone, "set exchange rates", h(s.putRate)},

		{"GET", "/api/v1/reps/:id/quotas", PermPayRead, ObjRep, "read this rep's quotas", h(s.repQuotas)},
		{"PUT", "/api/v1/reps/:id/quotas", PermQuotasManage, ObjRep, "set this rep's quota", h(s.putQuota)},
		{"GET", "/api/v1/teams/:id/quotas/:period/:instance", PermQuotasManage, ObjTeam, "read this team's quota", h(s.teamQuota)},
		{"GET", "/api/v1/reps/:id/statements/:period", PermPayRead, ObjRep, "read this rep's statement", h(s.getStatement)},
		{"GET", "/api/v1/reps/:id/statements/:period/snapshot", PermPayRead, ObjRep, "read this rep's statement", h(s.statementSnapshot)},
		{"POST", "/api/v1/reps/:id/statements/:period/manager-approve", PermStatementsApprove, ObjRep, "approve this statement", h(s.moveStatement(engine.StatementManagerApproved))},
		{"POST", "/api/v1/reps/:id/statements/:period/finance-approve", PermStatementsFinalize, ObjRep, "approve this statement", h(s.moveStatement(engine.StatementFinanceApproved))},
		{"POST", "/api/v1/reps/:id/statements/:period/lock", PermStatementsFinalize, ObjRep, "lock this statement", h(s.moveStatement(engine.StatementLocked))},
		{"POST", "/api/v1/reps/:id/statements/:period/paid", PermStatementsFinalize, ObjRep, "mark this statement paid", h(s.moveStatement(engine.StatementPaid))},
		{"GET", "/api/v1/reps/:id/what-if", PermPayRead, ObjRep, "project this rep's pay", h(s.whatIf)},
		{"POST", "/api/v1/reps/:id/adjustments", PermPayAdjust, ObjRep, "adjust this rep's pay", h(s.postAdjustment)},
		{"POST", "/api/v1/reps/:id/disputes", PermDisputes, ObjRep, "dispute this rep's pay", h(s.openDispute)},
		{"GET", "/api/v1/disputes/:id", PermDisputes, ObjNone, "read disputes", h(s.getDispute)},
		{"POST", "/api/v1/disputes/:id/comments", PermDisputes, ObjNone, "comment on disputes", h(s.commentDispute)},
		{"POST", "/api/v1/disputes/:id/resolve", PermPayAdjust, ObjNone, "resolve disputes", h(s.resolveDispute)},
		{"GET", "/api/v1/payroll/:period", PermPayrollExport, ObjNone, "export payroll", h(s.payroll)},

		{"POST", "/api/v1/deals", PermIngest, ObjNone, "send deals", h(s.postDeal)},
		{"GET", "/api/v1/deals/:source/:external_id", PermIngest, ObjNone, "read deals", h(s.getDeal)},
		{"POST", "/api/v1/activities", PermIngest, ObjNone, "send activities", h(s.postActivity)},
		{"POST", "/api/v1/batch", PermIngest, ObjNone, "send batches", h(s.postBatch)},

		{"GET", "/api/v1/boards/:metric/:period/:scope", PermBoardsRead, ObjBoard, "read this board", h(s.getBoard)},
		{"GET", "/api/v1/boards/:metric/:period/:scope/reps/:rep_id", PermBoardsRead, ObjBoard, "read this board", h(s.getStanding)},
		{"POST", "/api/v1/admin/rebuild", PermOps, ObjNone, "rebuild boards", h(s.rebuild)},

		// The upgrade is authenticated (cookie, bearer header or the
		// "bearer.<token>" subprotocol); each channel is authorized on
		// subscribe, by canRead.
		{"GET", "/ws", PermPublic, ObjNone, "open live connections", h(s.wsUpgrade, s.wsHandler())},

		{"GET", "/", PermPublic, ObjNone, "read the app", h(s.staticFiles())},
		{"GET", "/*", PermPublic, ObjNone, "read the app", h(s.staticFiles())},
	}
}
