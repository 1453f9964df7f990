package issue_test

import (
	"fmt"

	"github.com/chefha/chefha/issue"
)

func Example() {
	fmt.Println(issue.OC11297, issue.Known("OC-11297"), issue.Known("OC-1"))
	fmt.Println(len(issue.All()), "known issues in the runbook,", len(issue.FromSources()), "more the sources show:", issue.FromSources())
	// Output:
	// OC-11297 true false
	// 13 known issues in the runbook, 3 more the sources show: [OC-11499 OC-11574 EC-11.2.0-RUNSVDIR]
}
