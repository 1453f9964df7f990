name "private-chef"
override :rebar, version: "2.0.0"
dependency "private-chef-ctl"
