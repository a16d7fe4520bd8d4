package gateway

import (
	"context"
	"crypto/subtle"
	"strings"
	"time"

	json "github.com/goccy/go-json"
	"github.com/valyala/fasthttp"

	pb "github.com/plexushq/plexus/proto/plexus/v1"
)

// adminAuthorized checks the bearer admin token in constant time.
func (s *Server) adminAuthorized(ctx *fasthttp.RequestCtx) bool {
	h := string(ctx.Request.Header.Peek("Authorization"))
	const prefix = "Bearer "
	if s.cfg.AdminToken == "" || len(h) <= len(prefix) || h[:len(prefix)] != prefix {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(h[len(prefix):]), []byte(s.cfg.AdminToken)) == 1
}

func (s *Server) handleAdmin(ctx *fasthttp.RequestCtx, path string) {
	if !s.adminAuthorized(ctx) {
		s.log.Info("admin request refused: missing or wrong admin token", "path", path)
		writeJSONError(ctx, fasthttp.StatusUnauthorized, pb.ErrorReason_ERROR_REASON_UNAUTHENTICATED, "missing or wrong admin token", "")
		return
	}
	if strings.HasPrefix(path, "/admin/v1/apps") && (len(path) == len("/admin/v1/apps") || path[len("/admin/v1/apps")] == '/') {
		s.handleApps(ctx, path[len("/admin/v1/apps"):])
		return
	}
	switch path {
	case "/admin/v1/cluster":
		if !ctx.IsGet() {
			methodNotAllowed(ctx, "GET")
			return
		}
		c, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		v, err := s.cfg.Cluster.View(c)
		if err != nil {
			id := newRequestID()
			s.log.Error("cluster view failed", "err", err, "request_id", id)
			writeJSONError(ctx, 0, pb.ErrorReason_ERROR_REASON_UNAVAILABLE, "cluster view unavailable", id)
			return
		}
		writeJSON(ctx, fasthttp.StatusOK, v)
	default:
		notImplemented(ctx, "admin endpoint "+path)
	}
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeJSONError(ctx, 0, pb.ErrorReason_ERROR_REASON_INTERNAL, "encoding failed", newRequestID())
		return
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json; charset=utf-8")
	ctx.SetBody(b)
}
