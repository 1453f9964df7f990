// Package svdir writes the scripts a lab node runs: its runit service
// directories, the one place for the run scripts that lab.Start lays out
// from outside a node and labnode's reconfigure rewrites from inside it,
// and the shims that start the node program in a role.
package svdir

import (
	"os"
	"path/filepath"
	"strings"
)

// Paths inside a node.
const (
	SvDir         = "/opt/opscode/sv"
	ServiceDir    = "/opt/opscode/service"
	LogDir        = "/var/log/opscode"
	KeepalivedDir = "/var/opt/opscode/keepalived"
)

// The node program (the program that started the lab, placed in the node)
// and the environment variable that, set, makes it take a role instead of
// running its own main. sshd gives commands a clean environment, so every
// script that starts the program sets the variable itself.
const (
	Program = "/usr/local/bin/chefha-labnode"
	RoleEnv = "CHEFHA_LABNODE"
)

// Env is the environment, as NAME=VALUE words, that makes the node
// program take role.
func Env(role string) []string {
	if raceEnv != "" {
		return []string{raceEnv, RoleEnv + "=" + role}
	}
	return []string{RoleEnv + "=" + role}
}

func envPrefix(role string) string { return strings.Join(Env(role), " ") + " " }

// Shim is the script that stands for a role's program in the node (e.g.
// /usr/local/bin/private-chef-ctl): it runs the node program in that role
// with the shim's arguments.
func Shim(role string) string {
	return "#!/bin/sh\n" + envPrefix(role) + "exec " + Program + " \"$@\"\n"
}

// Run is a service's run script: the lab's stand-in process, or keepalived
// itself on a back end.
func Run(name string) string {
	if name == "keepalived" {
		return "#!/bin/sh\nexec 2>&1\nexec keepalived --dont-fork --log-console --vrrp -f " + KeepalivedDir + "/etc/keepalived.conf -p " +
			KeepalivedDir + "/keepalived.pid -r " + KeepalivedDir + "/vrrp.pid\n"
	}
	return "#!/bin/sh\nexec 2>&1\n" + envPrefix("service") + "exec " + Program + " " + name + "\n"
}

// Write makes service name's directory under root ("/" inside a node, the
// node's tree from outside it): run and log/run, a down file when down, the
// link in the service dir (pointing at the in-node path), and the log
// directory unless withoutLogDir. Unchanged scripts are left alone, so
// runsv does not notice a rewrite.
func Write(root, name string, down, withoutLogDir bool) error {
	dir := filepath.Join(root, SvDir, name)
	if err := os.MkdirAll(filepath.Join(dir, "log"), 0o755); err != nil {
		return err
	}
	if err := writeIfChanged(filepath.Join(dir, "run"), Run(name)); err != nil {
		return err
	}
	if err := writeIfChanged(filepath.Join(dir, "log", "run"), "#!/bin/sh\nexec svlogd -tt "+filepath.Join(LogDir, name)+"\n"); err != nil {
		return err
	}
	if !withoutLogDir {
		if err := os.MkdirAll(filepath.Join(root, LogDir, name), 0o755); err != nil {
			return err
		}
	}
	if err := SetDown(root, name, down); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(root, ServiceDir), 0o755); err != nil {
		return err
	}
	link := filepath.Join(root, ServiceDir, name)
	if _, err := os.Lstat(link); err != nil {
		return os.Symlink(filepath.Join(SvDir, name), link)
	}
	return nil
}

// SetDown adds or removes a service's down file (runsv then leaves it down).
func SetDown(root, name string, down bool) error {
	p := filepath.Join(root, SvDir, name, "down")
	if down {
		return os.WriteFile(p, nil, 0o644)
	}
	if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

func writeIfChanged(p, content string) error {
	if b, err := os.ReadFile(p); err == nil && string(b) == content {
		return nil
	}
	return os.WriteFile(p, []byte(content), 0o755)
}
