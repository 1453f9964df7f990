# A made-up release for the generator's tests.
default['enterprise']['name'] = "acme"
default['private_chef']['install_path'] = "/opt/acme"
default['private_chef']['user']['username'] = "acme"

default['private_chef']['widget']['enable'] = true
default['private_chef']['widget']['ha'] = false
default['private_chef']['widget']['version'] = "3.1"
default['private_chef']['widget']['log_directory'] = "/var/log/acme/widget/#{node['private_chef']['widget']['version']}"

default['private_chef']['gadget']['enable'] = true
default['private_chef']['gadget']['ha'] = false
default['private_chef']['gadget']['log_directory'] = "/var/log/acme/gadget"
default['private_chef']['gadget']['helper_log_directory'] = "/var/log/acme/gadget-helper"

default['private_chef']['keepalived']['enable'] = false
default['private_chef']['keepalived']['dir'] = "/var/opt/acme/keepalived"
default['private_chef']['keepalived']['log_directory'] = "/var/log/acme/keepalived"
default['private_chef']['keepalived']['vrrp_instance_state'] = "BACKUP"
default['private_chef']['keepalived']['vrrp_instance_priority'] = "50"
default['private_chef']['keepalived']['vrrp_instance_nopreempt'] = true
default['private_chef']['keepalived']['vrrp_instance_peer'] = nil
default['private_chef']['keepalived']['vrrp_instance_address'] = node['ipaddress']
default['private_chef']['keepalived']['service_posthooks'] = {
  "gadget" => "/opt/acme/bin/wait-for-gadget"
}

if File.exists?("/etc/acme-flag")
  default['private_chef']['widget']['flag'] = true
end
default['private_chef']['widget']['dir'] = "/var/opt/opscode/widget"
