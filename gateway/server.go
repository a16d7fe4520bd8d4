package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/pprofhandler"

	"github.com/plexushq/plexus/gateway/codec"
	pb "github.com/plexushq/plexus/proto/plexus/v1"
)

// Backend is how the gateway reaches grains (actors/client.Client).
type Backend interface {
	RecordWrite(ctx context.Context, m *pb.RecordWrite) (*pb.RecordWriteReply, error)
	RecordRead(ctx context.Context, m *pb.RecordRead) (*pb.RecordReadReply, error)
	RecordDelete(ctx context.Context, m *pb.RecordDelete) (*pb.RecordDeleteReply, error)
	EventEmit(ctx context.Context, m *pb.EventEmit) (*pb.EventEmitReply, error)
}

// App is the tenant a request acts for.
type App struct {
	ID       string
	Disabled bool
}

// Apps resolves API keys to apps.
type Apps interface {
	// Resolve returns the app for an API key ("" = the default app); ok is
	// false when there is no such app.
	Resolve(apiKey string) (app App, ok bool)
}

// Cluster answers operator questions about the cluster.
type Cluster interface {
	// View is the body of GET /admin/v1/cluster.
	View(ctx context.Context) (any, error)
	// Ready reports readiness and, when not ready, why.
	Ready(ctx context.Context) (bool, string)
}

// Config configures the Server.
type Config struct {
	Addr string
	// Listener, when set, is used instead of binding Addr (lets the caller
	// learn the port before the server starts).
	Listener        net.Listener
	MaxMessageBytes int
	MaxNameBytes    int
	RequestTimeout  time.Duration
	AdminToken      string
	Backend         Backend
	Apps            Apps
	Cluster         Cluster
	// Admin serves the apps part of the admin API; nil answers 501.
	Admin  Admin
	Logger *slog.Logger
}

// Server is the HTTP gateway.
type Server struct {
	cfg     Config
	log     *slog.Logger
	srv     *fasthttp.Server
	ln      net.Listener
	metrics *metrics
	usage   usage
	idemPfx string
	idemSeq atomic.Uint64
	wg      sync.WaitGroup
	stopped atomic.Bool
}

// New returns a Server; Start binds and serves.
func New(cfg Config) (*Server, error) {
	if cfg.Backend == nil || cfg.Apps == nil || cfg.Cluster == nil {
		return nil, errors.New("gateway: backend, apps and cluster are required")
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = 1 << 20
	}
	if cfg.MaxNameBytes <= 0 {
		cfg.MaxNameBytes = codec.DefaultMaxNameBytes
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 20 * time.Second
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	var rb [6]byte
	_, _ = rand.Read(rb[:])
	s := &Server{cfg: cfg, log: lg.With("subsystem", "gateway"), metrics: newMetrics(), idemPfx: hex.EncodeToString(rb[:]) + "-"}
	s.srv = &fasthttp.Server{
		Handler:            s.route,
		Name:               "plexus",
		MaxRequestBodySize: cfg.MaxMessageBytes,
		ReadTimeout:        60 * time.Second,
		IdleTimeout:        120 * time.Second,
		ErrorHandler:       s.errorHandler,
		NoDefaultDate:      false,
		Logger:             fasthttpLogger{s.log},
	}
	return s, nil
}

// Start binds the listener and serves in the background.
func (s *Server) Start() error {
	ln := s.cfg.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", s.cfg.Addr); err != nil {
			return err
		}
	}
	s.ln = ln
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.srv.Serve(ln); err != nil && !s.stopped.Load() {
			s.log.Error("http server stopped", "err", err)
		}
	}()
	s.log.Info("http listening", "addr", ln.Addr().String())
	return nil
}

// Addr returns the bound address.
func (s *Server) Addr() string {
	if s.ln == nil {
		return s.cfg.Addr
	}
	return s.ln.Addr().String()
}

// Stop stops accepting and drains in-flight requests (bounded by ctx).
// Idempotent.
func (s *Server) Stop(ctx context.Context) error {
	if !s.stopped.CompareAndSwap(false, true) || s.ln == nil {
		return nil
	}
	err := s.srv.ShutdownWithContext(ctx)
	s.wg.Wait()
	return err
}

// newIdempotencyKey returns a key unique to this process and request.
func (s *Server) newIdempotencyKey() string {
	return s.idemPfx + strconv.FormatUint(s.idemSeq.Add(1), 10)
}

func (s *Server) errorHandler(ctx *fasthttp.RequestCtx, err error) {
	if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		s.log.Info("request body too large", "path", string(ctx.Path()))
		writePlain(ctx, codec.ErrTooLarge)
		return
	}
	ctx.Error("bad request", fasthttp.StatusBadRequest)
}

type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	f.l.Debug("fasthttp", "msg", format, "args", args)
}

// route is the single entry point. Paths are matched by prefix in order.
func (s *Server) route(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	path := string(ctx.Path())
	family := s.dispatch(ctx, path)
	s.metrics.observe(family, ctx.Response.StatusCode(), time.Since(start))
}

func (s *Server) dispatch(ctx *fasthttp.RequestCtx, path string) string {
	switch {
	case path == "/healthz" || path == "/health-check":
		ctx.SetStatusCode(fasthttp.StatusOK)
		return "health"
	case path == "/readyz":
		s.handleReady(ctx)
		return "health"
	case path == "/metrics":
		s.metrics.serve(ctx)
		return "metrics"
	case path == "/api" || path == "/api/auth":
		s.handleDeepstreamHTTP(ctx, path)
		return "deepstream_http"
	case strings.HasPrefix(path, "/api/v1.0/"):
		notImplemented(ctx, "activity feeds")
		return "feeds"
	case strings.HasPrefix(path, "/api/v1/") || strings.HasPrefix(path, "/api/latest/"):
		notImplemented(ctx, "topics management")
		return "topics"
	case strings.HasPrefix(path, "/api/"):
		writePlain(ctx, codec.ErrEndpointNotFound)
		return "deepstream_http"
	case path == "/deepstream":
		notImplemented(ctx, "deepstream WebSocket")
		return "deepstream_ws"
	case strings.HasPrefix(path, "/v1/records/") || strings.HasPrefix(path, "/v1/events/") || strings.HasPrefix(path, "/v1/topics/"):
		notImplemented(ctx, "SSE topics")
		return "sse"
	case strings.HasPrefix(path, "/stream/0/"):
		notImplemented(ctx, "app streams")
		return "appstreams"
	case strings.HasPrefix(path, "/debug/pprof"):
		if !s.adminAuthorized(ctx) {
			writeJSONError(ctx, fasthttp.StatusUnauthorized, pb.ErrorReason_ERROR_REASON_UNAUTHENTICATED, "missing or wrong admin token", "")
			return "admin"
		}
		pprofhandler.PprofHandler(ctx)
		return "admin"
	case strings.HasPrefix(path, "/admin/"):
		s.handleAdmin(ctx, path)
		return "admin"
	case path == "/openapi.json" || strings.HasPrefix(path, "/ui/") || path == "/ui":
		notImplemented(ctx, "operator UI and OpenAPI document")
		return "ui"
	}
	writeJSONError(ctx, fasthttp.StatusNotFound, pb.ErrorReason_ERROR_REASON_NOT_FOUND, "no such endpoint", "")
	return "other"
}

func (s *Server) handleReady(ctx *fasthttp.RequestCtx) {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ok, why := s.cfg.Cluster.Ready(c)
	if ok {
		ctx.SetStatusCode(fasthttp.StatusOK)
		ctx.SetBodyString("ready\n")
		return
	}
	ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
	ctx.SetBodyString("not ready: " + why + "\n")
}
