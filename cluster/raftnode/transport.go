package raftnode

import (
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// tcpStreamLayer is raft's StreamLayer over a TCP listener we bind ourselves, so that port 0 and an advertise
// host without a known port both work (raft.NewTCPTransport needs the advertised port before binding).
//
// It also tracks every accepted and dialed connection and closes them all in Close: raft's NetworkTransport.Close
// only closes the listener, leaving pooled and inbound connections (and their goroutines) alive until the peer
// hangs up. Cutting them makes a stopped node look crashed to its peers at once and leaks no goroutines.
type tcpStreamLayer struct {
	net.Listener
	advertise net.Addr

	mu     sync.Mutex
	closed bool
	conns  map[*trackedConn]struct{}
}

type trackedConn struct {
	net.Conn
	owner *tcpStreamLayer
	once  sync.Once
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.owner.mu.Lock()
		delete(c.owner.conns, c)
		c.owner.mu.Unlock()
	})
	return err
}

func (t *tcpStreamLayer) track(c net.Conn) (net.Conn, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		c.Close()
		return nil, net.ErrClosed
	}
	tc := &trackedConn{Conn: c, owner: t}
	t.conns[tc] = struct{}{}
	return tc, nil
}

// Accept implements net.Listener.
func (t *tcpStreamLayer) Accept() (net.Conn, error) {
	c, err := t.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return t.track(c)
}

// Close closes the listener and every tracked connection.
func (t *tcpStreamLayer) Close() error {
	err := t.Listener.Close()
	t.mu.Lock()
	t.closed = true
	conns := t.conns
	t.conns = map[*trackedConn]struct{}{}
	t.mu.Unlock()
	for c := range conns {
		c.Conn.Close()
	}
	return err
}

func listenTCP(bind, advertise string) (*tcpStreamLayer, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("raftnode: listen %s: %w", bind, err)
	}
	bound := ln.Addr().(*net.TCPAddr)
	var adv *net.TCPAddr
	if advertise == "" {
		if bound.IP.IsUnspecified() {
			ln.Close()
			return nil, fmt.Errorf("raftnode: bind address %s is a wildcard; set an advertise address", bind)
		}
		adv = bound
	} else {
		host, port, _ := net.SplitHostPort(advertise)
		if port == "0" || port == "" {
			advertise = net.JoinHostPort(host, fmt.Sprint(bound.Port))
		}
		adv, err = net.ResolveTCPAddr("tcp", advertise)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("raftnode: advertise address %s: %w", advertise, err)
		}
		if adv.IP == nil || adv.IP.IsUnspecified() {
			ln.Close()
			return nil, fmt.Errorf("raftnode: advertise address %s is not routable", advertise)
		}
	}
	return &tcpStreamLayer{Listener: ln, advertise: adv, conns: map[*trackedConn]struct{}{}}, nil
}

// Addr returns the advertised address (raft uses it as this server's address).
func (t *tcpStreamLayer) Addr() net.Addr { return t.advertise }

// Dial implements raft.StreamLayer.
func (t *tcpStreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	c, err := d.Dial("tcp", string(address))
	if err != nil {
		return nil, err
	}
	return t.track(c)
}

// Interface guards
var _ raft.StreamLayer = (*tcpStreamLayer)(nil)
