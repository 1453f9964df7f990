directory "/etc/opscode" do
  owner "root"
  mode "0755"
  action :nothing
end.run_action(:create)

file "/etc/opscode/acme.pem" do
  owner node["private_chef"]["user"]["username"]
  group "root"
  mode "0600"
end

directory "/var/log/acme" do
  owner "acme"
  mode "0755"
end

[
  "widget",
  "gadget",
  "keepalived"
].each do |service|
  if node["private_chef"][service]["enable"]
    include_recipe "private-chef::#{service}"
  else
    runit_service service do
      action :disable
    end
  end
end
