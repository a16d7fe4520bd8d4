package gateway

import (
	"context"
	"errors"
	"strings"

	json "github.com/goccy/go-json"
	"github.com/valyala/fasthttp"

	"github.com/plexushq/plexus/gateway/codec"
	pb "github.com/plexushq/plexus/proto/plexus/v1"
)

// handleDeepstreamHTTP serves POST /api and POST /api/auth (deepstream.md §11).
func (s *Server) handleDeepstreamHTTP(ctx *fasthttp.RequestCtx, path string) {
	ctx.Response.Header.Set("Access-Control-Allow-Origin", "*")
	if ctx.IsOptions() {
		ctx.Response.Header.Set("Access-Control-Allow-Methods", codec.AllowHeader)
		ctx.Response.Header.Set("Access-Control-Allow-Headers", "X-Requested-With, X-HTTP-Method-Override, Content-Type, Accept")
		ctx.Response.Header.Set("Allow", codec.AllowHeader)
		ctx.SetStatusCode(fasthttp.StatusNoContent)
		return
	}
	if !ctx.IsPost() {
		s.refuse(ctx, codec.ErrMethodNotAllowed)
		return
	}
	if e := codec.CheckContentType(string(ctx.Request.Header.ContentType())); e != nil {
		s.refuse(ctx, e)
		return
	}
	body := ctx.PostBody()
	if e := codec.CheckBodySize(len(body), s.cfg.MaxMessageBytes); e != nil {
		s.refuse(ctx, e)
		return
	}
	if path == "/api/auth" {
		// Auth strategies and tokens need the app credentials that Raft
		// metadata brings; until then /api/auth is not served.
		notImplemented(ctx, "POST /api/auth")
		return
	}
	batch, err := codec.ParseBatch(body, s.cfg.MaxNameBytes)
	if err != nil {
		var re *codec.RequestError
		if errors.As(err, &re) {
			s.refuse(ctx, re)
			return
		}
		s.refuse(ctx, codec.ErrInvalidJSON)
		return
	}
	app, ok := s.cfg.Apps.Resolve(string(ctx.QueryArgs().Peek("apiKey")))
	if !ok {
		s.refuse(ctx, codec.ErrUnauthorized)
		return
	}
	if app.Disabled {
		s.refuse(ctx, codec.ErrAppDisabled)
		return
	}
	if batch.HasToken {
		// No token can be verified before app credentials exist (Raft
		// metadata); an unverifiable token is refused, never anonymous.
		s.refuse(ctx, codec.ErrUnauthorized)
		return
	}
	if batch.AuthData != nil && !openAuthAccepts(batch.AuthData) {
		s.refuse(ctx, codec.ErrUnauthorized)
		return
	}

	s.usage.add(app.ID, uint64(len(batch.Commands)))
	rctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	results := make([]codec.Result, len(batch.Commands))
	var counts commandCounts
	for i := range batch.Commands {
		c := &batch.Commands[i]
		if rctx.Err() != nil {
			results[i] = codec.ResultTimeout()
		} else {
			results[i] = s.runCommand(rctx, app.ID, c)
		}
		counts.add(c.Topic, c.Action, results[i].Success())
	}
	counts.flush(s.metrics)
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("application/json; charset=utf-8")
	ctx.Response.SetBodyRaw(codec.EncodeResponse(results)) // a fresh slice: fasthttp need not copy it
}

// commandCounts sums a batch's commands per (topic, action, outcome), so the
// labelled counter is looked up once per kind of command, not per command.
type commandCounts []commandCount

type commandCount struct {
	topic, action string
	ok            bool
	n             float64
}

func (cc *commandCounts) add(topic, action string, ok bool) {
	for i := range *cc {
		if c := &(*cc)[i]; c.topic == topic && c.action == action && c.ok == ok {
			c.n++
			return
		}
	}
	*cc = append(*cc, commandCount{topic, action, ok, 1})
}

func (cc commandCounts) flush(m *metrics) {
	for _, c := range cc {
		outcome := "success"
		if !c.ok {
			outcome = "failure"
		}
		m.commands.WithLabelValues(c.topic, c.action, outcome).Add(c.n)
	}
}

// refuse writes a plaintext 4xx and logs it once at info (bad input is the
// client's problem, not the operator's).
func (s *Server) refuse(ctx *fasthttp.RequestCtx, e *codec.RequestError) {
	s.log.Info("deepstream http request refused", "status", e.Status, "reason", e.Text, "path", string(ctx.Path()))
	writePlain(ctx, e)
}

// openAuthAccepts applies the open strategy to authData: any object whose
// username, if present, is a string (deepstream.md §2.2).
func openAuthAccepts(authData []byte) bool {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(authData, &m); err != nil {
		return false
	}
	u, ok := m["username"]
	if !ok {
		return true
	}
	var s string
	return len(u) > 0 && u[0] == '"' && json.Unmarshal(u, &s) == nil
}

// runCommand executes one validated command for app.
func (s *Server) runCommand(ctx context.Context, app string, c *codec.Command) codec.Result {
	switch c.Topic {
	case "event":
		if strings.HasPrefix(c.Name, "feeds/") {
			return codec.ResultDenied("event", "emit")
		}
		_, err := s.cfg.Backend.EventEmit(ctx, &pb.EventEmit{IdempotencyKey: s.newIdempotencyKey(), App: app, Name: c.Name, Data: c.Data, HasData: c.Data != nil})
		if err != nil {
			return s.failure(ctx, "event", c, err)
		}
		return codec.ResultOK()
	case "record", "list":
		return s.runRecord(ctx, app, c)
	case "rpc":
		// No RPC provider exists until WebSocket sessions do.
		return codec.ResultNoRPCProvider(c.Name)
	case "presence":
		// Presence lists WebSocket users; there are none until sessions exist.
		if c.HasNames {
			return codec.ResultPresenceQuery(c.Names, nil)
		}
		return codec.ResultPresence(nil)
	}
	return codec.ResultError(c.Topic, "UNKNOWN_ACTION", "unknown command")
}

func (s *Server) runRecord(ctx context.Context, app string, c *codec.Command) codec.Result {
	switch c.Action {
	case "read", "head":
		r, err := s.cfg.Backend.RecordRead(ctx, &pb.RecordRead{App: app, Name: c.Name})
		if err != nil {
			return s.failure(ctx, "record", c, err)
		}
		if c.Action == "head" {
			if !r.Exists {
				return codec.ResultHead(-1)
			}
			return codec.ResultHead(r.Version)
		}
		if !r.Exists {
			return codec.ResultNotFound(c.Name)
		}
		return codec.ResultRead(r.Version, r.Data)
	case "write":
		w := &pb.RecordWrite{IdempotencyKey: s.newIdempotencyKey(), App: app, Name: c.Name, Transport: pb.Transport_TRANSPORT_HTTP,
			Version: -1, HasVersion: c.HasVersion, Path: c.Path, HasPath: c.HasPath, Data: c.Data}
		if c.HasVersion {
			w.Version = c.Version
		}
		r, err := s.cfg.Backend.RecordWrite(ctx, w)
		if err != nil {
			if r != nil && r.Error != nil && (r.Error.Reason == pb.ErrorReason_ERROR_REASON_VERSION_EXISTS || r.Error.Reason == pb.ErrorReason_ERROR_REASON_INVALID_VERSION) {
				return codec.ResultVersionExists(c.Name, r.CurrentVersion, r.CurrentData)
			}
			return s.failure(ctx, "record", c, err)
		}
		return codec.ResultOK()
	case "delete":
		_, err := s.cfg.Backend.RecordDelete(ctx, &pb.RecordDelete{IdempotencyKey: s.newIdempotencyKey(), App: app, Name: c.Name})
		if err != nil {
			return s.failure(ctx, "record", c, err)
		}
		return codec.ResultOK()
	case "notify":
		// NOTIFY re-reads records from the Store; records are only ever
		// written through their grains today, so every held record already
		// equals the Store. Check each name is readable, which is what can fail.
		for _, n := range c.Names {
			if _, err := s.cfg.Backend.RecordRead(ctx, &pb.RecordRead{App: app, Name: n}); err != nil {
				if ctx.Err() != nil {
					return codec.ResultTimeout()
				}
				return codec.ResultNotifyError(n)
			}
		}
		return codec.ResultOK()
	}
	return codec.ResultError(c.Topic, "UNKNOWN_ACTION", "unknown command")
}

// failure maps a grain call error to the command's failure result.
func (s *Server) failure(ctx context.Context, topic string, c *codec.Command, err error) codec.Result {
	if ctx.Err() != nil {
		return codec.ResultTimeout()
	}
	reason := reasonOf(err)
	s.log.Warn("deepstream http command failed", "topic", c.Topic, "action", c.Action, "name", c.Name, "reason", reason.String(), "err", err)
	switch {
	case topic == "event":
		return codec.ResultErrorParams("event", reason.String(), c.Name)
	case reason == pb.ErrorReason_ERROR_REASON_DEADLINE_EXCEEDED:
		return codec.ResultStorageTimeout(c.Name)
	case c.Action == "delete":
		return codec.ResultDeleteError(c.Name)
	case c.Action == "read" || c.Action == "head":
		return codec.ResultStorageTimeout(c.Name)
	default:
		return codec.ResultUpdateError(c.Name)
	}
}

// reasonOf extracts the canonical reason from err (any error with a Reason
// field of type pb.ErrorReason, such as cluster/placement.Error).
func reasonOf(err error) pb.ErrorReason {
	var r interface{ GetReason() pb.ErrorReason }
	if errors.As(err, &r) {
		return r.GetReason()
	}
	return pb.ErrorReason_ERROR_REASON_INTERNAL
}
