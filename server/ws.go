package server

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"time"

	"github.com/fasthttp/websocket"
	fws "github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"

	"podium/engine"
	"podium/game"
)

// clientMsg is a message from a WebSocket client.
type clientMsg struct {
	Op      string        `json:"op"` // subscribe, unsubscribe
	Channel string        `json:"channel,omitempty"`
	Since   *engine.Since `json:"since,omitempty"`
}

type wireError struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Channel string `json:"channel,omitempty"`
}

// wsUpgrade refuses non-WebSocket requests and browser origins that are
// neither this server nor on the allow-list (clients without an Origin
// header, such as scripts, are not browsers), then authenticates the
// upgrade itself: a session cookie, an Authorization header, or, from a
// browser that cannot set headers, the subprotocol "bearer.<token>" next
// to "podium.v1". Without credentials only public boards allow a
// connection. Each channel is then authorized when subscribed.
func (s *Server) wsUpgrade(c *fiber.Ctx) error {
	if !fws.IsWebSocketUpgrade(c) {
		return fiber.NewError(fiber.StatusUpgradeRequired, "use a WebSocket client")
	}
	if origin := c.Get(fiber.HeaderOrigin); origin != "" && !s.originAllowed(origin, c.Hostname()) {
		return game.Errorf(game.EForbidden, "Origin", "origin %s may not open live connections; add it to PODIUM_ALLOWED_ORIGINS", origin)
	}
	p, err := s.authenticate(c, true)
	if err != nil {
		return err
	}
	if p.Kind == KindAnonymous && !s.cfg.PublicBoards {
		return game.Errorf(game.EUnauthorized, "", "sign in, or open the socket with a token (subprotocols \"podium.v1\" and \"bearer.<token>\")")
	}
	c.Locals(localPrincipal, p)
	return c.Next()
}

// Subprotocol is the live protocol's WebSocket subprotocol name.
const Subprotocol = "podium.v1"

func (s *Server) originAllowed(origin, host string) bool {
	if u, err := url.Parse(origin); err == nil && u.Host == host {
		return true
	}
	for _, o := range s.cfg.AllowedOrigins {
		if strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return true
		}
	}
	return false
}

var wsBuffers websocket.BufferPool = new(syncPool)

func (s *Server) wsHandler() fiber.Handler {
	return fws.New(s.serveWS, fws.Config{
		HandshakeTimeout: s.cfg.HandshakeTimeout,
		// The origin is checked in wsUpgrade, which also knows the server's
		// own host; the library's list would refuse same-origin pages.
		Origins: []string{"*"},
		// The server answers with podium.v1, never echoing the bearer
		// subprotocol that carries a token.
		Subprotocols:    []string{Subprotocol},
		ReadBufferSize:  512,
		WriteBufferSize: 4096,
		// Idle connections hold no write buffer: one pool serves them all.
		WriteBufferPool: wsBuffers,
	})
}

// serveWS runs on the connection's reader goroutine; one writer goroutine
// does every write, so nothing else ever touches the socket for writing.
func (s *Server) serveWS(ws *fws.Conn) {
	conn := s.e.Hub().NewConn(s.cfg.WSQueue)
	p, _ := ws.Locals(localPrincipal).(Principal)
	conn.SetOwners(p.owners()...)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.wsWriter(ws, conn)
	}()
	defer func() {
		conn.Close(websocket.CloseNormalClosure, "")
		<-writerDone
	}()

	pongWait := 2 * s.cfg.WSPingInterval
	ws.SetReadLimit(s.cfg.WSReadLimit)
	_ = ws.SetReadDeadline(time.Now().Add(pongWait))
	ws.SetPongHandler(func(string) error { return ws.SetReadDeadline(time.Now().Add(pongWait)) })
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		_ = ws.SetReadDeadline(time.Now().Add(pongWait))
		var m clientMsg
		if err := json.Unmarshal(data, &m); err != nil {
			s.wsError(conn, "", game.Errorf(codeBadJSON, "", "messages are JSON objects such as {\"op\":\"subscribe\",\"channel\":\"feed\"}"))
			continue
		}
		switch m.Op {
		case "subscribe":
			if err := s.wsSubscribe(conn, p, m); err != nil {
				s.wsError(conn, m.Channel, err)
			}
		case "unsubscribe":
			conn.Unsubscribe(m.Channel)
		default:
			s.wsError(conn, m.Channel, game.Errorf(game.EInvalid, "op", "unknown op %q: use subscribe or unsubscribe", m.Op))
		}
	}
}

func (s *Server) wsSubscribe(conn *engine.Conn, p Principal, m clientMsg) error {
	kind, repID, err := engine.ParseChannel(m.Channel)
	if err != nil {
		return err
	}
	if !s.canRead(p, m.Channel) {
		return game.Errorf(game.EForbidden, "channel", "you may not read %s", m.Channel)
	}
	if kind == engine.ChannelRep {
		if _, ok := s.e.Rep(repID); !ok {
			return game.Errorf(game.ENotFound, "channel", "no rep %d", repID)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return conn.Subscribe(ctx, m.Channel, m.Since)
}

func (s *Server) wsError(conn *engine.Conn, channel string, err error) {
	ge := game.AsError(err)
	if ge == nil {
		s.log.Warn("websocket subscribe", "channel", channel, "err", err)
		ge = &game.Error{Code: game.EInternal, Message: "the server could not do that; try again"}
	}
	b, _ := json.Marshal(wireError{Type: "error", Code: ge.Code, Message: ge.Message, Channel: channel})
	conn.Send(b)
}

// wsWriter writes queued messages, batching what is queued into one JSON
// array frame, pings on a timer, and closes with the hub's close code.
func (s *Server) wsWriter(ws *fws.Conn, conn *engine.Conn) {
	ping := time.NewTicker(s.cfg.WSPingInterval)
	defer ping.Stop()
	defer ws.Close()
	var batch [][]byte
	for {
		select {
		case msg := <-conn.Out():
			batch = append(batch[:0], msg)
		drain:
			for len(batch) < 64 {
				select {
				case m := <-conn.Out():
					batch = append(batch, m)
				default:
					break drain
				}
			}
			_ = ws.SetWriteDeadline(time.Now().Add(s.cfg.WSWriteTimeout))
			if err := writeBatch(ws, batch); err != nil {
				conn.Close(websocket.CloseAbnormalClosure, "write failed")
				return
			}
		case <-ping.C:
			if err := ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(s.cfg.WSWriteTimeout)); err != nil {
				conn.Close(websocket.CloseAbnormalClosure, "ping failed")
				return
			}
		case <-conn.Done():
			code, reason := conn.CloseStatus()
			if code != websocket.CloseAbnormalClosure {
				_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
			}
			return
		}
	}
}

func writeBatch(ws *fws.Conn, batch [][]byte) error {
	if len(batch) == 1 {
		return ws.WriteMessage(websocket.TextMessage, batch[0])
	}
	w, err := ws.NextWriter(websocket.TextMessage)
	if err != nil {
		return err
	}
	_, _ = w.Write([]byte{'['})
	for i, m := range batch {
		if i > 0 {
			_, _ = w.Write([]byte{','})
		}
		_, _ = w.Write(m)
	}
	_, _ = w.Write([]byte{']'})
	return w.Close()
}
