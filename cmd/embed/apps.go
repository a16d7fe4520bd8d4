package embed

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/plexushq/plexus/cluster/fsm"
	"github.com/plexushq/plexus/cluster/state"
	"github.com/plexushq/plexus/gateway"
)

// apps resolves API keys against the local FSM (no Raft round trip).
type apps Node

func (a *apps) Resolve(apiKey string) (gateway.App, bool) {
	st := (*Node)(a).meta.State()
	if apiKey == "" {
		app, ok := st.AppByName("default")
		return gateway.App{ID: app.ID, Disabled: app.Disabled}, ok
	}
	app, kind, ok := st.AppByKey(apiKey)
	if !ok || kind != state.KindKey {
		return gateway.App{}, false
	}
	return gateway.App{ID: app.ID, Disabled: app.Disabled}, true
}

// admin implements gateway.Admin over the metadata service. Every write waits
// until the local FSM applied it (read-your-writes on this node).
type admin Node

func appJSON(n *Node, app state.App, c state.Credentials) gateway.AdminApp {
	base := n.baseURL()
	q := "?apiKey=" + c.Key
	ws := "ws" + base[len("http"):]
	return gateway.AdminApp{ID: app.ID, Name: app.Name, Key: c.Key, Secret: c.Secret, SubscriberKey: c.SubscriberKey,
		PublisherKey: c.PublisherKey, AppToken: c.AppToken, WSURL: ws + "/deepstream" + q, HTTPURL: base + "/api" + q,
		AuthURL: base + "/api/auth" + q, CreatedAt: app.CreatedAt, Disabled: app.Disabled, Settings: app.Settings}
}

func (a *admin) view(id string) (gateway.AdminApp, bool) {
	n := (*Node)(a)
	st := n.meta.State()
	app, ok := st.App(id)
	if !ok {
		return gateway.AdminApp{}, false
	}
	c, _ := st.Credentials(id)
	return appJSON(n, app, c), true
}

// apply commits cmd, waits for the local FSM, and maps errors.
func (a *admin) apply(ctx context.Context, cmd fsm.Command) (fsm.Result, error) {
	n := (*Node)(a)
	res, err := n.meta.Apply(ctx, cmd)
	if err != nil {
		return res, err
	}
	if err := n.meta.Node().WaitApplied(ctx, res.Index); err != nil {
		return res, err
	}
	if e := res.Err(); e != nil {
		switch {
		case errors.Is(e, state.ErrNotFound):
			return res, gateway.ErrAdminNotFound
		case errors.Is(e, state.ErrConflict):
			return res, gateway.ErrAdminConflict
		case errors.Is(e, state.ErrInvalid):
			return res, fmt.Errorf("%w: %v", gateway.ErrAdminInvalid, e)
		}
		return res, e
	}
	return res, nil
}

func (a *admin) CreateApp(ctx context.Context, name string) (gateway.AdminApp, error) {
	res, err := a.apply(ctx, fsm.NewCreateApp(name, time.Now()))
	if err != nil {
		return gateway.AdminApp{}, err
	}
	var out fsm.AppWithCredentials
	if err := res.Decode(&out); err != nil {
		return gateway.AdminApp{}, err
	}
	return appJSON((*Node)(a), out.App, out.Credentials), nil
}

func (a *admin) Apps() []gateway.AdminApp {
	n := (*Node)(a)
	st := n.meta.State()
	list := st.Apps()
	out := make([]gateway.AdminApp, 0, len(list))
	for _, app := range list {
		c, _ := st.Credentials(app.ID)
		out = append(out, appJSON(n, app, c))
	}
	return out
}

func (a *admin) App(id string) (gateway.AdminApp, bool) { return a.view(id) }

func (a *admin) UpdateApp(ctx context.Context, id string, p gateway.AppPatch) (gateway.AdminApp, error) {
	cmd, err := fsm.NewUpdateApp(id, state.AppUpdate{Name: p.Name, Settings: p.Settings, Disabled: p.Disabled}, time.Now())
	if err != nil {
		return gateway.AdminApp{}, fmt.Errorf("%w: %v", gateway.ErrAdminInvalid, err)
	}
	return a.applyThenView(ctx, id, cmd)
}

// applyThenView commits cmd and returns app id as this node now sees it.
func (a *admin) applyThenView(ctx context.Context, id string, cmd fsm.Command) (gateway.AdminApp, error) {
	if _, err := a.apply(ctx, cmd); err != nil {
		return gateway.AdminApp{}, err
	}
	v, ok := a.view(id)
	if !ok {
		return v, gateway.ErrAdminNotFound
	}
	return v, nil
}

func (a *admin) DeleteApp(ctx context.Context, id string) error {
	_, err := a.apply(ctx, fsm.NewDeleteApp(id, time.Now()))
	return err
}

func (a *admin) RotateApp(ctx context.Context, id string, kinds []string) (gateway.AdminApp, error) {
	var ks []state.KeyKind
	for _, k := range kinds {
		ks = append(ks, state.KeyKind(k))
	}
	cmd, err := fsm.NewRotateCredentials(id, ks, time.Now())
	if err != nil {
		return gateway.AdminApp{}, fmt.Errorf("%w: %v", gateway.ErrAdminInvalid, err)
	}
	return a.applyThenView(ctx, id, cmd)
}
