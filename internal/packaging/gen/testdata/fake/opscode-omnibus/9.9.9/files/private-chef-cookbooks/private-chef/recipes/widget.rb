widget_log = node['private_chef']['widget']['log_directory']

directory widget_log do
  owner node['private_chef']['user']['username']
  mode 0750
  recursive true
end

runit_service "old-widget" do
  action :disable
end

component_runit_service "widget"

widget_etc = File.join(node['private_chef']['widget']['dir'], "etc")

template File.join(widget_etc, "widget.config") do
  source "widget.config.erb"
  owner node['private_chef']['user']['username']
  group "acme"
  mode "644"
end
