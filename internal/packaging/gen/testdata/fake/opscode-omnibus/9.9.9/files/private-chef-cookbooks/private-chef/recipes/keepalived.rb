keepalived_dir = node['private_chef']['keepalived']['dir']

template File.join(keepalived_dir, "etc", "keepalived.conf") do
  source "keepalived.conf.erb"
  variables(node['private_chef']['keepalived'].to_hash)
  notifies :restart, 'runit_service[keepalived]' if OmnibusHelper.should_notify?("keepalivd")
end

template File.join(keepalived_dir, "bin", "cluster.sh") do
  source "cluster.sh.erb"
  mode "0755"
end

component_runit_service "keepalived"
