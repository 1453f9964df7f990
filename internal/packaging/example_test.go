package packaging_test

import (
	"fmt"

	"github.com/chefha/chefha/internal/packaging"
)

// What a pre-flight check expects of an 11.1.8 back end's postgresql, and
// where each expectation was read.
func Example() {
	r, ok := packaging.Lookup("11.1.8")
	if !ok {
		fmt.Println("no such release")
		return
	}
	pg, _ := r.Service("postgresql")
	fmt.Println("log directory:", pg.Log.Path.Value)
	fmt.Println("  from", pg.Log.Path.Source)
	fmt.Println("HA:", pg.HA.Value, "down file:", pg.DownFile.Value)
	fmt.Println("runsvdir job:", r.JobNames())
	left, _ := packaging.LeftoverJobs("11.1.8", "11.2.0")
	fmt.Println("after 11.2.0 still there:", left)
	// Output:
	// log directory: /var/log/opscode/postgresql/9.2
	//   from chef-boneyard/opscode-omnibus@11.1.8:files/private-chef-cookbooks/private-chef/attributes/default.rb:338
	// HA: true down file: unmanaged
	// runsvdir job: [private-chef-runsvdir]
	// after 11.2.0 still there: [private-chef-runsvdir]
}
