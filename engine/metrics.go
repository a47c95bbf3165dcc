package engine

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"podium/game"
)

// Metrics are the engine's Prometheus collectors.
type Metrics struct {
	Ingested       *prometheus.CounterVec   // by kind and outcome code
	IngestSeconds  *prometheus.HistogramVec // by kind
	EffectsApplied prometheus.Counter
	Relayed        prometheus.Counter
	Rebuilds       prometheus.Counter
	Connections    prometheus.Gauge
	MessagesSent   prometheus.Counter
	SlowClosed     prometheus.Counter
}

// NewMetrics creates the collectors. Register them with Register.
func NewMetrics() *Metrics {
	m := &Metrics{
		Ingested: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podium_ingest_total", Help: "Ingest requests by kind (deal, activity, batch) and result code (ok or an error code).",
		}, []string{"kind", "code"}),
		IngestSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "podium_ingest_seconds", Help: "Time from ingest request to durable commit and applied effects.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"kind"}),
		EffectsApplied: prometheus.NewCounter(prometheus.CounterOpts{Name: "podium_effects_applied_total", Help: "Committed events applied to boards and bus."}),
		Relayed:        prometheus.NewCounter(prometheus.CounterOpts{Name: "podium_outbox_relayed_total", Help: "Outbox rows re-applied by the relay."}),
		Rebuilds:       prometheus.NewCounter(prometheus.CounterOpts{Name: "podium_board_rebuilds_total", Help: "Automatic board rebuilds after the board store lost data."}),
		Connections:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "podium_ws_connections", Help: "Open WebSocket connections."}),
		MessagesSent:   prometheus.NewCounter(prometheus.CounterOpts{Name: "podium_ws_messages_sent_total", Help: "Messages queued to WebSocket connections."}),
		SlowClosed:     prometheus.NewCounter(prometheus.CounterOpts{Name: "podium_ws_slow_disconnects_total", Help: "Connections closed because they did not read fast enough."}),
	}
	return m
}

// Register registers every collector with reg.
func (m *Metrics) Register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.Ingested, m.IngestSeconds, m.EffectsApplied, m.Relayed, m.Rebuilds, m.Connections, m.MessagesSent, m.SlowClosed} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func (m *Metrics) observeIngest(kind string, err error, d time.Duration) {
	code := "ok"
	if err != nil {
		code = game.ErrorCode(err)
	}
	m.Ingested.WithLabelValues(kind, code).Inc()
	m.IngestSeconds.WithLabelValues(kind).Observe(d.Seconds())
}
