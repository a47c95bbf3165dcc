package server

import (
	_ "embed"

	"github.com/gofiber/fiber/v2"
)

// openapiJSON is the OpenAPI 3 document of every route, kept in the repo next
// to the route table; TestOpenAPICoversRoutes keeps the two in step.
//
//go:embed openapi.json
var openapiJSON []byte

func (s *Server) openapi(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(openapiJSON)
}
