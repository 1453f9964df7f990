package keepalived

import (
	"encoding/json"
	"time"
)

// WatchFormat names the JSON form of a Snapshot; it changes when a field
// changes meaning.
const WatchFormat = "chefha.watch/1"

// MarshalJSON writes the snapshot for automation, one object:
//
//	format     "chefha.watch/1"
//	seq, time  Seq and Time (RFC 3339)
//	nodes      the bootstrap, then the secondary, each:
//	  name, bootstrap
//	  error      why the node could not be read (then nothing else but name)
//	  current, requested   status words
//	  lock_pid, lock_alive the transition lock's holder and whether it runs
//	  has_vip
//	  log        cluster.log's new lines, exact; log_gap when some were missed
//	  services   {"up": N, "down": N, "stopped": [names]}, absent when unread
//	  problems   what else could not be read
//	findings   [{"problem", "node", "detail", "fix"}]
func (s Snapshot) MarshalJSON() ([]byte, error) {
	type finding struct {
		Problem Problem `json:"problem"`
		Node    string  `json:"node,omitempty"`
		Detail  string  `json:"detail"`
		Fix     string  `json:"fix,omitempty"`
	}
	type services struct {
		Up      int      `json:"up"`
		Down    int      `json:"down"`
		Stopped []string `json:"stopped,omitempty"`
	}
	type node struct {
		Name      string    `json:"name"`
		Bootstrap bool      `json:"bootstrap"`
		Error     string    `json:"error,omitempty"`
		Current   Status    `json:"current,omitempty"`
		Requested Status    `json:"requested,omitempty"`
		LockPID   int       `json:"lock_pid,omitempty"`
		LockAlive bool      `json:"lock_alive,omitempty"`
		HasVIP    bool      `json:"has_vip"`
		Log       []string  `json:"log,omitempty"`
		LogGap    bool      `json:"log_gap,omitempty"`
		Services  *services `json:"services,omitempty"`
		Problems  []string  `json:"problems,omitempty"`
	}
	view := struct {
		Format   string    `json:"format"`
		Seq      int       `json:"seq"`
		Time     time.Time `json:"time"`
		Nodes    []node    `json:"nodes"`
		Findings []finding `json:"findings"`
	}{Format: WatchFormat, Seq: s.Seq, Time: s.Time, Findings: []finding{}}
	for i, n := range s.Nodes() {
		v := node{Name: n.Name, Bootstrap: i == 0}
		if n.Err != nil {
			v.Error = n.Err.Error()
			view.Nodes = append(view.Nodes, v)
			continue
		}
		v.Current, v.Requested, v.LockPID, v.LockAlive, v.HasVIP = n.Current, n.Requested, n.LockPID, n.LockAlive, n.HasVIP
		v.Log, v.LogGap, v.Problems = n.Log, n.LogGap, n.Problems
		if n.Services != nil {
			v.Services = &services{Up: n.Services.Up, Down: n.Services.Down, Stopped: n.Services.Stopped}
		}
		view.Nodes = append(view.Nodes, v)
	}
	for _, f := range s.Findings {
		view.Findings = append(view.Findings, finding(f))
	}
	return json.Marshal(view)
}
