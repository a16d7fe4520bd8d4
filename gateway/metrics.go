package gateway

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"
	"github.com/valyala/fasthttp"
)

// metrics is the gateway's Prometheus registry (one per Server, so N nodes
// in one test process do not collide).
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	commands *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "plexus_http_requests_total", Help: "HTTP requests by API family and status."}, []string{"family", "status"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "plexus_http_request_duration_seconds", Help: "HTTP request latency by API family.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}, []string{"family"})
	m.commands = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "plexus_deepstream_http_commands_total", Help: "deepstream HTTP batch commands by topic, action and outcome."}, []string{"topic", "action", "outcome"})
	m.reg.MustRegister(m.requests, m.latency, m.commands, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observe(family string, status int, d time.Duration) {
	m.requests.WithLabelValues(family, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(family).Observe(d.Seconds())
}

func (m *metrics) serve(ctx *fasthttp.RequestCtx) {
	mfs, err := m.reg.Gather()
	if err != nil {
		ctx.Error(err.Error(), fasthttp.StatusInternalServerError)
		return
	}
	ctx.SetContentType(string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	enc := expfmt.NewEncoder(ctx, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		_ = enc.Encode(mf)
	}
}
