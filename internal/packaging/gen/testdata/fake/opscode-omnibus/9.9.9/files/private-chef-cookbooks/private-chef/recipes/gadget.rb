gadget = node['private_chef']['gadget']
helper_log = gadget['helper_log_directory']
owner = node['private_chef']['user']['username']

[ gadget['log_directory'], helper_log ].each do |dir|
  directory dir do
    owner owner
    group "adm"
    mode "2770"
  end
end

component_runit_service "gadget"

component_runit_service "gadget-helper" do
  log_directory helper_log
  ha node['private_chef']['gadget']['ha']
  action :down
end

runit_service "gadget" do
  action :restart
  only_if { is_data_master? }
end
