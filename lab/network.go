package lab

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// bridgeUp makes the lab's bridge, the host's end of the subnet.
func (l *Lab) bridgeUp(ctx context.Context) error {
	host := addr(l.Subnet, hostIndex(l.Subnet)).String() + "/" + strconv.Itoa(l.Subnet.Bits())
	for _, args := range [][]string{
		{"link", "add", l.bridge, "type", "bridge"},
		{"addr", "add", host, "dev", l.bridge},
		{"link", "set", l.bridge, "up"},
	} {
		if err := run(ctx, "ip", args...); err != nil {
			return err
		}
	}
	return nil
}

// network gives a node its namespace and its eth0 on the lab's bridge.
func (l *Lab) network(ctx context.Context, n *Node) error {
	cidr := n.Addr + "/" + strconv.Itoa(l.Subnet.Bits())
	steps := [][]string{
		{"netns", "add", n.NetNS},
		{"link", "add", n.veth, "type", "veth", "peer", "name", "eth0", "netns", n.NetNS},
		{"link", "set", n.veth, "master", l.bridge},
		{"link", "set", n.veth, "up"},
		{"-n", n.NetNS, "link", "set", "lo", "up"},
		{"-n", n.NetNS, "addr", "add", cidr, "dev", "eth0"},
		{"-n", n.NetNS, "link", "set", "eth0", "up"},
	}
	if n.ClusterAddr != "" {
		steps = append(steps, []string{"-n", n.NetNS, "addr", "add", n.ClusterAddr + "/" + strconv.Itoa(l.Subnet.Bits()), "dev", "eth0"})
	}
	for _, s := range steps {
		if err := run(ctx, "ip", s...); err != nil {
			return err
		}
	}
	return nil
}

// killNetNS kills what still runs in a namespace and deletes it.
func killNetNS(ctx context.Context, ns string) {
	if out, err := exec.CommandContext(ctx, "ip", "netns", "pids", ns).Output(); err == nil {
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	exec.CommandContext(ctx, "ip", "netns", "delete", ns).Run()
}

func deleteLink(ctx context.Context, name string) {
	exec.CommandContext(ctx, "ip", "link", "delete", name).Run()
}

// netnsNames lists the host's named network namespaces.
func netnsNames(ctx context.Context) []string {
	out, _ := exec.CommandContext(ctx, "ip", "netns", "list").Output()
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names
}

// linkNames lists the host's network interfaces ("eth0", not "eth0@if3").
func linkNames(ctx context.Context) []string {
	out, _ := exec.CommandContext(ctx, "ip", "-o", "link", "show").Output()
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 1 {
			name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
			names = append(names, name)
		}
	}
	return names
}
