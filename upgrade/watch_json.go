package upgrade

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/chefha/chefha/drbd"
	"github.com/chefha/chefha/keepalived"
)

// WatchFormat names the JSON form of a WatchSnapshot; it changes when a
// field changes meaning. (chefha.watch/1 was the back-end pair alone.)
const WatchFormat = "chefha.watch/2"

// MarshalJSON writes the snapshot for automation, one object:
//
//	format     "chefha.watch/2"
//	seq, time  Seq and Time (RFC 3339)
//	backends   the bootstrap, then the secondary, each:
//	  name, bootstrap
//	  error      why the node could not be read (then nothing else but name)
//	  current, requested   keepalived's status words
//	  lock_pid, lock_alive the transition lock's holder and whether it runs
//	  has_vip
//	  log        cluster.log's new lines, exact; log_gap when some were missed
//	  services   {"up": N, "down": N, "stopped": [names]}, absent when unread
//	  problems   what else could not be read
//	  drbd       {"cstate", "role", "peer_role", "disk", "peer_disk",
//	             "sync": {"percent", "left_kib", "total_kib", "finish_s",
//	             "verify"}} or {"error"}
//	frontends  each: name, error, services, problems
//	step       with a journal: journal, error, phase, total, next and last
//	           ({"index", "id", "title"}; last also "finished", "found"),
//	           finished, running, since, owner (the lock's: host, pid,
//	           since, heartbeat, plan), owner_alive, lock_problem
//	findings   [{"problem", "node", "detail", "fix", "ignored"}]
func (s WatchSnapshot) MarshalJSON() ([]byte, error) {
	view := struct {
		Format    string           `json:"format"`
		Seq       int              `json:"seq"`
		Time      time.Time        `json:"time"`
		Backends  []jsonBackend    `json:"backends"`
		Frontends []jsonFrontend   `json:"frontends"`
		Step      *jsonStep        `json:"step,omitempty"`
		Findings  []jsonWatchIssue `json:"findings"`
	}{Format: WatchFormat, Seq: s.Seq, Time: s.Time, Frontends: []jsonFrontend{}, Findings: []jsonWatchIssue{}}
	for i, b := range s.Backends {
		view.Backends = append(view.Backends, backendJSON(b, i == 0))
	}
	for _, f := range s.Frontends {
		v := jsonFrontend{Name: f.Name, Error: errText(f.Err), Services: servicesJSON(f.Services), Problems: f.Problems}
		view.Frontends = append(view.Frontends, v)
	}
	if s.Step != nil {
		view.Step = stepJSON(*s.Step)
	}
	for _, f := range s.Findings {
		view.Findings = append(view.Findings, jsonWatchIssue(f))
	}
	return json.Marshal(view)
}

type jsonServices struct {
	Up      int      `json:"up"`
	Down    int      `json:"down"`
	Stopped []string `json:"stopped,omitempty"`
}

type jsonBackend struct {
	Name      string            `json:"name"`
	Bootstrap bool              `json:"bootstrap"`
	Error     string            `json:"error,omitempty"`
	Current   keepalived.Status `json:"current,omitempty"`
	Requested keepalived.Status `json:"requested,omitempty"`
	LockPID   int               `json:"lock_pid,omitempty"`
	LockAlive bool              `json:"lock_alive,omitempty"`
	HasVIP    bool              `json:"has_vip"`
	Log       []string          `json:"log,omitempty"`
	LogGap    bool              `json:"log_gap,omitempty"`
	Services  *jsonServices     `json:"services,omitempty"`
	Problems  []string          `json:"problems,omitempty"`
	DRBD      *jsonDRBD         `json:"drbd,omitempty"`
}

type jsonDRBD struct {
	Error    string          `json:"error,omitempty"`
	CState   drbd.ConnState  `json:"cstate,omitempty"`
	Role     drbd.Role       `json:"role,omitempty"`
	PeerRole drbd.Role       `json:"peer_role,omitempty"`
	Disk     drbd.DiskState  `json:"disk,omitempty"`
	PeerDisk drbd.DiskState  `json:"peer_disk,omitempty"`
	Sync     *jsonDRBDResync `json:"sync,omitempty"`
}

type jsonDRBDResync struct {
	Verify   bool    `json:"verify,omitempty"`
	Percent  float64 `json:"percent"`
	LeftKiB  uint64  `json:"left_kib"`
	TotalKiB uint64  `json:"total_kib"`
	FinishS  float64 `json:"finish_s"`
}

type jsonFrontend struct {
	Name     string        `json:"name"`
	Error    string        `json:"error,omitempty"`
	Services *jsonServices `json:"services,omitempty"`
	Problems []string      `json:"problems,omitempty"`
}

type jsonStepRef struct {
	Index    int        `json:"index"`
	ID       string     `json:"id"`
	Title    string     `json:"title"`
	Finished *time.Time `json:"finished,omitempty"`
	Found    bool       `json:"found,omitempty"`
}

type jsonStep struct {
	Journal     string       `json:"journal"`
	Error       string       `json:"error,omitempty"`
	NoRun       bool         `json:"no_run,omitempty"`
	Phase       Phase        `json:"phase,omitempty"`
	Total       int          `json:"total,omitempty"`
	Next        *jsonStepRef `json:"next,omitempty"`
	Last        *jsonStepRef `json:"last,omitempty"`
	Finished    bool         `json:"finished,omitempty"`
	Running     bool         `json:"running,omitempty"`
	Since       *time.Time   `json:"since,omitempty"`
	Owner       *jsonOwner   `json:"owner,omitempty"`
	OwnerAlive  bool         `json:"owner_alive,omitempty"`
	LockProblem string       `json:"lock_problem,omitempty"`
}

// jsonOwner is the lock's owner without its nonce and machine id: they
// tell runs apart, an operator needs the process.
type jsonOwner struct {
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	Since     time.Time `json:"since"`
	Heartbeat time.Time `json:"heartbeat"`
	Plan      string    `json:"plan,omitempty"`
}

type jsonWatchIssue struct {
	Problem string `json:"problem"`
	Node    string `json:"node,omitempty"`
	Detail  string `json:"detail"`
	Fix     string `json:"fix,omitempty"`
	Ignored bool   `json:"ignored,omitempty"`
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func servicesJSON(c *keepalived.ServiceCount) *jsonServices {
	if c == nil {
		return nil
	}
	return &jsonServices{Up: c.Up, Down: c.Down, Stopped: c.Stopped}
}

func backendJSON(b WatchBackend, bootstrap bool) jsonBackend {
	v := jsonBackend{Name: b.Name, Bootstrap: bootstrap}
	if b.Err != nil {
		v.Error = b.Err.Error()
		return v
	}
	v.Current, v.Requested, v.LockPID, v.LockAlive, v.HasVIP = b.Current, b.Requested, b.LockPID, b.LockAlive, b.HasVIP
	v.Log, v.LogGap, v.Problems, v.Services = b.Log, b.LogGap, b.Problems, servicesJSON(b.Services)
	if b.DRBDErr != nil {
		v.DRBD = &jsonDRBD{Error: b.DRBDErr.Error()}
		return v
	}
	r := b.DRBD
	v.DRBD = &jsonDRBD{CState: r.CState, Role: r.Role, PeerRole: r.PeerRole, Disk: r.Disk, PeerDisk: r.PeerDisk}
	if p := r.Sync; p != nil {
		v.DRBD.Sync = &jsonDRBDResync{Verify: p.Verify, Percent: p.Percent, LeftKiB: p.LeftKiB, TotalKiB: p.TotalKiB, FinishS: p.Finish.Seconds()}
	}
	return v
}

func stepJSON(s WatchStep) *jsonStep {
	v := &jsonStep{Journal: s.Journal, Error: errText(s.Err), NoRun: errors.Is(s.Err, ErrNoJournal)}
	if s.Err != nil {
		return v
	}
	v.Phase, v.Total, v.Finished, v.Running = s.Phase, s.Total, s.Finished(), s.Running
	v.OwnerAlive, v.LockProblem = s.OwnerAlive, s.LockProblem
	if o := s.Owner; o != nil {
		v.Owner = &jsonOwner{Host: o.Host, PID: o.PID, Since: o.Since, Heartbeat: o.Heartbeat, Plan: o.Plan}
	}
	if s.NextIndex > 0 {
		v.Next = &jsonStepRef{Index: s.NextIndex, ID: s.Next.ID, Title: s.Next.Title}
	}
	if s.LastIndex > 0 {
		at := s.LastRecord.Finished
		v.Last = &jsonStepRef{Index: s.LastIndex, ID: s.Last.ID, Title: s.Last.Title, Finished: &at, Found: s.LastRecord.Found}
	}
	if s.Running {
		v.Since = &s.Since
	}
	return v
}
