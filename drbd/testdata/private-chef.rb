topology "ha"
server "be1.chefha.test",
  :ipaddress => "192.168.4.1",
  :role => "backend",
  :bootstrap => true,
  :cluster_ipaddress => "10.1.2.10"
server "be2.chefha.test",
  :ipaddress => "192.168.4.6",
  :role => "backend",
  :cluster_ipaddress => "10.1.2.12"
backend_vip "be.chefha.test",
  :ipaddress => "192.168.4.7",
  :device => "eth0"
server "fe1.chefha.test",
  :ipaddress => "192.168.5.1",
  :role => "frontend"
