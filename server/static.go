package server

import (
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"

	"podium/static"
)

func (s *Server) staticFiles() fiber.Handler {
	return filesystem.New(filesystem.Config{
		Root:         http.FS(static.FS),
		Index:        "index.html",
		NotFoundFile: "",
		MaxAge:       300,
	})
}
