package packaging

// The table is generated from snapshots of Chef's packaging repositories
// (see README.md) into releases/: index.json and one VERSION.json per
// release. Each -flag= is empty when its variable is unset, and the
// generator then refuses, naming what is missing.
//go:generate go run ./gen -omnibus=$CHEFHA_SNAPSHOT_OPSCODE_OMNIBUS -omnibus-ctl=$CHEFHA_SNAPSHOT_OMNIBUS_CTL -ecc=$CHEFHA_SNAPSHOT_ENTERPRISE_CHEF_COMMON -runit=$CHEFHA_SNAPSHOT_RUNIT -omnibus-software=$CHEFHA_SNAPSHOT_OMNIBUS_SOFTWARE -o releases
