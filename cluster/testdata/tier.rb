# source: constructed from Chef's published tier example (one back end, front ends, no VIP)
topology "tier"
server "be.example.com",
  :ipaddress => "192.168.4.1",
  :role => "backend",
  :bootstrap => true
backend_vip "be.example.com",
  :ipaddress => "192.168.4.1"
server "fe1.example.com",
  :ipaddress => "192.168.4.2",
  :role => "frontend"
api_fqdn "chef.example.com"
