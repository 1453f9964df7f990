name "omnibus-ctl"
default_version "0.0.9"
