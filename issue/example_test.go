package issue_test

import (
	"fmt"

	"github.com/chefha/chefha/issue"
)

func Example() {
	fmt.Println(issue.OC11297, issue.Known("OC-11297"), issue.Known("OC-1"))
	fmt.Println(len(issue.All()), "known issues")
	// Output:
	// OC-11297 true false
	// 13 known issues
}
