package drbd

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
)

// Host is one `on NAME { … address [AF] IP:PORT; }` section of a
// resource in drbd.conf: the node the section configures and the address
// DRBD listens on there, which is the address the other node connects
// to. drbdadm picks the section whose name is the node's `uname -n`, so
// the names are host names as the nodes themselves know them.
type Host struct {
	// Names are the host names the section is for: one in Enterprise
	// Chef's pc0.res (a server name of private-chef.rb).
	Names []string
	// Family is the address family: "ipv4" when the address names none,
	// else as written (ipv6, ssocks, sdp).
	Family string
	// Addr is the replication address and port.
	Addr netip.AddrPort
	// Line is the line the section starts on.
	Line int
}

// Is reports whether the section is for the host called name. DRBD
// compares names as they are; so does Is, but for letter case, which DNS
// names do not carry.
func (h Host) Is(name string) bool {
	return slices.ContainsFunc(h.Names, func(n string) bool { return strings.EqualFold(n, name) })
}

// ConfigError is drbd.conf text that cannot be read as a resource's
// hosts: Line is where (0 when the fault is the file as a whole).
type ConfigError struct {
	Line int
	Msg  string
}

func (e *ConfigError) Error() string {
	if e.Line == 0 {
		return "drbd.conf: " + e.Msg
	}
	return fmt.Sprintf("drbd.conf line %d: %s", e.Line, e.Msg)
}

// ErrNoResource is a configuration that defines no resource of the name
// asked for; ResourceHosts wraps it with the name.
var ErrNoResource = errors.New("drbd.conf: no such resource")

// Address families drbd.conf knows (drbd.conf(5), 8.3 and 8.4: address
// [af] addr:port); ipv4 is the default.
var families = []string{"ipv4", "ipv6", "ssocks", "sdp"}

// maxDepth bounds the nesting of sections: drbd.conf nests four deep at
// most (resource, on, volume, and an option section in it); anything
// deeper is not drbd.conf, and a bound keeps hostile input from costing
// a deep recursion.
const maxDepth = 16

// maxConfig bounds the text read: a resource file is a few hundred
// bytes; a megabyte is no drbd.conf.
const maxConfig = 1 << 20

// ResourceHosts reads drbd.conf text (a whole drbd.conf, a .res file it
// includes such as Enterprise Chef's pc0.res, or `drbdadm dump` output)
// and returns the `on` sections of the resource called name, in file
// order. Other sections (global, common, other resources, skip) and
// include statements are passed over, not followed. A resource without
// an `on` section, an `on` section without exactly one address, a
// resource defined twice, or text that is not drbd.conf syntax is an
// error (*ConfigError); a resource not there is ErrNoResource.
func ResourceHosts(r io.Reader, name string) ([]Host, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxConfig+1))
	if err != nil {
		return nil, fmt.Errorf("drbd.conf: %w", err)
	}
	if len(b) > maxConfig {
		return nil, &ConfigError{Msg: fmt.Sprintf("longer than %d bytes", maxConfig)}
	}
	toks, err := scan(string(b))
	if err != nil {
		return nil, err
	}
	p := parser{toks: toks}
	top, err := p.block(0, 0)
	if err != nil {
		return nil, err
	}
	var res *statement
	for i := range top {
		s := &top[i]
		if s.words[0] != "resource" {
			continue
		}
		if s.body == nil || len(s.words) != 2 {
			return nil, &ConfigError{Line: s.line, Msg: "a resource is `resource NAME { … }`"}
		}
		if s.words[1] != name {
			continue
		}
		if res != nil {
			return nil, &ConfigError{Line: s.line, Msg: fmt.Sprintf("resource %s defined again (first on line %d)", name, res.line)}
		}
		res = s
	}
	if res == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoResource, name)
	}
	var hosts []Host
	for _, s := range res.body {
		if s.words[0] != "on" {
			continue
		}
		h, err := onSection(s)
		if err != nil {
			return nil, err
		}
		for _, prev := range hosts {
			for _, n := range h.Names {
				if prev.Is(n) {
					return nil, &ConfigError{Line: s.line, Msg: fmt.Sprintf("host %s has a second `on` section (first on line %d)", n, prev.Line)}
				}
			}
		}
		hosts = append(hosts, h)
	}
	if len(hosts) == 0 {
		return nil, &ConfigError{Line: res.line, Msg: fmt.Sprintf("resource %s has no `on HOST { … }` section", name)}
	}
	return hosts, nil
}

// onSection reads one `on NAME… { … }` section.
func onSection(s statement) (Host, error) {
	if s.body == nil || len(s.words) < 2 {
		return Host{}, &ConfigError{Line: s.line, Msg: "an `on` section is `on HOSTNAME { … }`"}
	}
	h := Host{Names: s.words[1:], Line: s.line}
	found := 0
	for _, a := range s.body {
		if a.words[0] != "address" {
			continue
		}
		if a.body != nil {
			return Host{}, &ConfigError{Line: a.line, Msg: "address is a parameter, not a section"}
		}
		if found++; found > 1 {
			return Host{}, &ConfigError{Line: a.line, Msg: "a second address for " + h.Names[0]}
		}
		var err error
		if h.Family, h.Addr, err = parseAddress(a.words[1:]); err != nil {
			return Host{}, &ConfigError{Line: a.line, Msg: fmt.Sprintf("address of %s: %v", h.Names[0], err)}
		}
	}
	if found == 0 {
		return Host{}, &ConfigError{Line: s.line, Msg: "no address for " + h.Names[0]}
	}
	return h, nil
}

// parseAddress reads an address parameter's value: [AF] IP:PORT, an
// IPv6 address in brackets ("ipv6 [fd00::10]:7788", as Enterprise
// Chef 11.1's pc0.res.erb writes it with use_ipv6).
func parseAddress(args []string) (string, netip.AddrPort, error) {
	family, text := "ipv4", ""
	switch len(args) {
	case 1:
		text = args[0]
	case 2:
		family, text = args[0], args[1]
		if !slices.Contains(families, family) {
			return "", netip.AddrPort{}, fmt.Errorf("unknown address family %q (%s)", family, strings.Join(families, ", "))
		}
	default:
		return "", netip.AddrPort{}, fmt.Errorf("%q is not [FAMILY] IP:PORT", strings.Join(args, " "))
	}
	ap, err := netip.ParseAddrPort(text)
	if err != nil {
		return "", netip.AddrPort{}, fmt.Errorf("%q is not IP:PORT", text)
	}
	if ap.Port() == 0 {
		return "", netip.AddrPort{}, fmt.Errorf("%q has port 0", text)
	}
	if ip := ap.Addr(); (family == "ipv6") != (ip.Is6() && !ip.Is4In6()) {
		return "", netip.AddrPort{}, fmt.Errorf("%s is not an %s address", ip, family)
	}
	return family, ap, nil
}

// token is one word, string or punctuation mark ({, }, ;) of drbd.conf.
type token struct {
	text  string
	punct bool
	line  int
}

// scan splits drbd.conf text into tokens as drbdadm's scanner does:
// blanks separate words; # starts a comment to the end of the line;
// "…" is a string, with backslash escapes, on one line; {, } and ; stand
// alone.
func scan(text string) ([]token, error) {
	var toks []token
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), maxConfig+1)
	line := 0
	for sc.Scan() {
		line++
		l := sc.Text()
		for i := 0; i < len(l); {
			c := l[i]
			switch {
			case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
				i++
			case c == '#':
				i = len(l)
			case c == '{' || c == '}' || c == ';':
				toks = append(toks, token{text: string(c), punct: true, line: line})
				i++
			case c == '"':
				var b strings.Builder
				j := i + 1
				for ; j < len(l) && l[j] != '"'; j++ {
					if l[j] == '\\' && j+1 < len(l) {
						j++
					}
					b.WriteByte(l[j])
				}
				if j == len(l) {
					return nil, &ConfigError{Line: line, Msg: "a string is not closed on its line"}
				}
				toks = append(toks, token{text: b.String(), line: line})
				i = j + 1
			case c < ' ' || c == 0x7f:
				return nil, &ConfigError{Line: line, Msg: fmt.Sprintf("control character %q", c)}
			default:
				j := i
				for j < len(l) && !strings.ContainsRune(" \t\r\f\v{};\"", rune(l[j])) && l[j] >= ' ' && l[j] != 0x7f {
					j++
				}
				toks = append(toks, token{text: l[i:j], line: line})
				i = j
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, &ConfigError{Line: line + 1, Msg: err.Error()}
	}
	return toks, nil
}

// statement is a parameter (words ended by ;) or a section (words and a
// body in braces).
type statement struct {
	words []string
	body  []statement // nil for a parameter; a section's is never nil
	line  int
}

type parser struct {
	toks []token
	pos  int
}

// block reads statements up to the } that closes the section opened on
// line open (depth > 0), or to the end of the text (depth 0).
func (p *parser) block(depth, open int) ([]statement, error) {
	if depth > maxDepth {
		return nil, &ConfigError{Line: open, Msg: fmt.Sprintf("sections nested deeper than %d", maxDepth)}
	}
	out := []statement{}
	var words []string
	line := 0
	for p.pos < len(p.toks) {
		t := p.toks[p.pos]
		p.pos++
		if !t.punct {
			if len(words) == 0 {
				line = t.line
			}
			words = append(words, t.text)
			continue
		}
		switch t.text {
		case ";":
			if len(words) == 0 {
				return nil, &ConfigError{Line: t.line, Msg: "a ; ends no parameter"}
			}
			out = append(out, statement{words: words, line: line})
		case "{":
			if len(words) == 0 {
				return nil, &ConfigError{Line: t.line, Msg: "a section has no keyword before its {"}
			}
			body, err := p.block(depth+1, line)
			if err != nil {
				return nil, err
			}
			out = append(out, statement{words: words, body: body, line: line})
		case "}":
			if len(words) > 0 {
				return nil, &ConfigError{Line: t.line, Msg: fmt.Sprintf("%q is not ended by ; before the }", strings.Join(words, " "))}
			}
			if depth == 0 {
				return nil, &ConfigError{Line: t.line, Msg: "a } closes no section"}
			}
			return out, nil
		}
		words = nil
	}
	if len(words) > 0 {
		return nil, &ConfigError{Line: line, Msg: fmt.Sprintf("%q is not ended by ;", strings.Join(words, " "))}
	}
	if depth > 0 {
		return nil, &ConfigError{Line: open, Msg: "the section opened here is not closed: the text ends inside it"}
	}
	return out, nil
}
