package ecmodel

import "strings"

// Postinst is what the package's postinst prints
// (package-scripts/private-chef/postinst, the same in 1.2.8.3 and 1.4.6,
// and again in 11.0.2–11.2.0, which add the cleanup paragraph): the
// upgrade text when /etc/opscode/chef-server-running.json exists (a
// reconfigure has run), the welcome otherwise; bold and red by ANSI
// escapes, as `echo -e` prints them.
func (r Release) Postinst(upgraded bool) string {
	const bold, red, off = "\033[1m", "\033[1;31m", "\033[0m"
	if !upgraded {
		return bold + "Thank you for installing Private Chef!" + off + "\n"
	}
	var b strings.Builder
	b.WriteString(bold + "You have upgraded Private Chef!" + off + "\n\nThe next step in the upgrade process is to run:\n\n" +
		red + "private-chef-ctl upgrade" + off + "\n")
	if strings.HasPrefix(r.Version, "11.") {
		b.WriteString("\nThen, to remove configuration files, logs, directories,\nusers, etc. that were used by internal services that\n" +
			"have been removed from this version of Private Chef,\nplease run:\n\n" + red + "private-chef-ctl cleanup" + off + "\n\n" +
			"(Add the '--no-op' option to see what would be removed by\nthis command)\n")
	}
	return b.String()
}
