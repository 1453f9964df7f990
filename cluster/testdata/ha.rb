# source: reference/formats.md, the HA reference private-chef.rb from Chef's published docs
topology "ha"
server "be1.example.com",
  :ipaddress => "192.168.4.1",
  :role => "backend",
  :bootstrap => true,
  :cluster_ipaddress => "10.1.2.10"
server "be2.example.com",
  :ipaddress => "192.168.4.6",
  :role => "backend",
  :cluster_ipaddress => "10.1.2.12"
backend_vip "be.example.com",
  :ipaddress => "192.168.4.7",
  :device => "eth0",
  :heartbeat_device => "eth1"
server "fe1.example.com",
  :ipaddress => "192.168.4.2",
  :role => "frontend"
api_fqdn "chef.example.com"
