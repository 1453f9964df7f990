package keepalived_test

import (
	"fmt"
	"strings"

	"github.com/chefha/chefha/keepalived"
)

// Two looks at a back end as cluster.sh takes it to master: each snapshot
// carries the state read and the cluster.log lines written since the look
// before.
func ExampleFollower() {
	log := "Tue, 10 Jun 2014 14:00:00 +0000: Transitioning to master\n"
	look := func(current, log string) keepalived.Reading {
		stat := keepalived.Output{Text: fmt.Sprintf("%d 1042", len(log))}
		return keepalived.Reading{
			Current:   keepalived.Output{Text: current},
			Requested: keepalived.Output{Text: "master"},
			Lock:      keepalived.Output{Text: "cat: " + keepalived.LockPath + ": No such file or directory", RC: 1},
			Addrs:     keepalived.Output{Text: "2: eth0    inet 192.168.4.7/24 scope global secondary eth0"},
			LogStat:   stat, Log: keepalived.Output{Text: log}, LogStat2: stat,
			Status: keepalived.Output{Text: "run: nginx: (pid 1300) 5s; run: log: (pid 1299) 5s\ndown: opscode-erchef: 1s, normally up; run: log: (pid 1301) 5s", RC: 3},
		}
	}
	f := keepalived.Follower{Backlog: keepalived.DefaultBacklog}
	for _, r := range []keepalived.Reading{
		look("backup", log),
		look("master", log+"Tue, 10 Jun 2014 14:00:03 +0000: Transitioned to master\n"),
	} {
		s := f.Snapshot("be1.chefha.test", "192.168.4.7", r)
		fmt.Printf("%s; services %d up, down: %s\n", s.Summary(), s.Services.Up, strings.Join(s.Services.Stopped, " "))
		for _, l := range s.Log {
			fmt.Println("  log:", l)
		}
	}
	// Output:
	// be1.chefha.test: backup (requested master), holds VIP; services 1 up, down: opscode-erchef
	//   log: Tue, 10 Jun 2014 14:00:00 +0000: Transitioning to master
	// be1.chefha.test: master, holds VIP; services 1 up, down: opscode-erchef
	//   log: Tue, 10 Jun 2014 14:00:03 +0000: Transitioned to master
}
