# source: constructed in the style operators write private-chef.rb after an EC 11 upgrade: single quotes, comments, Ruby 1.9 hash keys, parentheses, a second front end, and EC 11 settings (OC-11540's non_ssl_port)
topology 'ha'   # two back ends, DRBD

# bootstrap back end
server('be1.example.com', :ipaddress => '192.168.4.1', :role => 'backend', :bootstrap => true, :cluster_ipaddress => '10.1.2.10')
server "be2.example.com", ipaddress: "192.168.4.6", role: "backend",
       cluster_ipaddress: "10.1.2.12" # standby
backend_vip "be.example.com", :ipaddress => "192.168.4.7/24", :device => "eth0"

server "fe1.example.com", :ipaddress => "192.168.4.2", :role => "frontend"
server "fe2.example.com", :ipaddress => "192.168.4.3", :role => "frontend"
api_fqdn "chef.example.com"

nginx['non_ssl_port'] = false
nginx['enable_non_ssl'] = false
opscode_erchef['max_request_size'] = 2000000
notification_email "ops@example.com"   # "quoted # inside" is a comment
ldap['bind_dn'] = "CN=chef,OU=svc,DC=example,DC=com # not a comment"
