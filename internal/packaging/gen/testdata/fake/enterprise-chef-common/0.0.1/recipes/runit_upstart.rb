project = node['enterprise']['name']

execute "initctl stop old-runsvdir" do
  only_if "initctl status old-runsvdir | grep start"
end

file "/etc/init/old-runsvdir.conf" do
  action :delete
end

template "/etc/init/#{project}-runsvdir.conf" do
  source "init-runsvdir.erb"
  variables({
    :install_path => node['private_chef']['install_path'],
    :project => project
  })
end
