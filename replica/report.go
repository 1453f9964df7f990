package replica

import (
	"bufio"
	"fmt"
	"io"

	"github.com/chefha/chefha/internal/termsafe"
)

// Report says what a replica reproduces of production and what it
// cannot: what a rehearsal on it proves, and what it does not.
type Report struct {
	Target string `json:"target"`
	Nodes  int    `json:"nodes"`
	// Reproduced are what of production the replica has, as read.
	Reproduced []string `json:"reproduced"`
	// NotReproduced are what it does not: what the facts could not
	// carry, and what the target cannot have.
	NotReproduced []string `json:"not_reproduced"`
}

// WriteText writes the report as plain text; what came from production
// is escaped for a terminal.
func (r Report) WriteText(w io.Writer) error {
	b := bufio.NewWriter(w)
	fmt.Fprintf(b, "replica on the %s: %d nodes under production's names\n", r.Target, r.Nodes)
	fmt.Fprintln(b, "reproduced:")
	for _, s := range r.Reproduced {
		fmt.Fprintf(b, "  - %s\n", termsafe.Line(s))
	}
	fmt.Fprintln(b, "not reproduced:")
	for _, s := range r.NotReproduced {
		fmt.Fprintf(b, "  - %s\n", termsafe.Line(s))
	}
	return b.Flush()
}
