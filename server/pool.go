package server

import "sync"

// syncPool adapts sync.Pool to websocket.BufferPool.
type syncPool struct{ p sync.Pool }

func (p *syncPool) Get() interface{}  { return p.p.Get() }
func (p *syncPool) Put(x interface{}) { p.p.Put(x) }
