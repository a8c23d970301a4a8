// Package serverlimits gives the HTTP servers of this module (the mock
// Kanta and the gateway's operations server) their resource limits: read,
// write and idle timeouts, a request body limit and a connection limit, so
// a slow or idle client cannot hold a server's connections or memory.
package serverlimits

import (
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Limits of one HTTP server. Zero fields take the defaults given to
// WithDefaults.
type Limits struct {
	// ReadHeaderTimeout bounds reading the request line and headers;
	// ReadTimeout the whole request, body included (a slow body is cut).
	ReadHeaderTimeout time.Duration `mapstructure:"read_header_timeout" json:"read_header_timeout"`
	ReadTimeout       time.Duration `mapstructure:"read_timeout" json:"read_timeout"`
	// WriteTimeout bounds the time from the end of the request headers to
	// the end of the response.
	WriteTimeout time.Duration `mapstructure:"write_timeout" json:"write_timeout"`
	// IdleTimeout closes a keep-alive connection that sends no next request.
	IdleTimeout time.Duration `mapstructure:"idle_timeout" json:"idle_timeout"`
	// MaxBodyBytes bounds a request body (a larger one is answered 413).
	MaxBodyBytes int64 `mapstructure:"max_body_bytes" json:"max_body_bytes"`
	// MaxConnections bounds the connections served at once; further ones
	// wait in the listen backlog until one closes.
	MaxConnections int `mapstructure:"max_connections" json:"max_connections"`
}

// WithDefaults fills the zero fields of l from d.
func (l Limits) WithDefaults(d Limits) Limits {
	if l.ReadHeaderTimeout == 0 {
		l.ReadHeaderTimeout = d.ReadHeaderTimeout
	}
	if l.ReadTimeout == 0 {
		l.ReadTimeout = d.ReadTimeout
	}
	if l.WriteTimeout == 0 {
		l.WriteTimeout = d.WriteTimeout
	}
	if l.IdleTimeout == 0 {
		l.IdleTimeout = d.IdleTimeout
	}
	if l.MaxBodyBytes == 0 {
		l.MaxBodyBytes = d.MaxBodyBytes
	}
	if l.MaxConnections == 0 {
		l.MaxConnections = d.MaxConnections
	}
	return l
}

// Validate reports the first limit that is not positive, by its key.
func (l Limits) Validate() error {
	for _, f := range []struct {
		key string
		ok  bool
	}{
		{"read_header_timeout", l.ReadHeaderTimeout > 0},
		{"read_timeout", l.ReadTimeout > 0},
		{"write_timeout", l.WriteTimeout > 0},
		{"idle_timeout", l.IdleTimeout > 0},
		{"max_body_bytes", l.MaxBodyBytes > 0},
		{"max_connections", l.MaxConnections > 0},
	} {
		if !f.ok {
			return &FieldError{Key: f.key}
		}
	}
	if l.ReadHeaderTimeout > l.ReadTimeout {
		return &FieldError{Key: "read_header_timeout", Reason: "must not exceed read_timeout"}
	}
	return nil
}

// FieldError names a limit that is wrong.
type FieldError struct{ Key, Reason string }

func (e *FieldError) Error() string {
	if e.Reason == "" {
		return e.Key + ": must be positive"
	}
	return e.Key + ": " + e.Reason
}

// Server returns an http.Server with l's timeouts whose handler refuses
// bodies over MaxBodyBytes. Serve it on Listener(ln).
func (l Limits) Server(h http.Handler) *http.Server {
	max := l.MaxBodyBytes
	return &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > max {
				http.Error(w, fmt.Sprintf("request body over %d bytes", max), http.StatusRequestEntityTooLarge)
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, max)
			h.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
	}
}

// Listener wraps ln so that at most MaxConnections accepted connections
// are open at once.
func (l Limits) Listener(ln net.Listener) net.Listener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, l.MaxConnections), done: make(chan struct{})}
}

type limitListener struct {
	net.Listener
	slots     chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.slots }}, nil
}

func (l *limitListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
