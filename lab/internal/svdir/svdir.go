// Package svdir writes a lab node's runit service directories: the one
// place for the run scripts that lab.Start lays out from outside a node and
// chefha-labnode's reconfigure rewrites from inside it.
package svdir

import (
	"os"
	"path/filepath"
)

// Paths inside a node.
const (
	SvDir         = "/opt/opscode/sv"
	ServiceDir    = "/opt/opscode/service"
	LogDir        = "/var/log/opscode"
	KeepalivedDir = "/var/opt/opscode/keepalived"
)

// Run is a service's run script: the lab's stand-in process, or keepalived
// itself on a back end.
func Run(name string) string {
	if name == "keepalived" {
		return "#!/bin/sh\nexec 2>&1\nexec keepalived --dont-fork --log-console --vrrp -f " + KeepalivedDir + "/etc/keepalived.conf -p " +
			KeepalivedDir + "/keepalived.pid -r " + KeepalivedDir + "/vrrp.pid\n"
	}
	return "#!/bin/sh\nexec 2>&1\nexec /usr/local/bin/chefha-labnode service " + name + "\n"
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
