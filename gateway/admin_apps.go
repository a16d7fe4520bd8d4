package gateway

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	json "github.com/goccy/go-json"
	"github.com/valyala/fasthttp"

	pb "github.com/plexushq/plexus/proto/plexus/v1"
)

// AdminApp is the app object of the admin API (design.md §7).
type AdminApp struct {
	ID            string          `json:"id"`
	Name          string          `json:"name"`
	Key           string          `json:"key"`
	Secret        string          `json:"secret"`
	SubscriberKey string          `json:"subscriber_key"`
	PublisherKey  string          `json:"publisher_key"`
	AppToken      string          `json:"app_token"`
	WSURL         string          `json:"ws_url"`
	HTTPURL       string          `json:"http_url"`
	AuthURL       string          `json:"auth_url"`
	CreatedAt     time.Time       `json:"created_at"`
	Disabled      bool            `json:"disabled"`
	Settings      json.RawMessage `json:"settings,omitempty"`
}

// AppPatch is the body of PATCH /admin/v1/apps/{id}.
type AppPatch struct {
	Name     *string         `json:"name,omitempty"`
	Disabled *bool           `json:"disabled,omitempty"`
	Settings json.RawMessage `json:"settings,omitempty"`
}

// Admin errors the Admin implementation returns (wrapped or not).
var (
	ErrAdminNotFound = errors.New("gateway: not found")
	ErrAdminConflict = errors.New("gateway: conflict")
	ErrAdminInvalid  = errors.New("gateway: invalid")
)

// Admin is the management side of the metadata service.
type Admin interface {
	CreateApp(ctx context.Context, name string) (AdminApp, error)
	Apps() []AdminApp
	App(id string) (AdminApp, bool)
	UpdateApp(ctx context.Context, id string, p AppPatch) (AdminApp, error)
	DeleteApp(ctx context.Context, id string) error
	RotateApp(ctx context.Context, id string, kinds []string) (AdminApp, error)
}

func (s *Server) handleApps(ctx *fasthttp.RequestCtx, rest string) {
	if s.cfg.Admin == nil {
		notImplemented(ctx, "admin apps")
		return
	}
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	switch {
	case rest == "" || rest == "/":
		switch {
		case ctx.IsGet():
			s.listApps(ctx)
		case ctx.IsPost():
			var body struct {
				Name *string `json:"name"`
			}
			if !decodeBody(ctx, &body) {
				return
			}
			if body.Name == nil || strings.TrimSpace(*body.Name) == "" {
				writeJSONError(ctx, 0, pb.ErrorReason_ERROR_REASON_INVALID_ARGUMENT, `"name" is required`, "")
				return
			}
			app, err := s.cfg.Admin.CreateApp(c, *body.Name)
			if err != nil {
				s.adminFailure(ctx, err)
				return
			}
			s.log.Info("app created", "app_id", app.ID, "name", app.Name)
			writeJSON(ctx, fasthttp.StatusCreated, app)
		default:
			methodNotAllowed(ctx, "GET, POST")
		}
	case len(parts) == 1:
		id := parts[0]
		switch {
		case ctx.IsGet():
			app, ok := s.cfg.Admin.App(id)
			if !ok {
				s.adminFailure(ctx, ErrAdminNotFound)
				return
			}
			writeJSON(ctx, fasthttp.StatusOK, app)
		case string(ctx.Method()) == fasthttp.MethodPatch:
			var p AppPatch
			if !decodeBody(ctx, &p) {
				return
			}
			app, err := s.cfg.Admin.UpdateApp(c, id, p)
			if err != nil {
				s.adminFailure(ctx, err)
				return
			}
			s.log.Info("app updated", "app_id", id)
			writeJSON(ctx, fasthttp.StatusOK, app)
		case ctx.IsDelete():
			if err := s.cfg.Admin.DeleteApp(c, id); err != nil {
				s.adminFailure(ctx, err)
				return
			}
			s.log.Info("app deleted", "app_id", id)
			ctx.SetStatusCode(fasthttp.StatusNoContent)
		default:
			methodNotAllowed(ctx, "GET, PATCH, DELETE")
		}
	case len(parts) == 2 && parts[1] == "rotate":
		if !ctx.IsPost() {
			methodNotAllowed(ctx, "POST")
			return
		}
		var body struct {
			Kinds []string `json:"kinds"`
		}
		if !decodeBody(ctx, &body) {
			return
		}
		app, err := s.cfg.Admin.RotateApp(c, parts[0], body.Kinds)
		if err != nil {
			s.adminFailure(ctx, err)
			return
		}
		s.log.Info("app credentials rotated", "app_id", parts[0], "kinds", body.Kinds)
		writeJSON(ctx, fasthttp.StatusOK, app)
	case len(parts) == 2 && parts[1] == "usage":
		if _, ok := s.cfg.Admin.App(parts[0]); !ok {
			s.adminFailure(ctx, ErrAdminNotFound)
			return
		}
		writeJSON(ctx, fasthttp.StatusOK, map[string]any{"app_id": parts[0], "messages": s.usage.get(parts[0]), "connections": 0})
	default:
		notImplemented(ctx, "admin endpoint /admin/v1/apps/"+strings.Trim(rest, "/"))
	}
}

func (s *Server) listApps(ctx *fasthttp.RequestCtx) {
	page, perPage := 1, 100
	if v := ctx.QueryArgs().Peek("page"); len(v) > 0 {
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 1 {
			writeJSONError(ctx, 0, pb.ErrorReason_ERROR_REASON_INVALID_ARGUMENT, "page must be a positive integer", "")
			return
		}
		page = n
	}
	if v := ctx.QueryArgs().Peek("per_page"); len(v) > 0 {
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 1 || n > 1000 {
			writeJSONError(ctx, 0, pb.ErrorReason_ERROR_REASON_INVALID_ARGUMENT, "per_page must be 1 to 1000", "")
			return
		}
		perPage = n
	}
	all := s.cfg.Admin.Apps()
	from := min((page-1)*perPage, len(all))
	to := min(from+perPage, len(all))
	apps := all[from:to]
	if apps == nil {
		apps = []AdminApp{}
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"apps": apps, "page": page, "per_page": perPage, "total": len(all)})
}

// decodeBody decodes a JSON request body; on failure it answers 400.
func decodeBody(ctx *fasthttp.RequestCtx, v any) bool {
	body := ctx.PostBody()
	if len(body) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		writeJSONError(ctx, 0, pb.ErrorReason_ERROR_REASON_INVALID_ARGUMENT, "malformed JSON body", "")
		return false
	}
	return true
}

func methodNotAllowed(ctx *fasthttp.RequestCtx, allow string) {
	ctx.Response.Header.Set("Allow", allow)
	writeJSONError(ctx, fasthttp.StatusMethodNotAllowed, pb.ErrorReason_ERROR_REASON_INVALID_ARGUMENT, "method not allowed", "")
}

func (s *Server) adminFailure(ctx *fasthttp.RequestCtx, err error) {
	switch {
	case errors.Is(err, ErrAdminNotFound):
		writeJSONError(ctx, 0, pb.ErrorReason_ERROR_REASON_NOT_FOUND, "no such app", "")
	case errors.Is(err, ErrAdminConflict):
		writeJSONError(ctx, 0, pb.ErrorReason_ERROR_REASON_ALREADY_EXISTS, "an app with that name exists", "")
	case errors.Is(err, ErrAdminInvalid):
		writeJSONError(ctx, 0, pb.ErrorReason_ERROR_REASON_INVALID_ARGUMENT, err.Error(), "")
	default:
		id := newRequestID()
		s.log.Error("admin request failed", "err", err, "request_id", id)
		writeJSONError(ctx, 0, pb.ErrorReason_ERROR_REASON_UNAVAILABLE, "metadata unavailable", id)
	}
}
